//go:build linux

package cgroups

// cgroup v2: one tree (Documentation/admin-guide/cgroup-v2.rst). A cgroup
// has a controller only if its parent lists it in cgroup.subtree_control,
// and so on up to the root ("Controlling Controllers"). The controllers'
// files are in v2_cpu.go, v2_cpuset.go, v2_memory.go and v2_pids.go; the
// device rules, a BPF program, in v2_devices.go.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

type v2Manager struct {
	h   *Host
	c   Config
	dir string
}

func newV2(h *Host, c Config) *v2Manager {
	return &v2Manager{h: h, c: c, dir: filepath.Join(h.Root, c.Path())}
}

func (m *v2Manager) Path() string            { return m.c.Path() }
func (m *v2Manager) Dirs() []string          { return []string{m.dir} }
func (m *v2Manager) File(name string) string { return filepath.Join(m.dir, name) }

// v2Subsystem is one controller's part of Set and Stats.
type v2Subsystem struct {
	name  string
	set   func(m *v2Manager, r Resources) error
	stats func(m *v2Manager, rd *reader, st *Stats)
}

// v2Subsystems, in the order Set writes them.
var v2Subsystems = []v2Subsystem{v2CPU, v2Cpuset, v2Memory, v2Pids, v2Devices}

// enabled are the controllers a parent's cgroup.subtree_control gets:
// freezing is part of the v2 core, and device access a BPF program, not
// controllers.
func (m *v2Manager) enabled() []string {
	var out []string
	for _, c := range m.c.Controllers {
		if !v2Core(c) && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

// Create makes each missing level of the path, root first. Before each
// mkdir, the parent's cgroup.subtree_control gets "+cpu +memory ...", as
// runc does: a controller reaches a cgroup only if every ancestor enabled
// it. Enabling one that is on already changes nothing, so the write is
// made whether or not it is needed; that covers a machine where nobody
// enabled them at the root (no systemd: a bare VM, an initramfs, many CI
// containers), which the root itself is always allowed to do.
//
// A cgroup other than the root that holds processes of its own cannot
// enable controllers for its children: EBUSY, the "no internal processes"
// rule. Create never moves anyone's processes to make room; the error says
// to choose another parent (see the package doc).
func (m *v2Manager) Create() error {
	var levels []string
	for p := m.c.Path(); p != "/"; p = filepath.Dir(p) {
		levels = append(levels, p)
	}
	slices.Reverse(levels)
	ctls := m.enabled()
	var made []string
	undo := func(err error) error {
		for _, d := range slices.Backward(made) {
			_ = m.h.rmdir(d)
		}
		return err
	}
	for _, l := range levels {
		dir := filepath.Join(m.h.Root, l)
		if exists(dir) {
			continue
		}
		parent := filepath.Dir(dir)
		if err := m.h.checkAvailable(parent, ctls); err != nil {
			return undo(err)
		}
		if len(ctls) > 0 {
			if parent == m.h.Root {
				rememberRoot(parent, ctls)
			}
			if err := m.h.write(filepath.Join(parent, "cgroup.subtree_control"), "+"+strings.Join(ctls, " +")); err != nil {
				if errors.Is(err, unix.EBUSY) {
					err = fmt.Errorf("%w: %s holds processes of its own, and cgroup v2 lets only the root hand controllers "+
						"to its children while it does (the \"no internal processes\" rule): choose a parent that holds no "+
						"process, such as a new cgroup below %s", err, parent, m.h.Root)
				}
				return undo(err)
			}
		}
		if err := m.h.mkdir(dir); err != nil {
			return undo(err)
		}
		made = append(made, dir)
	}
	return nil
}

// v2Core reports whether what a v1 controller does is, on v2, in every
// cgroup without enabling anything: freezing (cgroup.freeze) and device
// access (BPF programs).
func v2Core(ctl string) bool { return ctl == "freezer" || ctl == "devices" }

// checkAvailable fails when a controller cannot be enabled below parent:
// not built into the kernel, bound to a v1 hierarchy, or not enabled
// further up.
func (h *Host) checkAvailable(parent string, ctls []string) error {
	have, err := readString(filepath.Join(parent, "cgroup.controllers"))
	if err != nil {
		return fmt.Errorf("read %s: %w", filepath.Join(parent, "cgroup.controllers"), err)
	}
	for _, ctl := range ctls {
		if !v2Core(ctl) && !slices.Contains(strings.Fields(have), ctl) {
			return fmt.Errorf("the %s controller is not available in %s (cgroup.controllers: %q): the kernel lacks it, "+
				"a cgroup v1 hierarchy holds it, or a cgroup above did not enable it", ctl, parent, have)
		}
	}
	return nil
}

func (m *v2Manager) Apply(pid int) error {
	return m.h.write(m.File("cgroup.procs"), fmt.Sprint(pid))
}

func (m *v2Manager) has(ctl string) bool { return slices.Contains(m.c.Controllers, ctl) }

func (m *v2Manager) Set(r Resources) error {
	if err := checkSet(m.Path(), m.c.Controllers, r); err != nil {
		return err
	}
	for _, s := range v2Subsystems {
		if m.has(s.name) {
			if err := s.set(m, r); err != nil {
				return err
			}
		}
	}
	return nil
}

func (m *v2Manager) Stats() (Stats, error) {
	var st Stats
	rd := &reader{}
	for _, s := range v2Subsystems {
		if m.has(s.name) && s.stats != nil {
			s.stats(m, rd, &st)
		}
	}
	return st, rd.err
}

func (m *v2Manager) Procs() ([]int, error) { return readProcs(m.File("cgroup.procs")) }

// Freeze writes cgroup.freeze (Linux 5.2+) and waits until cgroup.events
// says "frozen 1": the write starts the freezing, which ends when every
// task has stopped (cgroup-v2.rst, "Core Interface Files").
func (m *v2Manager) Freeze() error { return m.freeze("1") }
func (m *v2Manager) Thaw() error   { return m.freeze("0") }

func (m *v2Manager) freeze(v string) error {
	f := m.File("cgroup.freeze")
	if !exists(f) {
		return fmt.Errorf("no %s: freezing a v2 cgroup needs Linux 5.2+", f)
	}
	if err := m.h.write(f, v); err != nil {
		return err
	}
	return waitFor(m.File("cgroup.events"), func(text string) bool {
		ev, err := parseKeyed(text)
		return err == nil && fmt.Sprint(ev["frozen"]) == v
	})
}

// waitFor polls path until done accepts its text.
func waitFor(path string, done func(text string) bool) error {
	deadline := time.Now().Add(killTimeout)
	for {
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
		if done(string(b)) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s still reads %q after %v", path, strings.TrimSpace(string(b)), killTimeout)
		}
		time.Sleep(pollEvery)
	}
}

// Kill writes cgroup.kill (Linux 5.14+), which kills the whole subtree at
// once, processes forked meanwhile included, and waits until they have
// left. An empty subtree is left alone. Older kernels get one SIGKILL per process, with the cgroup frozen
// meanwhile where they can freeze (5.2+), so that nothing forks between
// reading cgroup.procs and signalling.
func (m *v2Manager) Kill() error {
	if len(procsBelow(m.Dirs())) == 0 {
		return nil // nothing to kill, and nothing inside can fork
	}
	procs := m.File("cgroup.procs")
	if exists(m.File("cgroup.kill")) {
		if err := m.h.write(m.File("cgroup.kill"), "1"); err != nil {
			return err
		}
		return m.h.killAll(m.Dirs(), procs, false)
	}
	if exists(m.File("cgroup.freeze")) {
		return m.h.frozenKill(m, m.Dirs(), procs)
	}
	return m.h.killAll(m.Dirs(), procs, true)
}

// frozenKill freezes the cgroup, sends SIGKILL to each process, thaws it
// (a frozen process dies only once it runs again) and waits until the
// processes have left: runc's signalAllProcesses.
func (h *Host) frozenKill(f Manager, dirs []string, shown string) error {
	if err := f.Freeze(); err != nil {
		return err
	}
	var pids []int
	for _, pid := range procsBelow(dirs) {
		if err := h.kernel().kill(pid); err != nil && !errors.Is(err, unix.ESRCH) {
			_ = f.Thaw()
			return fmt.Errorf("kill -KILL %d (in %s): %w", pid, shown, err)
		}
		pids = append(pids, pid)
	}
	if len(pids) > 0 {
		h.emit(Op{Kind: OpKill, Path: shown, PIDs: pids})
	}
	if err := f.Thaw(); err != nil {
		return err
	}
	return h.killAll(dirs, shown, true)
}

func (m *v2Manager) Destroy() error {
	if err := m.Kill(); err != nil {
		return err
	}
	if err := m.h.removeTree(m.dir); err != nil {
		return err
	}
	if filepath.Dir(m.dir) == m.h.Root {
		return m.h.restoreRoot()
	}
	return nil
}

// cloneDir is the directory a process can be cloned into.
func (m *v2Manager) cloneDir() string { return m.dir }

// rootBefore remembers, per cgroup root, what its cgroup.subtree_control
// held before this process first enabled controllers there, and which it
// enabled, so that the root is left as it was found: on a machine without
// systemd nobody else enables them, and a lesson or a test should not
// leave them on.
var rootBefore = struct {
	sync.Mutex
	m map[string]*rootState
}{m: map[string]*rootState{}}

type rootState struct {
	was  []string // enabled before we came
	ours []string // enabled by us since
}

func rememberRoot(root string, ctls []string) {
	rootBefore.Lock()
	defer rootBefore.Unlock()
	st, ok := rootBefore.m[root]
	if !ok {
		was, _ := readString(filepath.Join(root, "cgroup.subtree_control"))
		st = &rootState{was: strings.Fields(was)}
		rootBefore.m[root] = st
	}
	for _, c := range ctls {
		if !slices.Contains(st.was, c) && !slices.Contains(st.ours, c) {
			st.ours = append(st.ours, c)
		}
	}
}

// restoreRoot disables at the root the controllers this process enabled
// there. It is called when a cgroup of ours right below the root goes.
// While another cgroup below the root still hands one of them on to its
// children, the kernel refuses (EBUSY) and it stays on: that cgroup is
// someone else's, or ours and removed later (which calls this again).
func (h *Host) restoreRoot() error {
	rootBefore.Lock()
	defer rootBefore.Unlock()
	st, ok := rootBefore.m[h.Root]
	if !ok {
		return nil
	}
	if len(st.ours) > 0 {
		off := "-" + strings.Join(st.ours, " -")
		err := h.write(filepath.Join(h.Root, "cgroup.subtree_control"), off)
		if errors.Is(err, unix.EBUSY) {
			return nil
		}
		if err != nil {
			return err
		}
	}
	delete(rootBefore.m, h.Root)
	return nil
}
