//go:build linux

package specconv

import (
	"fmt"
	"path"
	"strings"

	"github.com/unboxlab/unbox/capstone/container"
)

// DefaultCgroupParent is where a container's cgroup goes when the spec has
// no linux.cgroupsPath (container.DefaultCgroupParent).
const DefaultCgroupParent = container.DefaultCgroupParent

// CgroupPath turns linux.cgroupsPath into a parent and a name.
//
// With systemd (--systemd-cgroup) the path is "slice:prefix:name", as runc
// takes it, and the cgroup is <slice path>/<prefix>-<name>.scope, the
// directory systemd itself would make. unbox-runtime does not ask systemd
// over D-Bus to create the scope (it writes the cgroup filesystem as with
// cgroupfs), so systemd does not know the unit: enough for the layout that
// containerd and the kubelet expect, not for systemd to manage it.
func CgroupPath(id, cgroupsPath string, systemd bool) (container.Cgroup, error) {
	if systemd {
		return systemdPath(id, cgroupsPath)
	}
	if cgroupsPath == "" {
		return container.Cgroup{Parent: DefaultCgroupParent, Name: id}, nil
	}
	p := path.Clean("/" + cgroupsPath)
	if p == "/" {
		return container.Cgroup{}, fmt.Errorf("linux.cgroupsPath %q: the root cgroup cannot be a container's", cgroupsPath)
	}
	return container.Cgroup{Parent: path.Dir(p), Name: path.Base(p)}, nil
}

func systemdPath(id, cgroupsPath string) (container.Cgroup, error) {
	if cgroupsPath == "" {
		cgroupsPath = "system.slice:unbox-runtime:" + id
	}
	parts := strings.Split(cgroupsPath, ":")
	if len(parts) != 3 {
		return container.Cgroup{}, fmt.Errorf("linux.cgroupsPath %q: with --systemd-cgroup it must be \"slice:prefix:name\"", cgroupsPath)
	}
	slice, prefix, name := parts[0], parts[1], parts[2]
	if slice == "" {
		slice = "system.slice"
	}
	parent, err := ExpandSlice(slice)
	if err != nil {
		return container.Cgroup{}, fmt.Errorf("linux.cgroupsPath %q: %w", cgroupsPath, err)
	}
	unit := name
	if !strings.HasSuffix(name, ".slice") {
		unit = name + ".scope"
		if prefix != "" {
			unit = prefix + "-" + unit
		}
	}
	return container.Cgroup{Parent: parent, Name: unit}, nil
}

// ExpandSlice is the path of a systemd slice: each dash is a level
// (systemd.slice(5)), so "machine-qemu.slice" is
// /machine.slice/machine-qemu.slice, and "-.slice" is the root.
func ExpandSlice(slice string) (string, error) {
	if !strings.HasSuffix(slice, ".slice") || strings.Contains(slice, "/") {
		return "", fmt.Errorf("slice %q: want a name ending in .slice, such as system.slice", slice)
	}
	if slice == "-.slice" {
		return "/", nil
	}
	base := strings.TrimSuffix(slice, ".slice")
	if strings.HasPrefix(base, "-") || strings.HasSuffix(base, "-") || strings.Contains(base, "--") {
		return "", fmt.Errorf("slice %q: dashes separate levels and cannot lead, trail or repeat", slice)
	}
	var p, prefix string
	for _, part := range strings.Split(base, "-") {
		if prefix != "" {
			prefix += "-"
		}
		prefix += part
		p += "/" + prefix + ".slice"
	}
	return p, nil
}
