//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"github.com/unboxlab/unbox/internal/cgroups"
	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/reexec"
)

func init() { reexec.Register("bomb", bombChild) }

// pidsLimit is `docker run --pids-limit=20`.
var pidsLimit = cgroups.Resources{PidsLimit: 20}

// sleeper is what the fork bomb starts: a shell waiting for a line that
// never comes, one task each (a Go program would need several threads, and
// die when it could not make them). Every host has /bin/sh; the VM's is
// busybox.
var sleeper = []string{"/bin/sh", "-c", "read line"}

// bombConfig: after the first refused fork, the bomb tries Retries more
// times, to show the limit is a wall and not a hiccup. If no fork is
// refused by Most sleepers, it stops and says so: the limit did not act.
type bombConfig struct{ Retries, Most int }

// bombReport is what the fork bomb saw.
type bombReport struct {
	Threads int // its own tasks before the first fork: the Go runtime's threads
	Started int // sleepers forked
	Refused int // forks that failed
	Errno   string
	Err     string
}

// bombChild forks sleepers until fork fails, then Retries more, reports,
// and waits; told to go on, it kills and reaps its sleepers and exits.
func bombChild(c *reexec.Conn) error {
	// Once the cgroup is full, this process cannot make a thread either,
	// and the Go runtime dies if it needs one ("failed to create new OS
	// thread"). So: one P, no garbage collection, and a few spare threads
	// made now, which the runtime keeps idle and reuses.
	runtime.GOMAXPROCS(1)
	debug.SetGCPercent(-1)
	spareThreads(4)
	var cfg bombConfig
	if err := c.Recv(&cfg); err != nil {
		return err
	}
	var r bombReport
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return err
	}
	r.Threads = len(tasks)
	// The sleepers read from this pipe; we never write, and when we die
	// they read end-of-file and exit (and get SIGKILL: Pdeathsig).
	pr, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	defer pw.Close()
	null, err := os.Open(os.DevNull)
	if err != nil {
		return err
	}
	attr := &syscall.ProcAttr{
		Files: []uintptr{pr.Fd(), null.Fd(), null.Fd()},
		Sys:   &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL},
	}
	var pids []int
	for r.Refused <= cfg.Retries && r.Started < cfg.Most {
		pid, err := syscall.ForkExec(sleeper[0], sleeper, attr)
		if err != nil {
			if !errors.Is(err, syscall.EAGAIN) {
				return fmt.Errorf("fork and exec %s: %w", sleeper[0], err)
			}
			r.Refused++
			r.Errno, r.Err = errno(err), err.Error()
			continue
		}
		pids = append(pids, pid)
		r.Started++
	}
	pr.Close()
	if err := c.Send(r); err != nil {
		return err
	}
	if err := c.Recv(nil); err != nil {
		return err
	}
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	for _, pid := range pids {
		_, _ = syscall.Wait4(pid, nil, 0, nil)
	}
	return nil
}

// spareThreads makes the Go runtime start n more OS threads: n goroutines
// block in a system call at once, each holding a thread, and when they
// return the threads stay, idle, for the runtime to reuse.
func spareThreads(n int) {
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ts := syscall.NsecToTimespec(int64(20 * time.Millisecond))
			_ = syscall.Nanosleep(&ts, nil)
		}()
	}
	wg.Wait()
}

type pidsReport struct {
	Bomb      bombReport
	AtLimit   cgroups.PidsStats // while the bomb and its sleepers are alive
	AfterExit cgroups.PidsStats // once the bomb has gone
}

// pidsDemo runs the fork bomb in cg, which has pids.max already. at, if
// not nil, is called while the bomb sits at the limit.
func pidsDemo(ctx context.Context, cg cgroups.Manager, cfg bombConfig, at func(r pidsReport) error) (pidsReport, error) {
	var r pidsReport
	c, err := startIn(ctx, cg, "bomb", cfg)
	if err != nil {
		return r, err
	}
	defer c.Close()
	if err := c.Recv(&r.Bomb); err != nil {
		return r, err
	}
	st, err := cg.Stats()
	if err != nil {
		return r, err
	}
	r.AtLimit = st.Pids
	if at != nil {
		if err := at(r); err != nil {
			return r, err
		}
	}
	if err := c.Send(nil); err != nil {
		return r, err
	}
	if err := c.Wait(); err != nil {
		return r, err
	}
	st, err = cg.Stats()
	r.AfterExit = st.Pids
	return r, err
}

func (l *lessonState) stepPids(s *kit.Session) error {
	cg, err := l.leaf(s, "bomb")
	if err != nil {
		return err
	}
	err = cg.Set(pidsLimit)
	l.show(s)
	if err != nil {
		return err
	}
	s.Cmd("# the child: while :; do sh -c 'read line' & done")
	at := func(r pidsReport) error {
		l.take() // starting the child: step 2 showed how
		b := r.Bomb
		if b.Refused == 0 {
			return fmt.Errorf("the fork bomb started %d sleepers in a cgroup with pids.max %d, and no fork failed: "+
				"the limit did not act", b.Started, pidsLimit.PidsLimit)
		}
		s.Inside("before forking, its own tasks: %d (a Go program's threads count too)", b.Threads)
		s.Inside("forked %d sleepers; then fork failed: %s (%s),", b.Started, b.Err, b.Errno)
		s.Inside("and again each of the %d times it tried after that", b.Refused-1)
		s.Cmd("cat %s", shellPaths([]string{cg.File("pids.current"), cg.File("pids.events")}))
		s.Host("pids.current %d of pids.max %d; pids.events: max %d", r.AtLimit.Current, r.AtLimit.Limit, r.AtLimit.LimitHits)
		return l.hold(s, s.T("The fork bomb sits at its limit."), cg.File("pids.current"), cg.File("pids.events"))
	}
	r, err := pidsDemo(s.Ctx, cg, bombConfig{Retries: 50, Most: 10 * int(pidsLimit.PidsLimit)}, at)
	if err != nil {
		return err
	}
	s.Host("once the child has killed its sleepers and exited: pids.current %d", r.AfterExit.Current)
	s.Note("The bomb filled its cgroup to pids.max and no further: each fork past it failed with EAGAIN,\n" +
		"counted in pids.events. The rest of the machine never noticed. Threads are tasks too, so a\n" +
		"runtime that starts threads on demand (Go, the JVM) needs headroom above its process count.")
	return nil
}
