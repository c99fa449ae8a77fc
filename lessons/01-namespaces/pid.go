//go:build linux

package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/procfs"
	"github.com/unboxlab/unbox/internal/reexec"
)

func init() {
	reexec.Register("pid-init", pidInit)
	reexec.Register("pid-orphan", pidOrphan)
	reexec.Register("pid-sleeper", pidSleeper)
	reexec.Register("pid-exit", func(*reexec.Conn) error { return nil })
}

// pidReport is everything PID 1 of the new namespace saw, in order.
type pidReport struct {
	NS string
	// Before mounting a new /proc.
	Getpid     int
	ProcSelf   string // readlink /proc/self
	ProcsSeen  int    // numeric entries in /proc
	AfterMount struct {
		ProcSelf string
		PS       []procfs.Stat
	}
	Orphaned []procfs.Stat // after pid 2 started pid 3 and exited
	Zombie   []procfs.Stat // after a child exited and PID 1 did not wait
	Reaped   []procfs.Stat // after PID 1 waited
}

// pidInit is PID 1 of a new PID namespace (and of a new mount namespace, so
// that it can mount its own /proc without touching the host's).
func pidInit(c *reexec.Conn) error {
	var r pidReport
	var err error
	if r.NS, err = nsLink("self", "pid_for_children"); err != nil {
		return err
	}
	r.Getpid = os.Getpid()
	r.ProcSelf, _ = os.Readlink("/proc/self")
	r.ProcsSeen = len(procPIDs())

	// /proc shows the PID namespace of whoever mounted it, so a new PID
	// namespace needs a new proc mount. Propagation first: on a host where /
	// is shared (systemd), a mount on /proc would otherwise propagate back.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("mount --make-rprivate /: %w", err)
	}
	if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mount -t proc proc /proc: %w", err)
	}
	r.AfterMount.ProcSelf, _ = os.Readlink("/proc/self")
	r.AfterMount.PS = ps()

	// An orphan: a child starts a grandchild and exits without waiting for it.
	orphanMaker := reexec.NewChild("pid-orphan")
	if err := orphanMaker.Start(context.Background()); err != nil {
		return err
	}
	var orphan int
	if err := orphanMaker.Recv(&orphan); err != nil {
		return err
	}
	if err := orphanMaker.Wait(); err != nil {
		return err
	}
	if err := waitForState(orphan, "S"); err != nil {
		return err
	}
	r.Orphaned = ps()

	// A zombie: a child exits and we, its parent, do not wait(2) for it.
	exiter := reexec.NewChild("pid-exit")
	if err := exiter.Start(context.Background()); err != nil {
		return err
	}
	if err := waitForState(exiter.Pid(), "Z"); err != nil {
		return err
	}
	r.Zombie = ps()
	if err := exiter.Wait(); err != nil { // wait4(2): the zombie is reaped
		return err
	}
	r.Reaped = ps()

	if err := c.Send(r); err != nil {
		return err
	}
	// Stay until the host has looked; returning then ends PID 1, and with
	// it the namespace.
	return c.Recv(nil)
}

// pidOrphan starts a grandchild of PID 1 and exits at once, as
// `sh -c 'sleep infinity & exit'` would; it tells PID 1 the grandchild's PID
// first, so that PID 1 knows whom to look for.
func pidOrphan(c *reexec.Conn) error {
	sleeper := reexec.NewChild("pid-sleeper")
	// A real orphan: no signal when its parent dies (kit sets SIGKILL by
	// default so that lessons leave nothing behind).
	sleeper.Cmd.SysProcAttr.Pdeathsig = 0
	if err := sleeper.Start(context.Background()); err != nil {
		return err
	}
	if err := sleeper.Recv(nil); err != nil { // it is running our code
		return err
	}
	return c.Send(sleeper.Pid())
}

func pidSleeper(c *reexec.Conn) error {
	if err := c.Send("ready"); err != nil {
		return err
	}
	time.Sleep(time.Hour)
	return nil
}

func waitForState(pid int, state string) error {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if p, err := procfs.ReadStat(strconv.Itoa(pid)); err == nil && p.State == state {
			return nil
		}
	}
	return fmt.Errorf("pid %d did not reach state %s", pid, state)
}

// procPIDs lists the processes this /proc shows, in order.
func procPIDs() []int {
	pids, _ := procfs.PIDs()
	slices.Sort(pids)
	return pids
}

