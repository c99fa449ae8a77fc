//go:build linux

package main

// The checks of the exercises (exercises.go): each runs the learner's
// function on real cgroups and reads back what the kernel did.

import (
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"os"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/cgroups"
	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/reexec"
)

func init() {
	reexec.Register("ex-affinity", exAffinityChild)
	reexec.Register("ex-limit", exLimitChild)
}

var exercises = []kit.Exercise{
	{
		Title: "Into a cgroup by hand: cgroup.procs",
		Stub:  "exercises.go:joinCgroup",
		Check: checkJoin,
		Hint: "one cgroup.procs per directory in cg.Dirs(): one on v2, one per hierarchy on v1;\n" +
			"write the PID in decimal, as echo does.",
	},
	{
		Title: "A cpuset: what nproc sees",
		Stub:  "exercises.go:restrictCPUs",
		Check: checkCpuset,
		Hint:  "the limit is one file, cpuset.cpus, in the cgroup's cpuset directory: cg.File finds it.",
	},
	{
		Title: "The limit that holds: a parent's memory.max",
		Stub:  "exercises.go:effectiveMemoryLimit",
		Check: checkEffectiveLimit,
		Hint: "the child's own cgroup allows more than its parent does: walk up the path from\n" +
			"/proc/self/cgroup to the root, and keep the smallest limit on the way.",
	},
}

// exerciseCgroup makes <unbox-cgex-pid>/name with controllers, removed
// however the check ends.
func exerciseCgroup(s *kit.Session, h *cgroups.Host, name string, controllers ...string) (top, cg cgroups.Manager, err error) {
	parent := kit.UniqueName("cgex")
	if top, err = h.New(cgroups.Config{Parent: "/", Name: parent, Controllers: controllers}); err != nil {
		return nil, nil, err
	}
	s.Cleanup(top.Destroy)
	if cg, err = h.New(cgroups.Config{Parent: "/" + parent, Name: name, Controllers: controllers}); err != nil {
		return nil, nil, err
	}
	return top, cg, cg.Create()
}

// checkJoin starts a child outside the cgroup, lets the learner's
// joinCgroup move it, and reads /proc/<child>/cgroup.
func checkJoin(s *kit.Session) error {
	h, err := cgroups.OpenHost(cgroups.DefaultRoot)
	if err != nil {
		return err
	}
	_, cg, err := exerciseCgroup(s, h, "join", controllers...)
	if err != nil {
		return err
	}
	c := reexec.NewChild("wait")
	if err := c.Start(s.Ctx); err != nil {
		return err
	}
	defer c.Close()
	pid := c.Pid()
	var files []string
	for _, d := range cg.Dirs() {
		files = append(files, d+"/cgroup.procs")
	}
	s.Cmd("%s    # your joinCgroup(cg, %d)", writeCmd(strconv.Itoa(pid), files), pid)
	if err := joinCgroup(cg, pid); err != nil {
		return fmt.Errorf("joinCgroup: %w", err)
	}
	lines, err := cgroupLines(strconv.Itoa(pid), cg.Path())
	s.Cmd("grep %s /proc/%d/cgroup", cg.Path(), pid)
	if err != nil {
		return kit.Errorf("the child is not in %s: %w", cg.Path(), err)
	}
	for _, l := range lines {
		s.Host("%s", l)
	}
	if want := len(cg.Dirs()); len(lines) != want {
		return kit.Errorf("the child is in %s in %d hierarchies of %d: %v", cg.Path(), len(lines), want, cg.Dirs())
	}
	procs, err := cg.Procs()
	if err != nil {
		return err
	}
	if !slices.Contains(procs, pid) {
		return kit.Errorf("cgroup.procs lists %v, not the child %d", procs, pid)
	}
	s.Host("cgroup.procs lists host pid %d, in every hierarchy of the cgroup", pid)
	return nil
}

// exAffinityChild reports which CPUs sched_getaffinity(2) allows it.
func exAffinityChild(c *reexec.Conn) error {
	if err := c.Recv(nil); err != nil {
		return err
	}
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return fmt.Errorf("sched_getaffinity: %w", err)
	}
	var cpus []int
	for i := 0; i < 1024; i++ {
		if set.IsSet(i) {
			cpus = append(cpus, i)
		}
	}
	return c.Send(cpus)
}

