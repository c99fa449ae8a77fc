//go:build linux

package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/unboxlab/unbox/internal/cgroups"
	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/procfs"
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
	lines, err := procfs.ReadCgroup(pid)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range lines {
		if l.Path == path {
			out = append(out, fmt.Sprintf("%d:%s:%s", l.ID, strings.Join(l.Controllers, ","), l.Path))
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("/proc/%s/cgroup has no line for %s: %v", pid, path, lines)
	}
	return out, nil
}

// placement is what the host saw while the child was in the cgroup.
type placement struct {
	Inside  ctrReport
	HostPID int
	Procs   []int // the cgroup's cgroup.procs
	How     cgroups.Placement
}

// placementDemo starts a child in cg and reads cgroup.procs while it is
// there.
func placementDemo(ctx context.Context, cg cgroups.Manager) (placement, error) {
	var p placement
	c, err := startIn(ctx, cg, "ctr", cg.Path())
	if err != nil {
		return p, err
	}
	defer c.Close()
	p.HostPID, p.How = c.Pid(), c.Placement
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
func limitFiles(m cgroups.Mode) []string {
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
	s.Host("%s", kit.Wrap(strings.Join(have, " "), 72))
	s.Host("… and %d more files, all made by the kernel", total-len(have))

	p, err := placementDemo(s.Ctx, cg)
	if err != nil {
		return err
	}
	if p.How == cgroups.ClonedInto {
		l.show(s, "# start the child in the cgroup itself, with a descriptor of its directory (Linux 5.7+):")
	} else {
		l.show(s, "# start the child: it waits for a word from us before it runs any code of its own")
	}
	s.Cmd("cat %s", cg.File("cgroup.procs"))
	s.Host("%s", pidList(s, p.Procs, p.HostPID))
	s.Inside("cat /proc/self/cgroup")
	for _, line := range p.Inside.Lines {
		s.Inside("  %s", line)
	}
	s.Inside("a process it starts: cat /proc/self/cgroup")
	for _, line := range p.Inside.Born {
		s.Inside("  %s", line)
	}
	if p.How == cgroups.ClonedInto {
		s.Note("The child was born in the cgroup: clone3(2) put it there before its first instruction, so\n" +
			"all it ran and all the memory it allocated is charged to the cgroup. What it starts is born\n" +
			"there too: fork(2) puts a child in its parent's cgroup.")
		return nil
	}
	s.Note("The child was moved in before it ran a line of its own (it was waiting on its socket), and\n" +
		"what it starts is born in the cgroup: fork(2) puts a child in its parent's cgroup. But its Go\n" +
		"runtime had started, and the memory that start-up touched before the move stays charged to\n" +
		"this lesson's own memory cgroup (step 1's memory line): a page stays charged to the cgroup that\n" +
		"first touched it until it is freed. (v1's memory.move_charge_at_immigrate moved charges with a\n" +
		"task; it is off by default, and refused since Linux 6.13.) CPU time and the task count follow\n" +
		"the child from the move on. cgroup v2 closes the gap: clone3(2) with CLONE_INTO_CGROUP starts\n" +
		"a child in its cgroup.")
	return nil
}

// pidList prints the PIDs in cgroup.procs, naming the child's.
func pidList(s *kit.Session, pids []int, child int) string {
	var out []string
	for _, p := range pids {
		if p == child {
			out = append(out, s.T("host pid %d (the child)", p))
		} else {
			out = append(out, s.T("host pid %d", p))
		}
	}
	if len(out) == 0 {
		return s.T("(empty)")
	}
	if len(out) == 1 {
		return out[0]
	}
	return strings.Join(out, ", ")
}
