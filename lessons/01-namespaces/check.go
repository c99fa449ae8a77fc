//go:build linux

package main

// The checks of the exercises (exercises.go): each runs the learner's
// function on something real and reads back what the kernel did.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math/big"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/procfs"
	"github.com/unboxlab/unbox/internal/reexec"
)

func init() {
	reexec.Register("ex-time", exTimeChild)
	reexec.Register("ex-clock", exClockChild)
}

var exercises = []kit.Exercise{
	{
		Title: "Join a namespace: nsenter in Go",
		Stub:  "exercises.go:joinUTS",
		Needs: []kit.Need{kit.NeedNamespace("uts")},
		Check: checkJoinUTS,
		Hint: "setns(2) acts on the calling thread, and a Go program has many: runtime.LockOSThread\n" +
			"before it, and no UnlockOSThread after, so the thread ends with the goroutine.",
	},
	{
		Title: "An init that reaps orphans",
		Stub:  "exercises.go:reapChildren",
		Needs: []kit.Need{kit.NeedNamespace("pid")},
		Check: checkReaping,
		Hint: "an orphan's parent is PID 1, the init: on each SIGCHLD, wait4(-1, ..., WNOHANG) until it\n" +
			"reports no more children, and remember the program's status when its PID comes back.",
	},
	{
		Title: "A clock of its own: a time namespace",
		Stub:  "exercises.go:enterTimeNamespace",
		Needs: []kit.Need{kit.NeedNamespace("time")},
		Check: checkTimeNamespace,
		Hint: "unshare(CLONE_NEWTIME) moves only the children to come; their offsets go into\n" +
			"/proc/self/timens_offsets, before the first child is born: see time_namespaces(7).",
	},
}

// randomName is a hostname no one could guess without asking the kernel.
func randomName() string {
	b := make([]byte, 4)
	rand.Read(b)
	return "unbox-ex-" + hex.EncodeToString(b)
}

// checkJoinUTS starts a child with a hostname of its own and asks the
// learner's joinUTS, in a goroutine, what it is; then it makes sure no
// thread of this program was left behind in the child's namespace.
func checkJoinUTS(s *kit.Session) error {
	name := randomName()
	// The child dies with the thread that started it (Pdeathsig,
	// internal/reexec's caveat), and a solution's goroutine ends its locked
	// thread: were it this one, the child would go with it. Keep this
	// thread to this goroutine until the child is done.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	c, err := start(s.Ctx, "uts", unix.CLONE_NEWUTS)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Send(name); err != nil {
		return err
	}
	var inside utsView
	if err := c.Recv(&inside); err != nil {
		return err
	}
	host, err := nsLink("self", "uts")
	if err != nil {
		return err
	}
	s.Cmd("unshare --uts sh -c 'hostname %s; sleep 1000' &", name)
	s.Inside("%s  hostname %s", inside.NS, inside.Hostname)
	s.Cmd("nsenter --uts --target %d hostname    # your joinUTS(%d), in a goroutine", c.Pid(), c.Pid())
	type answer struct {
		name string
		err  error
	}
	got := make(chan answer, 1)
	go func() {
		n, err := joinUTS(c.Pid())
		got <- answer{n, err}
	}()
	var a answer
	select {
	case a = <-got:
	case <-time.After(10 * time.Second):
		return kit.Errorf("joinUTS(%d) did not return within 10 seconds", c.Pid())
	}
	if a.err != nil {
		return fmt.Errorf("joinUTS(%d): %w", c.Pid(), a.err)
	}
	s.Host("joinUTS returned %q", a.name)
	if a.name != name {
		return kit.Errorf("joinUTS(%d) = %q; the child's hostname is %q (a thread that read it in the host's namespace?)", c.Pid(), a.name, name)
	}
	// The goroutine has ended; its thread, if it was locked, ends too, a
	// moment later. Any thread still in the child's namespace would run
	// other goroutines of this program there.
	var strays []string
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		strays = threadsIn(inside.NS, host)
		if len(strays) == 0 || time.Now().After(deadline) {
			break
		}
	}
	s.Cmd("ls -l /proc/%d/task/*/ns/uts    # every thread of this program", os.Getpid())
	if len(strays) > 0 {
		return kit.Errorf("threads %s of this program are still in the child's UTS namespace %s: "+
			"other goroutines will run there (was the thread unlocked?)", strings.Join(strays, ", "), inside.NS)
	}
	s.Host("every thread is in %s, the host's UTS namespace", host)
	return c.Send(nil)
}

// threadsIn lists this process's threads that are not in the UTS
// namespace host (ns, the child's, is where a stray one would be).
func threadsIn(ns, host string) []string {
	tasks, _ := os.ReadDir("/proc/self/task")
	var out []string
	for _, t := range tasks {
		link, err := os.Readlink("/proc/self/task/" + t.Name() + "/ns/uts")
		if err == nil && link != host {
			out = append(out, t.Name())
		}
	}
	return out
}

