//go:build linux

package main

// cgroup v2: one tree; a cgroup's controllers are the ones its parent lists
// in cgroup.subtree_control (Documentation/admin-guide/cgroup-v2.rst,
// "Controlling Controllers").

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

type v2Cgroup struct {
	h    Host
	path string
	dir  string
}

func newV2(h Host, path string) *v2Cgroup {
	return &v2Cgroup{h: h, path: path, dir: filepath.Join(h.Root, path)}
}

func (c *v2Cgroup) Path() string            { return c.path }
func (c *v2Cgroup) Dirs() []string          { return []string{c.dir} }
func (c *v2Cgroup) File(name string) string { return filepath.Join(c.dir, name) }

// enableControllers is what a parent's cgroup.subtree_control gets so that
// its children have the lesson's controllers.
var enableControllers = "+" + strings.Join(controllers, " +")

// Create makes each missing level of the path. Before each mkdir, the
// parent's cgroup.subtree_control gets the controllers, as runc does: a
// controller reaches a cgroup only if every ancestor enabled it. Enabling
// one that is already on changes nothing, so the write is always made.
//
// Two situations this handles:
//   - nobody enabled the controllers at the root (no systemd: a bare VM, an
//     initramfs): we do, which the root is always allowed;
//   - the "no internal processes" rule: a cgroup other than the root that
//     has processes of its own cannot enable controllers for its children
//     (EBUSY). Our cgroups hang off the root under a parent of ours that
//     holds no process, so it never applies to them; we never move anyone
//     else's processes to make room.
func (c *v2Cgroup) Create() ([]op, error) {
	var levels []string
	for p := c.path; p != "/"; p = filepath.Dir(p) {
		levels = append([]string{p}, levels...)
	}
	var ops []op
	for _, l := range levels {
		dir := filepath.Join(c.h.Root, l)
		if _, err := os.Stat(dir); err == nil {
			continue
		}
		parent := filepath.Dir(dir)
		if err := checkAvailable(parent); err != nil {
			return ops, err
		}
		w := fileWrite{Path: filepath.Join(parent, "cgroup.subtree_control"), Value: enableControllers}
		if parent == c.h.Root {
			rememberRoot(parent)
		}
		if err := apply([]fileWrite{w}); err != nil {
			if errors.Is(err, unix.EBUSY) {
				err = fmt.Errorf("%w: %s has processes of its own, and cgroup v2 lets only the root cgroup hand controllers "+
					"to its children while it has processes (the \"no internal processes\" rule); run the lesson where "+
					"%s is the root of the cgroup tree (on the host, or in the VM)", err, parent, c.h.Root)
			}
			return ops, err
		}
		ops = append(ops, op{Write: w})
		if err := c.h.kernel().mkdir(dir); err != nil {
			return ops, fmt.Errorf("create cgroup %s: %w", dir, err)
		}
		ops = append(ops, op{Mkdir: dir})
	}
	return ops, nil
}

// checkAvailable fails when a controller cannot be enabled below parent,
// for instance because it is bound to a v1 hierarchy.
func checkAvailable(parent string) error {
	have, err := readString(filepath.Join(parent, "cgroup.controllers"))
	if err != nil {
		return err
	}
	for _, ctl := range controllers {
		if !strings.Contains(" "+have+" ", " "+ctl+" ") {
			return fmt.Errorf("the %s controller is not available in %s (cgroup.controllers: %q): a kernel without it, or it is in use by a cgroup v1 hierarchy", ctl, parent, have)
		}
	}
	return nil
}

func (c *v2Cgroup) Apply(pid int) error {
	return writeFile(c.File("cgroup.procs"), strconv.Itoa(pid))
}

// Writes: cpu.max is "$QUOTA $PERIOD" in one file; memory.swap.max 0 keeps
// the limit from spilling into swap, where there is swap accounting.
func (c *v2Cgroup) Writes(r Resources) []fileWrite {
	var ws []fileWrite
	if r.CPUQuota != 0 || r.CPUPeriod != 0 {
		quota := "max"
		if r.CPUQuota > 0 {
			quota = strconv.FormatInt(r.CPUQuota, 10)
		}
		period := r.CPUPeriod
		if period == 0 {
			period = 100000
		}
		ws = append(ws, fileWrite{Path: c.File("cpu.max"), Value: quota + " " + strconv.FormatInt(period, 10)})
	}
	if r.Memory != 0 {
		ws = append(ws,
			fileWrite{Path: c.File("memory.max"), Value: limitValue(r.Memory)},
			fileWrite{Path: c.File("memory.swap.max"), Value: "0", Optional: true})
	}
	if r.Pids != 0 {
		ws = append(ws, fileWrite{Path: c.File("pids.max"), Value: limitValue(r.Pids)})
	}
	return ws
}

