//go:build linux

package main

// A cgroup with limits, behind one small interface, in the spirit of
// opencontainers/cgroups' Manager: the v1 implementation is in cgroup_v1.go,
// the v2 one in cgroup_v2.go, and openHost picks one, in one place, from a
// statfs(2) of /sys/fs/cgroup.
//
// The root directory is a field, not a constant, so that the pure tests run
// the same code against fake v1 and v2 trees in a temporary directory.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// cgroupRoot is where every distribution mounts cgroups (systemd, and the
// kernel's own Documentation/admin-guide/cgroup-v2.rst, use it).
const cgroupRoot = "/sys/fs/cgroup"

// Mode is the layout of the cgroup filesystem under the root.
type Mode int

const (
	// Legacy is cgroup v1 alone: one hierarchy per controller, each a
	// directory under the root.
	Legacy Mode = iota + 1
	// Hybrid is cgroup v1 for the controllers, plus a cgroup2 tree at
	// <root>/unified that holds no controller (systemd's "hybrid" setup).
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

// V2 reports whether the controllers are driven through the cgroup v2
// interface.
func (m Mode) V2() bool { return m == Unified }

// detectMode is how runc and containerd tell the layouts apart: statfs(2) on
// the root says cgroup2 (v2), or tmpfs (a directory of v1 hierarchies, with
// perhaps a cgroup2 tree at "unified"). fsType returns statfs's f_type; tests
// replace it.
func detectMode(root string, fsType func(path string) (int64, error)) (Mode, error) {
	t, err := fsType(root)
	if err != nil {
		return 0, fmt.Errorf("statfs %s: %w", root, err)
	}
	switch t {
	case unix.CGROUP2_SUPER_MAGIC:
		return Unified, nil
	case unix.TMPFS_MAGIC:
		if u, err := fsType(filepath.Join(root, "unified")); err == nil && u == unix.CGROUP2_SUPER_MAGIC {
			return Hybrid, nil
		}
		return Legacy, nil
	}
	return 0, fmt.Errorf("%s is neither a cgroup2 filesystem nor a tmpfs of cgroup v1 hierarchies (f_type %#x): are cgroups mounted?", root, t)
}

// statfsType is the real fsType: statfs(2)'s f_type.
func statfsType(path string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, err
	}
	return int64(st.Type), nil
}

// Host is the cgroup filesystem of this machine: where it is and its mode.
type Host struct {
	Root string
	Mode Mode
	// sys does what reading and writing files cannot; nil is the real
	// kernel. The pure tests put a fake kernel here.
	sys *kernel
}

// kernel is what a cgroup does besides reading and writing its files.
type kernel struct {
	// mkdir creates a cgroup; the kernel fills it with interface files.
	mkdir func(path string) error
	// rmdir removes an empty cgroup.
	rmdir func(path string) error
	kill  func(pid int) error
}

var realKernel = &kernel{
	mkdir: func(path string) error { return os.Mkdir(path, 0o755) },
	rmdir: unix.Rmdir,
	kill:  func(pid int) error { return unix.Kill(pid, unix.SIGKILL) },
}

func (h Host) kernel() *kernel {
	if h.sys == nil {
		return realKernel
	}
	return h.sys
}

// openHost finds the mode of the cgroup filesystem at root.
func openHost(root string) (Host, error) {
	mode, err := detectMode(root, statfsType)
	if err != nil {
		return Host{}, err
	}
	return Host{Root: root, Mode: mode}, nil
}

// check fails unless the controllers the lesson uses are there.
func (h Host) check() error {
	if h.Mode.V2() {
		return checkAvailable(h.Root)
	}
	for _, ctl := range v1Hierarchies {
		if _, err := os.Stat(filepath.Join(h.Root, ctl, "cgroup.procs")); err != nil {
			return fmt.Errorf("no cgroup v1 %s hierarchy at %s", ctl, filepath.Join(h.Root, ctl))
		}
	}
	return nil
}

// Resources are the limits of a cgroup, in the units of `docker run`'s
// flags. A zero field is left as it is.
type Resources struct {
	CPUQuota  int64 // µs of CPU time per period (--cpu-quota)
	CPUPeriod int64 // µs (--cpu-period)
	Memory    int64 // bytes (--memory)
	Pids      int64 // tasks, processes and threads alike (--pids-limit)
}

