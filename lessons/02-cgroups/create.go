//go:build linux

package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/reexec"
)

func init() {
	reexec.Register("ctr", ctrChild)
	reexec.Register("ctr-born", ctrBornChild)
}

// ctrReport is what a child in a new cgroup saw: its own /proc/self/cgroup
// lines for our cgroup, and those of a process it started.
type ctrReport struct {
	Lines []string
	Born  []string
}

// ctrChild waits to be moved (startIn), reports where it is and where a
// child of its own is born, then waits until the parent has looked.
func ctrChild(c *reexec.Conn) error {
	var path string
	if err := c.Recv(&path); err != nil {
		return err
	}
	var r ctrReport
	var err error
	if r.Lines, err = cgroupLines("self", path); err != nil {
		return err
	}
	// A child of ours, started the usual way: it is born in our cgroup.
	born := reexec.NewChild("ctr-born")
	if err := born.Start(context.Background()); err != nil {
		return err
	}
	defer born.Close()
	if err := born.Send(path); err != nil {
		return err
	}
	if err := born.Recv(&r.Born); err != nil {
		return err
	}
	if err := born.Wait(); err != nil {
		return err
	}
	if err := c.Send(r); err != nil {
		return err
	}
	return c.Recv(nil)
}

func ctrBornChild(c *reexec.Conn) error {
	var path string
	if err := c.Recv(&path); err != nil {
		return err
	}
	lines, err := cgroupLines("self", path)
	if err != nil {
		return err
	}
	return c.Send(lines)
}

// cgroupLines returns the lines of /proc/<pid>/cgroup that name path: one
// in v2, one per hierarchy in v1.
func cgroupLines(pid, path string) ([]string, error) {
	b, err := os.ReadFile("/proc/" + pid + "/cgroup")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if strings.HasSuffix(line, ":"+path) {
			out = append(out, line)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("/proc/%s/cgroup has no line for %s:\n%s", pid, path, b)
	}
	return out, nil
}

// placement is what the host saw while the child was in the cgroup.
type placement struct {
	Inside  ctrReport
	HostPID int
	Procs   []int // the cgroup's cgroup.procs
}

// placementDemo starts a child in cg and reads cgroup.procs while it is
// there.
func placementDemo(ctx context.Context, cg Cgroup) (placement, error) {
	var p placement
	c, err := startIn(ctx, cg, "ctr", cg.Path())
	if err != nil {
		return p, err
	}
	defer c.Close()
	p.HostPID = c.Pid()
	if err := c.Recv(&p.Inside); err != nil {
		return p, err
	}
	if p.Procs, err = cg.Procs(); err != nil {
		return p, err
	}
	if err := c.Send(nil); err != nil {
		return p, err
	}
	return p, c.Wait()
}

// limitFiles are the files of a new cgroup that the steps below use.
func limitFiles(m Mode) []string {
	if m.V2() {
		return []string{"cgroup.procs", "cpu.max", "cpu.stat", "memory.max", "memory.events", "pids.max"}
	}
	return []string{"cgroup.procs", "cpu.cfs_quota_us", "cpuacct.usage", "memory.limit_in_bytes", "memory.oom_control", "pids.max"}
}

func (l *lessonState) stepCreate(s *kit.Session) error {
	h, err := l.host()
	if err != nil {
		return err
	}
	fmt.Fprintln(s.Writer())
	if h.Mode.V2() {
		s.Say("In v2 a cgroup has a controller only if its parent enabled it in cgroup.subtree_control, and\n" +
			"so on up to the root. systemd does that at boot; with no systemd (a bare VM, an initramfs)\n" +
			"nobody has, and writing it again changes nothing. A cgroup that has processes of its own may\n" +
			"not enable controllers for its children (the \"no internal processes\" rule; only the root may),\n" +
			"so the container's cgroup goes under a parent of ours that holds no process, not under the\n" +
			"cgroup this lesson runs in.")
	} else {
		s.Say("In v1 the cgroup is a directory of the same name in each hierarchy, and every cgroup in a\n" +
			"hierarchy has its controller: there is nothing to enable.")
	}

	cg, err := l.leaf(s, "ctr")
	if err != nil {
		return err
	}

	var have []string
	total := 0
	for _, name := range limitFiles(h.Mode) {
		if _, err := os.Stat(cg.File(name)); err == nil {
			have = append(have, name)
		}
	}
	for _, d := range cg.Dirs() {
		entries, _ := os.ReadDir(d)
		total += len(entries)
	}
	s.Cmd("ls %s", shellPaths(cg.Dirs()))
	s.Host("%s", strings.Join(have, " "))
	s.Host("… and %d more files, all made by the kernel", total-len(have))

	p, err := placementDemo(s.Ctx, cg)
	if err != nil {
		return err
	}
	s.Cmd("# start the child: it waits for a word from us before it does anything\n%s",
		writeCmd("<child>", inEach(cg, "cgroup.procs")))
	s.Host("cat %s: %s", cg.File("cgroup.procs"), pidList(p.Procs, p.HostPID))
	s.Inside("cat /proc/self/cgroup")
	for _, line := range p.Inside.Lines {
		s.Inside("  %s", line)
	}
	s.Inside("a process it starts: cat /proc/self/cgroup")
	for _, line := range p.Inside.Born {
		s.Inside("  %s", line)
	}
	s.Note("The child was in the cgroup before it ran a line of its own, and what it starts is born there:\n" +
		"fork(2) puts a child in its parent's cgroup. The cgroup is the container's from its first\n" +
		"instruction.")
	return nil
}

// pidList prints the PIDs in cgroup.procs, naming the child's.
func pidList(pids []int, child int) string {
	var out []string
	for _, p := range pids {
		if p == child {
			out = append(out, fmt.Sprintf("host pid %d (the child)", p))
		} else {
			out = append(out, fmt.Sprintf("host pid %d", p))
		}
	}
	if len(out) == 0 {
		return "(empty)"
	}
	return strings.Join(out, ", ")
}