// limitValue is a limit as v2 files and pids.max spell it: a number, or
// "max" for none (a negative value).
func limitValue(n int64) string {
	if n < 0 {
		return "max"
	}
	return strconv.FormatInt(n, 10)
}

func (c *v2Cgroup) Set(r Resources) error { return apply(c.Writes(r)) }

func (c *v2Cgroup) Stats() (Stats, error) {
	var st Stats
	r := statReader{}
	cpu := r.keyed(c.File("cpu.stat"))
	st.CPU = CPUStats{
		UsageUsec:     cpu["usage_usec"],
		Periods:       cpu["nr_periods"],
		Throttled:     cpu["nr_throttled"],
		ThrottledUsec: cpu["throttled_usec"],
	}
	events := r.keyed(c.File("memory.events"))
	st.Memory = MemoryStats{
		Usage:     r.number(c.File("memory.current")),
		Limit:     r.limit(c.File("memory.max")),
		Peak:      r.optionalNumber(c.File("memory.peak")),
		LimitHits: events["max"],
		OOMKills:  events["oom_kill"],
	}
	st.Pids = PidsStats{
		Current:   r.number(c.File("pids.current")),
		Limit:     r.limit(c.File("pids.max")),
		LimitHits: r.keyed(c.File("pids.events"))["max"],
	}
	return st, r.err
}

func (c *v2Cgroup) Procs() ([]int, error) { return readProcs(c.File("cgroup.procs")) }

// Kill uses cgroup.kill (Linux 5.14), which kills the whole subtree at once
// and so cannot be outrun by a process that forks; older kernels get a
// SIGKILL per process until none is left.
func (c *v2Cgroup) Kill() error {
	k := c.h.kernel()
	if _, err := os.Stat(c.File("cgroup.kill")); err == nil {
		if err := writeFile(c.File("cgroup.kill"), "1"); err != nil {
			return err
		}
	}
	return k.killProcs([]string{c.dir})
}

func (c *v2Cgroup) Destroy() error {
	if _, err := os.Stat(c.dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err := c.Kill(); err != nil {
		return err
	}
	if err := c.h.kernel().removeTree(c.dir); err != nil {
		return err
	}
	if filepath.Dir(c.dir) == c.h.Root {
		return restoreRoot(c.h.Root)
	}
	return nil
}

// rootBefore remembers, per cgroup root, what its cgroup.subtree_control
// held before this process first enabled controllers there, so that the
// root is left as it was found: on a machine without systemd nobody else
// enables them, and a lesson should not leave them on.
var rootBefore = struct {
	sync.Mutex
	m map[string]string
}{m: map[string]string{}}

func rememberRoot(root string) {
	rootBefore.Lock()
	defer rootBefore.Unlock()
	if _, ok := rootBefore.m[root]; !ok {
		was, _ := readString(filepath.Join(root, "cgroup.subtree_control"))
		rootBefore.m[root] = was
	}
}

// restoreRoot disables at the root the controllers we enabled there. While
// another cgroup below the root still hands one on to its children, the
// kernel refuses (EBUSY) and it stays on: that is someone else's, or ours
// and removed later.
func restoreRoot(root string) error {
	rootBefore.Lock()
	defer rootBefore.Unlock()
	was, ok := rootBefore.m[root]
	if !ok {
		return nil
	}
	var off []string
	for _, ctl := range controllers {
		if !slices.Contains(strings.Fields(was), ctl) {
			off = append(off, "-"+ctl)
		}
	}
	if len(off) > 0 {
		err := writeFile(filepath.Join(root, "cgroup.subtree_control"), strings.Join(off, " "))
		if errors.Is(err, unix.EBUSY) {
			return nil
		}
		if err != nil {
			return err
		}
	}
	delete(rootBefore.m, root)
	return nil
}