// Stats are the kernel's counters for a cgroup, the same fields in either
// mode (each field's comment names the v2 and v1 files).
type Stats struct {
	CPU    CPUStats
	Memory MemoryStats
	Pids   PidsStats
}

// CPUStats come from cpu.stat (v2), or cpuacct.usage and cpu.stat (v1).
type CPUStats struct {
	UsageUsec     uint64 // usage_usec; cpuacct.usage (ns)
	Periods       uint64 // nr_periods: enforcement periods with runnable tasks
	Throttled     uint64 // nr_throttled: periods in which the quota ran out
	ThrottledUsec uint64 // throttled_usec; throttled_time (ns)
}

// MemoryStats come from memory.* files.
type MemoryStats struct {
	Usage uint64 // memory.current; memory.usage_in_bytes
	Limit uint64 // memory.max; memory.limit_in_bytes (0: no limit)
	Peak  uint64 // memory.peak (Linux 5.19+); memory.max_usage_in_bytes
	// LimitHits counts how often usage reached the limit and the kernel had
	// to reclaim: memory.events "max"; memory.failcnt (per failed charge).
	LimitHits uint64
	// OOMKills counts processes the OOM killer killed in this cgroup:
	// memory.events "oom_kill"; memory.oom_control "oom_kill" (Linux 4.13+).
	OOMKills uint64
}

// PidsStats come from pids.* files, the same in v1 and v2.
type PidsStats struct {
	Current   uint64 // pids.current
	Limit     uint64 // pids.max (0: no limit)
	LimitHits uint64 // pids.events "max": forks refused at the limit
}

// Cgroup is one cgroup with limits. [Host.Cgroup] names one; Create makes it;
// Destroy removes it.
type Cgroup interface {
	// Path is the cgroup's name below the root of its hierarchy, as
	// /proc/<pid>/cgroup shows it: "/unbox-cgroups-42/hog".
	Path() string
	// Dirs are its directories: one in v2, one per hierarchy in v1.
	Dirs() []string
	// File is the path of one of its interface files, such as
	// "memory.events" or "cpu.stat".
	File(name string) string
	// Create makes the cgroup and any missing parent, and returns what it
	// did, in order, for the lesson to print.
	Create() ([]op, error)
	// Apply moves a process, with all its threads, into the cgroup.
	Apply(pid int) error
	// Writes are the file writes that set the limits r, in order: data
	// first, so that the lesson can print them and the tests check them.
	Writes(r Resources) []fileWrite
	// Set writes the limits r.
	Set(r Resources) error
	Stats() (Stats, error)
	// Procs lists the processes in the cgroup (cgroup.procs).
	Procs() ([]int, error)
	// Kill sends SIGKILL to every process in the cgroup and the cgroups
	// below it, and waits until they have left.
	Kill() error
	// Destroy kills what is left inside, then removes the cgroup and any
	// cgroup below it, deepest first: rmdir(2) refuses a cgroup that still
	// has processes or children (EBUSY).
	Destroy() error
}

// controllers are the ones this lesson limits. (cpuacct, v1's CPU usage
// counter, is a hierarchy of its own on some v1 hosts and mounted with cpu on
// others; in v2 its counters are part of cpu.stat.)
var controllers = []string{"cpu", "memory", "pids"}

// Cgroup names the cgroup at path below the root ("/unbox-cgroups-42/hog")
// without touching it. It is the one place where the mode picks an
// implementation.
func (h Host) Cgroup(path string) (Cgroup, error) {
	if !strings.HasPrefix(path, "/") || filepath.Clean(path) != path || path == "/" {
		return nil, fmt.Errorf("cgroup path %q: want an absolute, clean path below the root", path)
	}
	if h.Mode.V2() {
		return newV2(h, path), nil
	}
	return newV1(h, path)
}

// Create names the cgroup at path and makes it.
func (h Host) Create(path string) (Cgroup, []op, error) {
	cg, err := h.Cgroup(path)
	if err != nil {
		return nil, nil, err
	}
	ops, err := cg.Create()
	return cg, ops, err
}

// op is one thing done to create a cgroup: a directory made or a value
// written.
type op struct {
	Mkdir string
	Write fileWrite
}

