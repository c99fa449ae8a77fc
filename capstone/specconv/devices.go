//go:build linux

package specconv

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/unboxlab/unbox/internal/cgroups"
	"github.com/unboxlab/unbox/internal/mount"
)

// allow is an allow rule for the device cgroup; wild a wildcard number.
func allow(typ byte, major, minor int64, access string) cgroups.DeviceRule {
	return cgroups.DeviceRule{Allow: true, Type: typ, Major: major, Minor: minor, Access: access}
}

const wild = cgroups.DeviceWildcard

// DefaultDeviceRules are runc's default allow list (libcontainer/specconv's
// AllowedDevices), which every container gets after its own
// linux.resources.devices: mknod of any node (opening one is what the
// rules decide, and an image may carry device nodes in its layers); the
// nodes of mount.SafeDevices (null, zero, full, random, urandom, tty); the
// pseudo-terminals (/dev/pts/*, major 136) and their multiplexer
// /dev/ptmx; and /dev/net/tun, for userspace networking inside.
var DefaultDeviceRules = func() []cgroups.DeviceRule {
	rules := []cgroups.DeviceRule{allow('c', wild, wild, "m"), allow('b', wild, wild, "m")}
	for _, d := range mount.SafeDevices {
		rules = append(rules, allow('c', int64(d.Major), int64(d.Minor), "rwm"))
	}
	return append(rules,
		allow('c', 136, wild, "rwm"), // /dev/pts/*
		allow('c', 5, 2, "rwm"),      // /dev/ptmx
		allow('c', 10, 200, "rwm"),   // /dev/net/tun
	)
}()

// DeviceRules are the container's device cgroup rules, as runc makes
// them: linux.resources.devices, then [DefaultDeviceRules]. A node of
// linux.devices gets no rule of its own: the spec's devices are nodes to
// make, and access to them is for linux.resources.devices to give (as
// containerd and podman do, rule by node). The device controller
// (internal/cgroups, devices.go) reads the rules from a start of
// "everything denied", the last one deciding; runtime-spec
// config-linux.md, "Allowed Device List".
func DeviceRules(l *specs.Linux) ([]cgroups.DeviceRule, error) {
	var rules []cgroups.DeviceRule
	if l.Resources != nil {
		for i, d := range l.Resources.Devices {
			r := cgroups.DeviceRule{Allow: d.Allow, Type: 'a', Major: wild, Minor: wild, Access: d.Access}
			switch d.Type {
			case "", "a":
			case "c", "b":
				r.Type = d.Type[0]
			default:
				return nil, fmt.Errorf("linux.resources.devices[%d]: type %q: want a, c or b", i, d.Type)
			}
			if d.Major != nil {
				r.Major = *d.Major
			}
			if d.Minor != nil {
				r.Minor = *d.Minor
			}
			if d.Access == "" {
				return nil, fmt.Errorf("linux.resources.devices[%d]: access is empty: want some of r, w and m", i)
			}
			if err := r.Validate(); err != nil {
				return nil, fmt.Errorf("linux.resources.devices[%d]: %w", i, err)
			}
			rules = append(rules, r)
		}
	}
	return append(rules, DefaultDeviceRules...), nil
}
