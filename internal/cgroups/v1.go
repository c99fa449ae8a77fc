//go:build linux

package cgroups

// cgroup v1: one hierarchy per controller, each mounted at
// <root>/<controller> (Documentation/admin-guide/cgroup-v1/cgroups.rst). A
// cgroup is a directory of the same name in every hierarchy it uses, and a
// process is moved into each one separately. Every cgroup of a hierarchy
// has its controller: there is nothing to enable. One file per controller:
// v1_cpu.go (cpu and cpuacct), v1_cpuset.go, v1_memory.go, v1_pids.go,
// v1_devices.go, v1_freezer.go.

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

type v1Manager struct {
	h *Host
	c Config
	// hiers are the hierarchies the cgroup uses, in Config order, and
	// dirs the cgroup's directory in each. Hierarchies mounted together
	// ("cpu,cpuacct", with a symlink named for each) share one directory,
	// reached through the first one's name.
	hiers []string
	dirs  map[string]string
	// unique are the distinct directories, and mounts the hierarchy root
	// each is in.
	unique, mounts []string
}

func newV1(h *Host, c Config) (*v1Manager, error) {
	m := &v1Manager{h: h, c: c, dirs: map[string]string{}}
	seen := map[string]string{} // resolved hierarchy root -> its directory for this cgroup
	for _, ctl := range c.Controllers {
		for _, hier := range v1Hierarchies(ctl) {
			if slices.Contains(m.hiers, hier) {
				continue
			}
			dir, err := h.Dir(hier, c.Path())
			if err != nil {
				return nil, err
			}
			mount := filepath.Join(h.Root, hier)
			real, err := filepath.EvalSymlinks(mount)
			if err != nil {
				return nil, fmt.Errorf("resolve %s: %w", mount, err)
			}
			m.hiers = append(m.hiers, hier)
			if shared, ok := seen[real]; ok {
				m.dirs[hier] = shared
				continue
			}
			seen[real] = dir
			m.dirs[hier] = dir
			m.unique = append(m.unique, dir)
			m.mounts = append(m.mounts, mount)
		}
	}
	return m, nil
}

func (m *v1Manager) Path() string   { return m.c.Path() }
func (m *v1Manager) Dirs() []string { return m.unique }

// File finds the hierarchy by the file's prefix: memory.failcnt is in the
// memory hierarchy, cpuacct.usage in cpuacct's.
func (m *v1Manager) File(name string) string {
	ctl, _, _ := strings.Cut(name, ".")
	if dir, ok := m.dirs[ctl]; ok {
		return filepath.Join(dir, name)
	}
	return filepath.Join(m.procsDir(), name)
}

// procsDir is where cgroup.procs is read: every hierarchy has one, and a
// process we put here is in all of them; the memory one is where what it
// is charged shows.
func (m *v1Manager) procsDir() string {
	if d, ok := m.dirs["memory"]; ok {
		return d
	}
	return m.unique[0]
}

func (m *v1Manager) has(hier string) bool { return slices.Contains(m.hiers, hier) }

// Create makes the cgroup's directory, and any missing parent, in each
// hierarchy; a new cpuset cgroup gets its parent's CPUs and memory nodes
// (v1_cpuset.go). On failure it removes what it made.
func (m *v1Manager) Create() error {
	var made []string
	undo := func(err error) error {
		for _, d := range slices.Backward(made) {
			_ = m.h.rmdir(d)
		}
		return err
	}
	for i, dir := range m.unique {
		var missing []string
		for p := dir; p != m.mounts[i]; p = filepath.Dir(p) {
			if exists(p) {
				break
			}
			missing = append(missing, p)
		}
		slices.Reverse(missing)
		for _, p := range missing {
			if err := m.h.mkdir(p); err != nil {
				return undo(err)
			}
			made = append(made, p)
			if m.dirs["cpuset"] == dir {
				if err := initCpuset(m.h, p); err != nil {
					return undo(err)
				}
			}
		}
	}
	return nil
}

// Apply writes the PID into cgroup.procs in each hierarchy.
func (m *v1Manager) Apply(pid int) error {
	for _, dir := range m.unique {
		if err := m.h.write(filepath.Join(dir, "cgroup.procs"), fmt.Sprint(pid)); err != nil {
			return err
		}
	}
	return nil
}

// v1Subsystem is one hierarchy's part of Set and Stats.
type v1Subsystem struct {
	name  string
	set   func(m *v1Manager, dir string, r Resources) error
	stats func(rd *reader, dir string, st *Stats)
}

// v1Subsystems, in the order Set writes them.
var v1Subsystems = []v1Subsystem{v1CPU, v1CPUAcct, v1Cpuset, v1Memory, v1Pids, v1Devices, v1Freezer}

func (m *v1Manager) Set(r Resources) error {
	if err := checkSet(m.Path(), m.c.Controllers, r); err != nil {
		return err
	}
	for _, s := range v1Subsystems {
		if m.has(s.name) && s.set != nil {
			if err := s.set(m, m.dirs[s.name], r); err != nil {
				return err
			}
		}
	}
	return nil
}

func (m *v1Manager) Stats() (Stats, error) {
	var st Stats
	rd := &reader{}
	for _, s := range v1Subsystems {
		if m.has(s.name) && s.stats != nil {
			s.stats(rd, m.dirs[s.name], &st)
		}
	}
	return st, rd.err
}

func (m *v1Manager) Procs() ([]int, error) {
	return readProcs(filepath.Join(m.procsDir(), "cgroup.procs"))
}

func (m *v1Manager) Freeze() error { return m.freeze("FROZEN") }
func (m *v1Manager) Thaw() error   { return m.freeze("THAWED") }

// Kill sends SIGKILL to each process until none is left. v1 has no
// cgroup.kill: with the freezer, the cgroup is frozen while its processes
// are signalled, so that none can fork in between (as runc does); without
// it, a process forked meanwhile is found and killed on the next pass.
func (m *v1Manager) Kill() error {
	procs := filepath.Join(m.procsDir(), "cgroup.procs")
	if len(procsBelow(m.unique)) == 0 {
		return nil // nothing to kill, and nothing inside can fork
	}
	if m.has("freezer") {
		return m.h.frozenKill(m, m.unique, procs)
	}
	return m.h.killAll(m.unique, procs, true)
}

func (m *v1Manager) Destroy() error {
	if err := m.Kill(); err != nil {
		return err
	}
	var errs []error
	for _, dir := range m.unique {
		if err := m.h.removeTree(dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