// fileWrite is one write of a value into a cgroup interface file.
type fileWrite struct {
	Path  string
	Value string
	// Optional writes are skipped when the file does not exist (memory.swap.max
	// without swap accounting, for instance).
	Optional bool
}

// Shell is the write as a person would type it.
func (w fileWrite) Shell() string { return fmt.Sprintf("echo %s > %s", quoteIfNeeded(w.Value), w.Path) }

func quoteIfNeeded(s string) string {
	if strings.ContainsAny(s, " +") {
		return "'" + s + "'"
	}
	return s
}

// apply performs writes in order. A missing file gets a hint: in v2 it is
// usually a controller the parent has not enabled.
func apply(writes []fileWrite) error {
	for _, w := range writes {
		if _, err := os.Stat(w.Path); err != nil {
			switch {
			case !errors.Is(err, os.ErrNotExist):
				return fmt.Errorf("write %s: %w", w.Path, err)
			case w.Optional:
				continue
			}
			ctl, _, _ := strings.Cut(filepath.Base(w.Path), ".")
			return fmt.Errorf("write %s: no such file: is the %s controller enabled for this cgroup?", w.Path, ctl)
		}
		if err := writeFile(w.Path, w.Value); err != nil {
			return err
		}
	}
	return nil
}

// writeFile writes value to an existing cgroup file in one write(2), which
// is how the kernel wants it (a short write is a separate command).
func writeFile(path, value string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.WriteString(value); err != nil {
		f.Close()
		return fmt.Errorf("write %q to %s: %w", value, path, err)
	}
	return f.Close()
}

func readString(path string) (string, error) {
	b, err := os.ReadFile(path)
	return strings.TrimSpace(string(b)), err
}

// mkdirAll creates path and any missing parents below stop (which must
// exist) with mkdir, returning the directories it created, outermost first.
func mkdirAll(mkdir func(string) error, stop, path string) ([]string, error) {
	var missing []string
	for p := path; p != stop && len(p) > len(stop); p = filepath.Dir(p) {
		if _, err := os.Stat(p); err == nil {
			break
		}
		missing = append(missing, p)
	}
	slices.Reverse(missing)
	for _, p := range missing {
		if err := mkdir(p); err != nil && !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("create cgroup %s: %w", p, err)
		}
	}
	return missing, nil
}

// killProcs sends SIGKILL to every process listed in the cgroup.procs files
// of dirs and the cgroups below them, until none is left. The processes are
// ours: nothing else is in a cgroup we made.
func (k *kernel) killProcs(dirs []string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		var left []int
		for _, d := range dirs {
			_ = walkCgroups(d, func(dir string) error {
				pids, _ := readProcs(filepath.Join(dir, "cgroup.procs"))
				left = append(left, pids...)
				return nil
			})
		}
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes %v are still in %s after SIGKILL", left, strings.Join(dirs, ", "))
		}
		for _, pid := range left {
			_ = k.kill(pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// walkCgroups calls fn for dir and every cgroup below it, deepest first.
func walkCgroups(dir string, fn func(dir string) error) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := walkCgroups(filepath.Join(dir, e.Name()), fn); err != nil {
				return err
			}
		}
	}
	return fn(dir)
}

// removeTree removes dir and the cgroups below it, deepest first. A cgroup
// directory is removed with rmdir(2) alone: its files are not real files.
// Processes that were just killed leave their cgroup a moment later, so
// EBUSY is retried for a while.
func (k *kernel) removeTree(dir string) error {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return walkCgroups(dir, func(d string) error {
		deadline := time.Now().Add(5 * time.Second)
		for {
			err := k.rmdir(d)
			switch {
			case err == nil || errors.Is(err, unix.ENOENT):
				return nil
			case errors.Is(err, unix.EBUSY) && time.Now().Before(deadline):
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return fmt.Errorf("rmdir %s: %w", d, err)
		}
	})
}

// readProcs reads a cgroup.procs file.
func readProcs(path string) ([]int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parsePids(string(b))
}

// errno names a syscall error as the man pages do: EBUSY, EAGAIN.
func errno(err error) string {
	var e syscall.Errno
	if errors.As(err, &e) {
		if name := unix.ErrnoName(e); name != "" {
			return name
		}
	}
	return ""
}
