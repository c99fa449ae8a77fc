//go:build linux

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/kit"
)

func init() {
	kit.RegisterInit("pid-init", pidInit)
	kit.RegisterInit("pid-orphan", pidOrphan)
	kit.RegisterInit("pid-sleeper", pidSleeper)
	kit.RegisterInit("pid-exit", func(*kit.Conn) error { return nil })
}

// proc is one line of ps, read from /proc/<pid>/stat (proc(5)).
type proc struct {
	PID, PPID int
	State     string
	Comm      string
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
		PS       []proc
	}
	Orphaned []proc // after pid 2 started pid 3 and exited
	Zombie   []proc // after a child exited and PID 1 did not wait
	Reaped   []proc // after PID 1 waited
}

// pidInit is PID 1 of a new PID namespace (and of a new mount namespace, so
// that it can mount its own /proc without touching the host's).
func pidInit(c *kit.Conn) error {
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
	orphanMaker, err := kit.NewChild("pid-orphan")
	if err != nil {
		return err
	}
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
	exiter, err := kit.NewChild("pid-exit")
	if err != nil {
		return err
	}
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
func pidOrphan(c *kit.Conn) error {
	sleeper, err := kit.NewChild("pid-sleeper")
	if err != nil {
		return err
	}
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

func pidSleeper(c *kit.Conn) error {
	if err := c.Send("ready"); err != nil {
		return err
	}
	time.Sleep(time.Hour)
	return nil
}

func waitForState(pid int, state string) error {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if p, err := readProc(pid); err == nil && p.State == state {
			return nil
		}
	}
	return fmt.Errorf("pid %d did not reach state %s", pid, state)
}

// procPIDs lists the numeric entries of /proc: the processes this /proc shows.
func procPIDs() []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			pids = append(pids, pid)
		}
	}
	sort.Ints(pids)
	return pids
}

// ps is `ps -e -o pid,ppid,stat,comm`, read from /proc.
func ps() []proc {
	var out []proc
	for _, pid := range procPIDs() {
		if p, err := readProc(pid); err == nil {
			out = append(out, p)
		}
	}
	return out
}

func readProc(pid int) (proc, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return proc{}, err
	}
	// "pid (comm) state ppid ...": comm may hold spaces and parentheses, so
	// split at the last ')'.
	i, j := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if i < 0 || j < i {
		return proc{}, errors.New("malformed stat")
	}
	f := strings.Fields(string(b[j+1:]))
	if len(f) < 2 {
		return proc{}, errors.New("malformed stat")
	}
	ppid, _ := strconv.Atoi(f[1])
	return proc{PID: pid, PPID: ppid, State: f[0], Comm: string(b[i+1 : j])}, nil
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
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(status), "\n") {
			if f := strings.Fields(line); len(f) > 2 && f[0] == "NSpid:" {
				inner, _ := strconv.Atoi(f[len(f)-1])
				out = append(out, nsMember{HostPID: pid, NSPID: inner})
			}
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
func psTable(s *kit.Session, procs []proc) {
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

	s.Cmd("sh -c 'sleep infinity & exit'    # a child starts a grandchild, then exits")
	psTable(s, in.Orphaned)
	s.Note("The grandchild lost its parent and was adopted by PID 1 of its own namespace, not by the\n" +
		"host's init. (The numbers between are not missing processes: Go's threads take PIDs too.)")

	s.Cmd("# a child of PID 1 exits, and PID 1 does not wait(2) for it")
	psTable(s, in.Zombie)
	s.Cmd("# PID 1 calls wait4(2)")
	psTable(s, in.Reaped)
	s.Note("An exited child stays a zombie (Z), holding its PID, until its parent waits for it. An init that\n" +
		"never waits fills the PID table, which is why containers run a small init (tini, docker run --init).")

	s.Cmd("# from the host: which processes are in that PID namespace? (NSpid in /proc/<pid>/status)")
	for _, m := range r.Members {
		s.Host("host pid %d is PID %d in %s", m.HostPID, m.NSPID, in.NS)
	}
	s.Cmd("# PID 1 exits")
	for _, m := range r.Members {
		state := "gone"
		for _, sv := range r.Survivors {
			if sv == m.HostPID {
				state = "still there"
			}
		}
		s.Host("host pid %d (PID %d inside): %s", m.HostPID, m.NSPID, state)
	}
	s.Note("When PID 1 exits, the kernel SIGKILLs every other process in its namespace: a container lives\n" +
		"exactly as long as its first process.")
	return nil
}
