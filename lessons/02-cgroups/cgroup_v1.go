//go:build linux

package main

// cgroup v1: one hierarchy per controller, each mounted at
// <root>/<controller> (Documentation/admin-guide/cgroup-v1/). A cgroup is a
// directory of the same name in every hierarchy it uses, and a process is
// moved into each one separately.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// v1Hierarchies are the hierarchies a cgroup of this lesson spans: cpu for
// the quota and throttling counters, cpuacct for CPU usage, memory, pids.
var v1Hierarchies = []string{"cpu", "cpuacct", "memory", "pids"}

type v1Cgroup struct {
	h    Host
	path string
	// dirs maps a controller to its directory for this cgroup. Controllers
	// mounted together (cpu,cpuacct on many hosts, with symlinks named for
	// each) share one.
	dirs map[string]string
	// unique are the distinct directories, in v1Hierarchies order, and
	// mounts the hierarchies they are in.
	unique, mounts []string
}

func newV1(h Host, path string) (*v1Cgroup, error) {
	c := &v1Cgroup{h: h, path: path, dirs: map[string]string{}}
	for _, ctl := range v1Hierarchies {
		mount := filepath.Join(h.Root, ctl)
		// /sys/fs/cgroup/cpu -> cpu,cpuacct where they are mounted together.
		real, err := filepath.EvalSymlinks(mount)
		if err != nil {
			return nil, fmt.Errorf("no cgroup v1 %s hierarchy at %s: %w", ctl, mount, err)
		}
		dir := filepath.Join(real, path)
		c.dirs[ctl] = dir
		if !slices.Contains(c.unique, dir) {
			c.unique = append(c.unique, dir)
			c.mounts = append(c.mounts, real)
		}
	}
	return c, nil
}

func (c *v1Cgroup) Path() string   { return c.path }
func (c *v1Cgroup) Dirs() []string { return c.unique }

// File finds the hierarchy by the file's prefix: memory.failcnt is in the
// memory hierarchy. cgroup.procs and the like are in every one; File names
// the memory one.
func (c *v1Cgroup) File(name string) string {
	ctl, _, _ := strings.Cut(name, ".")
	dir, ok := c.dirs[ctl]
	if !ok {
		dir = c.dirs["memory"]
	}
	return filepath.Join(dir, name)
}

// Create makes the cgroup's directory in each hierarchy. v1 has no
// subtree_control: every cgroup of a hierarchy has its controller.
func (c *v1Cgroup) Create() ([]op, error) {
	var ops []op
	for i, dir := range c.unique {
		made, err := mkdirAll(c.h.kernel().mkdir, c.mounts[i], dir)
		for _, m := range made {
			ops = append(ops, op{Mkdir: m})
		}
		if err != nil {
			return ops, err
		}
	}
	return ops, nil
}

// Apply writes the PID into cgroup.procs of each hierarchy.
func (c *v1Cgroup) Apply(pid int) error {
	for _, dir := range c.unique {
		if err := writeFile(filepath.Join(dir, "cgroup.procs"), strconv.Itoa(pid)); err != nil {
			return err
		}
	}
	return nil
}

// Writes: the CFS bandwidth controller takes quota and period in two files
// (Documentation/scheduler/sched-bwc.rst), period first.
//
// memory.memsw.limit_in_bytes (memory plus swap, docker's --memory-swap) is
// left alone: set to the memory limit it would forbid swap, but a charge
// then fails on the memsw counter first, and recent kernels count failures
// (memory.failcnt) only on the memory one, so the lesson could no longer
// show the limit being hit. This lesson's hosts have no swap.
func (c *v1Cgroup) Writes(r Resources) []fileWrite {
	var ws []fileWrite
	if r.CPUPeriod != 0 {
		ws = append(ws, fileWrite{Path: c.File("cpu.cfs_period_us"), Value: strconv.FormatInt(r.CPUPeriod, 10)})
	}
	if r.CPUQuota != 0 {
		ws = append(ws, fileWrite{Path: c.File("cpu.cfs_quota_us"), Value: strconv.FormatInt(r.CPUQuota, 10)})
	}
	if r.Memory != 0 {
		v := strconv.FormatInt(r.Memory, 10)
		if r.Memory < 0 {
			v = "-1"
		}
		ws = append(ws, fileWrite{Path: c.File("memory.limit_in_bytes"), Value: v})
	}
	if r.Pids != 0 {
		ws = append(ws, fileWrite{Path: c.File("pids.max"), Value: limitValue(r.Pids)})
	}
	return ws
}

func (c *v1Cgroup) Set(r Resources) error { return apply(c.Writes(r)) }

// v1Unlimited is at or above what memory.limit_in_bytes reads when no limit
// is set (PAGE_COUNTER_MAX pages, rounded: 9223372036854771712 on x86-64).
const v1Unlimited = 1 << 62

func (c *v1Cgroup) Stats() (Stats, error) {
	var st Stats
	r := statReader{}
	cpu := r.keyed(c.File("cpu.stat"))
	st.CPU = CPUStats{
		UsageUsec:     r.number(c.File("cpuacct.usage")) / 1000,
		Periods:       cpu["nr_periods"],
		Throttled:     cpu["nr_throttled"],
		ThrottledUsec: cpu["throttled_time"] / 1000,
	}
	limit := r.number(c.File("memory.limit_in_bytes"))
	if limit >= v1Unlimited {
		limit = 0
	}
	st.Memory = MemoryStats{
		Usage:     r.number(c.File("memory.usage_in_bytes")),
		Limit:     limit,
		Peak:      r.number(c.File("memory.max_usage_in_bytes")),
		LimitHits: r.number(c.File("memory.failcnt")),
		OOMKills:  r.keyed(c.File("memory.oom_control"))["oom_kill"],
	}
	st.Pids = PidsStats{
		Current:   r.number(c.File("pids.current")),
		Limit:     r.limit(c.File("pids.max")),
		LimitHits: r.keyed(c.File("pids.events"))["max"],
	}
	return st, r.err
}

func (c *v1Cgroup) Procs() ([]int, error) { return readProcs(c.File("cgroup.procs")) }

// Kill sends SIGKILL to each process until none is left. v1 has no
// cgroup.kill; a runtime freezes the cgroup first (the freezer hierarchy) so
// that nothing can fork meanwhile. The processes here stop forking on their
// own, and pids.max bounds how many there can be.
func (c *v1Cgroup) Kill() error { return c.h.kernel().killProcs(c.unique) }

func (c *v1Cgroup) Destroy() error {
	if err := c.Kill(); err != nil {
		return err
	}
	var errs []error
	for _, dir := range c.unique {
		if err := c.h.kernel().removeTree(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