// ps is `ps -e -o pid,ppid,stat,comm`, read from /proc/<pid>/stat (proc(5)).
func ps() []procfs.Stat {
	var out []procfs.Stat
	for _, pid := range procPIDs() {
		if p, err := procfs.ReadStat(strconv.Itoa(pid)); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// nsMember is a process of a PID namespace, as the host sees it.
type nsMember struct{ HostPID, NSPID int }

// membersOf lists, from the host, the processes in the PID namespace ns:
// those whose /proc/<pid>/ns/pid is that link. NSpid in /proc/<pid>/status
// gives the PID in each nested namespace, outermost first.
func membersOf(ns string) []nsMember {
	var out []nsMember
	for _, pid := range procPIDs() {
		if link, err := nsLink(strconv.Itoa(pid), "pid"); err != nil || link != ns {
			continue
		}
		st, err := procfs.ReadStatus(strconv.Itoa(pid))
		if err != nil {
			continue
		}
		if nspid, err := st.Ints("NSpid"); err == nil && len(nspid) > 0 {
			out = append(out, nsMember{HostPID: pid, NSPID: nspid[len(nspid)-1]})
		}
	}
	return out
}

// pidResult is the whole step: what PID 1 saw, and what the host saw before
// and after PID 1 exited.
type pidResult struct {
	Inside    pidReport
	HostPID   int        // the child, as the host numbers it
	Members   []nsMember // processes in the namespace while PID 1 lived
	Survivors []int      // host PIDs of those still present after PID 1 exited
}

func pidDemo(ctx context.Context) (pidResult, error) {
	var r pidResult
	c, err := start(ctx, "pid-init", unix.CLONE_NEWPID|unix.CLONE_NEWNS)
	if err != nil {
		return r, err
	}
	defer c.Close()
	r.HostPID = c.Pid()
	if err := c.Recv(&r.Inside); err != nil {
		return r, err
	}
	r.Members = membersOf(r.Inside.NS)
	if err := c.Send(nil); err != nil {
		return r, err
	}
	if err := c.Wait(); err != nil {
		return r, err
	}
	for _, m := range r.Members {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", m.HostPID)); err == nil {
			r.Survivors = append(r.Survivors, m.HostPID)
		}
	}
	return r, nil
}

// psTable prints procs as `ps -e -o pid,ppid,stat,comm` does.
func psTable(s *kit.Session, procs []procfs.Stat) {
	lines := []string{psLine("PID", "PPID", "STAT", "COMMAND")}
	for _, p := range procs {
		lines = append(lines, psLine(strconv.Itoa(p.PID), strconv.Itoa(p.PPID), p.State, p.Comm))
	}
	s.Show("%s", strings.Join(lines, "\n"))
}

// psLine lays out one line of ps output in ps's own fixed columns.
func psLine(pid, ppid, stat, comm string) string {
	return fmt.Sprintf("%7s %7s %-4s %s", pid, ppid, stat, comm)
}

func stepPID(s *kit.Session) error {
	r, err := pidDemo(s.Ctx)
	if err != nil {
		return err
	}
	in := r.Inside

	s.Cmd("unshare --pid --fork --mount sh -c 'echo $$; readlink /proc/self'")
	s.Inside("%s  getpid() = %d", in.NS, in.Getpid)
	s.Inside("readlink /proc/self: host pid %s; ls /proc lists %d processes", in.ProcSelf, in.ProcsSeen)
	s.Host("the child is host pid %d", r.HostPID)
	s.Note("The child is PID 1, yet /proc still shows the host's processes and numbers: /proc shows the\n" +
		"PID namespace that mounted it. A container must mount its own.")

	s.Cmd("mount --make-rprivate / && mount -t proc proc /proc")
	s.Inside("readlink /proc/self: %s", in.AfterMount.ProcSelf)
	psTable(s, in.AfterMount.PS)

	s.Cmd("# PID 1's child starts a grandchild, then exits without waiting for it")
	psTable(s, in.Orphaned)
	s.Note("The grandchild lost its parent and was adopted by PID 1 of its own namespace, not by the\n" +
		"host's init. (The numbers between are not missing processes: Go's threads take PIDs too.)")

	s.Cmd("# a child of PID 1 exits, and PID 1 does not wait(2) for it")
	psTable(s, in.Zombie)
	s.Cmd("# PID 1 calls wait4(2)")
	psTable(s, in.Reaped)
	s.Note("An exited child stays a zombie (Z), holding its PID, until its parent waits for it. An init\n" +
		"that never waits fills the PID table, which is why containers run a small init (tini, docker\n" +
		"run --init).")

	s.Cmd("# from the host: which processes are in that PID namespace? (NSpid in /proc/<pid>/status)")
	for _, m := range r.Members {
		s.Host("host pid %d is PID %d in %s", m.HostPID, m.NSPID, in.NS)
	}
	s.Cmd("# PID 1 exits")
	for _, m := range r.Members {
		state := s.T("gone")
		for _, sv := range r.Survivors {
			if sv == m.HostPID {
				state = s.T("still there")
			}
		}
		s.Host("host pid %d (PID %d inside): %s", m.HostPID, m.NSPID, state)
	}
	s.Note("When PID 1 exits, the kernel SIGKILLs every other process in its namespace: a container lives\n" +
		"exactly as long as its first process.")
	return nil
}