// checkCpuset restricts a cgroup with the learner's restrictCPUs to the
// last CPU this process may use, reads cpuset.cpus back, starts a child in
// the cgroup, and asks it what sched_getaffinity(2) says.
//
// On a machine of one CPU, the child's answer is the same with or without
// a cpuset, so cpuset.cpus is what tells: on v2 a new cgroup's is empty
// (it uses its parent's), and on v1, where a new cpuset cgroup gets its
// parent's CPUs to be usable at all, the check empties it first.
func checkCpuset(s *kit.Session) error {
	h, err := cgroups.OpenHost(cgroups.DefaultRoot)
	if err != nil {
		return err
	}
	var mine unix.CPUSet
	if err := unix.SchedGetaffinity(0, &mine); err != nil {
		return err
	}
	last := -1
	for i := 0; i < 1024; i++ {
		if mine.IsSet(i) {
			last = i
		}
	}
	_, cg, err := exerciseCgroup(s, h, "cpuset", "cpuset")
	if err != nil {
		return err
	}
	file := cg.File("cpuset.cpus")
	if !h.Mode.V2() && mine.Count() == 1 {
		if err := os.WriteFile(file, []byte("\n"), 0); err != nil {
			return fmt.Errorf("empty %s: %w", file, err)
		}
	}
	want := strconv.Itoa(last)
	s.Cmd("echo %s > %s    # your restrictCPUs(cg, %q)", want, file, want)
	if err := restrictCPUs(cg, want); err != nil {
		return fmt.Errorf("restrictCPUs: %w", err)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	got := strings.TrimSpace(string(b))
	s.Cmd("cat %s", file)
	s.Host("cpuset.cpus: %q", got)
	if got != want {
		return fmt.Errorf("%s holds %q; want %q", file, got, want)
	}
	c, err := startIn(s.Ctx, cg, "ex-affinity", nil)
	if err != nil {
		return err
	}
	defer c.Close()
	var cpus []int
	if err := c.Recv(&cpus); err != nil {
		return err
	}
	if err := c.Wait(); err != nil {
		return err
	}
	s.Cmd("nproc; taskset -cp $$    # in a child started in the cgroup")
	s.Inside("nproc %d; CPUs %v (this machine has %d)", len(cpus), cpus, mine.Count())
	if len(cpus) != 1 || cpus[0] != last {
		return kit.Errorf("the child may run on CPUs %v; want only CPU %d", cpus, last)
	}
	return nil
}

// limitReport is what the child of exercise 3 found.
type limitReport struct {
	Limit uint64
	Err   string
}

func exLimitChild(c *reexec.Conn) error {
	if err := c.Recv(nil); err != nil {
		return err
	}
	var r limitReport
	l, err := effectiveMemoryLimit()
	r.Limit = l
	if err != nil {
		r.Err = err.Error()
	}
	return c.Send(r)
}

// checkEffectiveLimit puts a child in a cgroup whose own limit is loose and
// whose parent's is tight, a random number of MiB, and compares what the
// learner's effectiveMemoryLimit says inside with the parent's file.
func checkEffectiveLimit(s *kit.Session) error {
	h, err := cgroups.OpenHost(cgroups.DefaultRoot)
	if err != nil {
		return err
	}
	n, _ := rand.Int(rand.Reader, big.NewInt(64))
	tight := (64 + n.Int64()) * mib
	parent := kit.UniqueName("cgex")
	top, err := h.New(cgroups.Config{Parent: "/", Name: parent, Controllers: []string{"memory"}})
	if err != nil {
		return err
	}
	s.Cleanup(top.Destroy)
	mid, err := h.New(cgroups.Config{Parent: "/" + parent, Name: "tight", Controllers: []string{"memory"}})
	if err != nil {
		return err
	}
	leaf, err := h.New(cgroups.Config{Parent: "/" + parent + "/tight", Name: "loose", Controllers: []string{"memory"}})
	if err != nil {
		return err
	}
	if err := leaf.Create(); err != nil {
		return err
	}
	if err := mid.Set(cgroups.Resources{Memory: tight}); err != nil {
		return err
	}
	if err := leaf.Set(cgroups.Resources{Memory: 4 * tight}); err != nil {
		return err
	}
	midFile, leafFile := mid.File(memoryLimitFile(h)), leaf.File(memoryLimitFile(h))
	s.Cmd("cat %s %s", midFile, leafFile)
	s.Host("%s: %s", midFile, readTrim(midFile))
	s.Host("%s: %s", leafFile, readTrim(leafFile))
	c, err := startIn(s.Ctx, leaf, "ex-limit", nil)
	if err != nil {
		return err
	}
	defer c.Close()
	var r limitReport
	if err := c.Recv(&r); err != nil {
		return err
	}
	if err := c.Wait(); err != nil {
		return err
	}
	if r.Err != "" {
		return errors.New("effectiveMemoryLimit: " + r.Err)
	}
	s.Inside("effectiveMemoryLimit() = %d", r.Limit)
	if r.Limit != uint64(tight) {
		return kit.Errorf("effectiveMemoryLimit() = %d; the kernel holds the child to its parent's %d (%s)",
			r.Limit, tight, midFile)
	}
	return nil
}

func memoryLimitFile(h *cgroups.Host) string {
	if h.Mode.V2() {
		return "memory.max"
	}
	return "memory.limit_in_bytes"
}

func readTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	return strings.TrimSpace(string(b))
}