// checkReaping runs tinyInit, with the learner's reapChildren, as PID 1 of
// a program that leaves an orphan behind, and looks for zombies.
func checkReaping(s *kit.Session) error {
	argv := []string{"/bin/sh", "-c", "(sleep 1 &); exec sleep 1000"}
	c, err := start(s.Ctx, "tiny-init", unix.CLONE_NEWPID)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Send(argv); err != nil {
		return err
	}
	var program int
	if err := c.Recv(&program); err != nil {
		return err
	}
	s.Cmd("unshare --pid --fork <tiny init> sh -c '(sleep 1 &); exec sleep 1000'")
	s.Say("The subshell starts sleep 1 and exits: sleep 1 is an orphan, adopted by PID 1, and exits a\n" +
		"second later. Two seconds on, the processes of the namespace:")
	select {
	case <-time.After(2 * time.Second):
	case <-s.Ctx.Done():
		return s.Ctx.Err()
	}
	ns, err := nsLink(strconv.Itoa(c.Pid()), "pid")
	if err != nil {
		return err
	}
	var zombies []string
	lines := []string{psLine("PID", "PPID", "STAT", "COMMAND")}
	for _, m := range membersOf(ns) {
		st, err := procfs.ReadStat(strconv.Itoa(m.HostPID))
		if err != nil {
			continue
		}
		ppid := "0"
		if st.PPID == c.Pid() {
			ppid = "1"
		}
		lines = append(lines, psLine(strconv.Itoa(m.NSPID), ppid, st.State, st.Comm))
		if st.State == "Z" {
			zombies = append(zombies, fmt.Sprintf("PID %d (%s)", m.NSPID, st.Comm))
		}
	}
	s.Show("%s", strings.Join(lines, "\n"))
	if err := unix.Kill(c.Pid(), unix.SIGTERM); err != nil {
		return err
	}
	if err := waitGone(c, 5*time.Second); err != nil {
		return err
	}
	if len(zombies) > 0 {
		return kit.Errorf("%s: a zombie, never reaped by PID 1", strings.Join(zombies, ", "))
	}
	if len(lines) != 3 {
		return kit.Errorf("the namespace holds %d processes; want the init and sleep 1000", len(lines)-1)
	}
	s.Host("no zombie: the init reaped the orphan, and SIGTERM ended it all")
	return nil
}

// waitGone waits for a child to exit, however it ends.
func waitGone(c *reexec.Child, d time.Duration) error {
	done := make(chan struct{})
	go func() { c.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-time.After(d):
		return kit.Errorf("the init did not exit within %s of SIGTERM", d)
	}
}

// timeReport is what the child of exercise 3 found: its child's clock, read
// inside the new time namespace.
type timeReport struct {
	GrandPID  int
	Monotonic time.Duration // CLOCK_MONOTONIC, as the grandchild read it
}

// exTimeChild calls the learner's enterTimeNamespace, then starts a child
// that reads its clock.
func exTimeChild(c *reexec.Conn) error {
	var offset time.Duration
	if err := c.Recv(&offset); err != nil {
		return err
	}
	if err := enterTimeNamespace(offset); err != nil {
		return err
	}
	gc := reexec.NewChild("ex-clock")
	if err := gc.Start(context.Background()); err != nil {
		return err
	}
	defer gc.Close()
	var mono time.Duration
	if err := gc.Recv(&mono); err != nil {
		return err
	}
	if err := c.Send(timeReport{GrandPID: gc.Pid(), Monotonic: mono}); err != nil {
		return err
	}
	if err := c.Recv(nil); err != nil {
		return err
	}
	return gc.Send(nil)
}

func exClockChild(c *reexec.Conn) error {
	if err := c.Send(monotonic()); err != nil {
		return err
	}
	return c.Recv(nil)
}

func monotonic() time.Duration {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return time.Duration(ts.Nano())
}

func checkTimeNamespace(s *kit.Session) error {
	days, _ := rand.Int(rand.Reader, big.NewInt(300))
	offset := time.Duration(days.Int64()+7) * 24 * time.Hour
	s.Cmd("unshare --time --monotonic %d <a child that reads CLOCK_MONOTONIC>\n"+
		"# your enterTimeNamespace, then a child", int64(offset/time.Second))
	c, err := start(s.Ctx, "ex-time", 0)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Send(offset); err != nil {
		return err
	}
	var r timeReport
	if err := c.Recv(&r); err != nil {
		return err
	}
	host := monotonic()
	gp := strconv.Itoa(r.GrandPID)
	link, err := nsLink(gp, "time")
	if err != nil {
		return err
	}
	hostLink, err := nsLink("self", "time")
	if err != nil {
		return err
	}
	offsets, _ := os.ReadFile("/proc/" + gp + "/timens_offsets")
	s.Host("the child's child: %s, the host's: %s", link, hostLink)
	s.Host("cat /proc/%s/timens_offsets: %s", gp, strings.Join(strings.Fields(string(offsets)), " "))
	ahead := r.Monotonic - host
	s.Host("its CLOCK_MONOTONIC is %s ahead of the host's; the offset asked for: %s", ahead.Round(time.Second), offset)
	if err := c.Send(nil); err != nil {
		return err
	}
	if link == hostLink {
		return kit.Errorf("the child's child is in the host's time namespace %s", link)
	}
	if d := ahead - offset; d < -5*time.Second || d > 5*time.Second {
		return kit.Errorf("CLOCK_MONOTONIC inside is %s ahead; want %s (write the offset before the first child)", ahead, offset)
	}
	return c.Wait()
}
