//go:build linux

package cgroups

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// DefaultRoot is where cgroups are mounted on every distribution (systemd
// mounts them there, and cgroup-v2.rst uses it in its examples).
const DefaultRoot = "/sys/fs/cgroup"

// Mode is the layout of the cgroup filesystem at a root.
type Mode int

const (
	// Legacy is cgroup v1 alone: a tmpfs holding one hierarchy per
	// controller.
	Legacy Mode = iota + 1
	// Hybrid is cgroup v1 for the controllers plus a cgroup2 tree at
	// <root>/unified that holds none (systemd's "hybrid" setup). For
	// limits it is v1.
	Hybrid
	// Unified is cgroup v2: one tree, every controller in it.
	Unified
)

func (m Mode) String() string {
	switch m {
	case Legacy:
		return "cgroup v1 (legacy)"
	case Hybrid:
		return "cgroup v1 (hybrid)"
	case Unified:
		return "cgroup v2 (unified)"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// V2 reports whether limits are set through the cgroup v2 interface.
func (m Mode) V2() bool { return m == Unified }

// Probe is one statfs(2) that mode detection made: a path and its
// filesystem type (f_type), or the error. A lesson shows it as
// `stat -f -c %T <path>`.
type Probe struct {
	Path string
	Type int64
	Err  error
}

// fsTypeNames are f_type values as stat -f -c %T names them.
var fsTypeNames = map[int64]string{
	unix.CGROUP2_SUPER_MAGIC: "cgroup2fs",
	unix.CGROUP_SUPER_MAGIC:  "cgroupfs",
	unix.TMPFS_MAGIC:         "tmpfs",
}

// TypeName is the probe's result as `stat -f -c %T` prints it: "cgroup2fs",
// "tmpfs", or stat's error message.
func (p Probe) TypeName() string {
	if p.Err != nil {
		// stat(1) prints strerror(3), which is capitalised: "No such file
		// or directory".
		msg := p.Err.Error()
		msg = strings.ToUpper(msg[:1]) + msg[1:]
		return fmt.Sprintf("stat: cannot read file system information for '%s': %s", p.Path, msg)
	}
	if n, ok := fsTypeNames[p.Type]; ok {
		return n
	}
	return fmt.Sprintf("UNKNOWN (%#x)", p.Type)
}

// DetectMode tells the layouts apart as runc and containerd do, and is the
// one place in unbox that does: statfs(2) on the root says cgroup2 (v2) or
// tmpfs (a directory of v1 hierarchies, "hybrid" when <root>/unified is a
// cgroup2).
func DetectMode(root string) (Mode, error) {
	m, _, err := detectMode(root, statfsType)
	return m, err
}

// detectMode is DetectMode with statfs replaced by fsType (the tests give
// it fake filesystems), returning the probes it made.
func detectMode(root string, fsType func(path string) (int64, error)) (Mode, []Probe, error) {
	probe := func(p string) Probe {
		t, err := fsType(p)
		return Probe{Path: p, Type: t, Err: err}
	}
	probes := []Probe{probe(root)}
	if err := probes[0].Err; err != nil {
		return 0, probes, fmt.Errorf("statfs %s: %w: are cgroups mounted there?", root, err)
	}
	switch probes[0].Type {
	case unix.CGROUP2_SUPER_MAGIC:
		return Unified, probes, nil
	case unix.TMPFS_MAGIC:
		u := probe(filepath.Join(root, "unified"))
		probes = append(probes, u)
		if u.Err == nil && u.Type == unix.CGROUP2_SUPER_MAGIC {
			return Hybrid, probes, nil
		}
		return Legacy, probes, nil
	}
	return 0, probes, fmt.Errorf("%s is neither a cgroup2 filesystem nor a tmpfs of cgroup v1 hierarchies (f_type %#x): are cgroups mounted there?",
		root, probes[0].Type)
}

// statfsType is statfs(2)'s f_type.
func statfsType(path string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, err
	}
	return int64(st.Type), nil
}

// Host is a cgroup filesystem: where it is mounted, and its mode.
type Host struct {
	Root string
	Mode Mode
	// Probes are the statfs(2) calls [OpenHost] made to find Mode.
	Probes []Probe
	// Trace, if set, is called with every change a [Manager] of this host
	// makes, once made: the lessons print them as shell commands.
	Trace func(Op)

	// sys does what a cgroup filesystem does beyond reading and writing
	// files; nil is the kernel. The pure tests put a fake one here.
	sys kernel
}

// OpenHost detects the mode of the cgroup filesystem at root (normally
// [DefaultRoot]).
func OpenHost(root string) (*Host, error) {
	mode, probes, err := detectMode(root, statfsType)
	if err != nil {
		return nil, err
	}
	return &Host{Root: root, Mode: mode, Probes: probes}, nil
}

// UnifiedDir is the root of the cgroup2 tree: the root itself in Unified
// mode, <root>/unified in Hybrid, none in Legacy.
func (h *Host) UnifiedDir() (string, bool) {
	switch h.Mode {
	case Unified:
		return h.Root, true
	case Hybrid:
		return filepath.Join(h.Root, "unified"), true
	}
	return "", false
}

// Dir is the directory of the cgroup at path (below the hierarchy root, as
// /proc/<pid>/cgroup shows it) in the hierarchy that has controller: the
// one tree on v2, <root>/<controller>/<path> on v1 (where a hierarchy
// holding several controllers, "cpu,cpuacct", has a symlink named for each,
// as systemd makes). It checks only that the hierarchy exists.
func (h *Host) Dir(controller, path string) (string, error) {
	if h.Mode.V2() {
		return filepath.Join(h.Root, path), nil
	}
	mount := filepath.Join(h.Root, controller)
	if _, err := os.Stat(filepath.Join(mount, "cgroup.procs")); err != nil {
		return "", fmt.Errorf("no cgroup v1 %s hierarchy at %s (%v): mount one there, as systemd does "+
			"(mount -t cgroup -o %s cgroup %s), or boot with cgroup v2", controller, mount, err, controller, mount)
	}
	return filepath.Join(mount, path), nil
}

// Check fails, saying why, unless controllers can be used here: on v2,
// listed in the root's cgroup.controllers (not bound to a v1 hierarchy,
// built into the kernel); on v1, each one's hierarchy mounted.
func (h *Host) Check(controllers ...string) error {
	if err := checkControllers(controllers); err != nil {
		return err
	}
	if h.Mode.V2() {
		return h.checkAvailable(h.Root, controllers)
	}
	for _, ctl := range controllers {
		for _, hier := range v1Hierarchies(ctl) {
			if _, err := h.Dir(hier, "/"); err != nil {
				return err
			}
		}
	}
	return nil
}
