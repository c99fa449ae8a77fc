//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/procfs"
	"github.com/unboxlab/unbox/internal/reexec"
)

// PID 1 and signals. The kernel protects a PID namespace's init: a signal
// reaches it only if it has a handler for that signal, whoever sends it,
// a process inside or the host; SIGKILL and SIGSTOP from an ancestor
// namespace are the exception (pid_namespaces(7), "The namespace init
// process"). A program that never expected to be PID 1, such as sleep, has
// no handler for SIGTERM, so `docker stop`'s SIGTERM does nothing and
// Docker sends SIGKILL after its grace period (10 s by default). `docker run
// --init` puts a small init in front (tini, as docker-init): it has the
// handlers, passes each signal on to the program, which is then an
// ordinary process, and reaps the zombies of step 3.

func init() { reexec.Register("tiny-init", tinyInit) }

// tinyInit is PID 1 as `docker run --init` makes it: it starts the program
// (its argv comes over the socket) as its child, passes the signals it gets
// on to it, reaps its children, and exits as the program did: its exit
// status, or 128+N for a program ended by signal N, as a shell reports it.
func tinyInit(c *reexec.Conn) error {
	var argv []string
	if err := c.Recv(&argv); err != nil {
		return err
	}
	// The handlers: with them, these signals reach PID 1 after all.
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2, unix.SIGCHLD)
	cmd := exec.Command(argv[0], argv[1:]...)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", argv[0], err)
	}
	program := cmd.Process.Pid
	if err := c.Send(program); err != nil {
		return err
	}
	for sig := range sigs {
		if sig != unix.SIGCHLD {
			_ = unix.Kill(program, sig.(syscall.Signal))
			continue
		}
		// Several children may have exited for one SIGCHLD: the kernel
		// does not queue it.
		if status, done := reapChildren(program); done {
			code := status.ExitStatus()
			if status.Signaled() {
				code = 128 + int(status.Signal())
			}
			os.Exit(code)
		}
	}
	return nil
}

// sleepProgram is a program with no signal handler: the host's sleep.
func sleepProgram() (string, error) {
	p, err := exec.LookPath("sleep")
	if err != nil {
		return "", fmt.Errorf("this step runs the host's sleep as PID 1: %w", err)
	}
	return p, nil
}

// sigCaught reads /proc/<pid>/status's SigCgt, the signals the process has
// a handler for, and says whether sig is one.
func sigCaught(pid int, sig syscall.Signal) (mask string, caught bool, err error) {
	st, err := procfs.ReadStatus(strconv.Itoa(pid))
	if err != nil {
		return "", false, err
	}
	mask = st["SigCgt"]
	bits, err := strconv.ParseUint(mask, 16, 64)
	if err != nil {
		return "", false, fmt.Errorf("/proc/%d/status SigCgt %q: %w", pid, mask, err)
	}
	return mask, bits&(1<<(uint(sig)-1)) != 0, nil
}

// waitExec waits until pid runs comm (the exec has happened).
func waitExec(pid int, comm string) error {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if st, err := procfs.ReadStat(strconv.Itoa(pid)); err == nil && st.Comm == comm {
			return nil
		}
	}
	return fmt.Errorf("pid %d is not running %s after 5 seconds", pid, comm)
}

// alive reports whether pid is a process that has not exited (a zombie has).
func alive(pid int) bool {
	st, err := procfs.ReadStat(strconv.Itoa(pid))
	return err == nil && st.State != "Z" && st.State != "X"
}

// bareReport is PID 1 without a handler: sleep.
type bareReport struct {
	HostPID        int
	SigCgt         string
	Caught         bool
	AliveAfterTERM bool
	EndedBy        syscall.Signal
}

// graceDemo is the lesson's grace period between SIGTERM and SIGKILL:
// Docker's is 10 s (docker stop --time), which would only make the step
// slow.
const graceDemo = 500 * time.Millisecond

func bareDemo(ctx context.Context) (bareReport, error) {
	var r bareReport
	sleep, err := sleepProgram()
	if err != nil {
		return r, err
	}
	cmd := exec.CommandContext(ctx, sleep, "1000")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWPID, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return r, fmt.Errorf("start %s in a new PID namespace: %w", sleep, err)
	}
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	r.HostPID = cmd.Process.Pid
	if err := waitExec(r.HostPID, "sleep"); err != nil {
		return r, err
	}
	if r.SigCgt, r.Caught, err = sigCaught(r.HostPID, unix.SIGTERM); err != nil {
		return r, err
	}
	if err := unix.Kill(r.HostPID, unix.SIGTERM); err != nil {
		return r, fmt.Errorf("kill -TERM %d: %w", r.HostPID, err)
	}
	time.Sleep(graceDemo)
	r.AliveAfterTERM = alive(r.HostPID)
	if err := unix.Kill(r.HostPID, unix.SIGKILL); err != nil {
		return r, fmt.Errorf("kill -KILL %d: %w", r.HostPID, err)
	}
	err = cmd.Wait()
	r.EndedBy = signalOf(cmd.ProcessState)
	if r.EndedBy == 0 {
		return r, fmt.Errorf("sleep did not end by a signal: %v", err)
	}
	return r, nil
}

// signalOf is the signal that ended a process, or 0.
func signalOf(ps *os.ProcessState) syscall.Signal {
	if ps == nil {
		return 0
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return ws.Signal()
	}
	return 0
}

// initReport is PID 1 with a handler: tinyInit in front of sleep.
type initReport struct {
	HostPID, ProgramHostPID int
	Caught                  bool
	ExitCode                int
	ProgramGone             bool
}

func initDemo(ctx context.Context) (initReport, error) {
	var r initReport
	sleep, err := sleepProgram()
	if err != nil {
		return r, err
	}
	c, err := start(ctx, "tiny-init", unix.CLONE_NEWPID)
	if err != nil {
		return r, err
	}
	defer c.Close()
	r.HostPID = c.Pid()
	if err := c.Send([]string{sleep, "1000"}); err != nil {
		return r, err
	}
	var programPID int
	if err := c.Recv(&programPID); err != nil {
		return r, err
	}
	if r.ProgramHostPID, err = childOf(r.HostPID); err != nil {
		return r, err
	}
	if err := waitExec(r.ProgramHostPID, "sleep"); err != nil {
		return r, err
	}
	if _, r.Caught, err = sigCaught(r.HostPID, unix.SIGTERM); err != nil {
		return r, err
	}
	if err := unix.Kill(r.HostPID, unix.SIGTERM); err != nil {
		return r, fmt.Errorf("kill -TERM %d: %w", r.HostPID, err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		return r, errors.New("the init did not end the program on SIGTERM within 5 seconds")
	}
	r.ExitCode = c.Cmd.ProcessState.ExitCode()
	r.ProgramGone = !alive(r.ProgramHostPID)
	return r, nil
}

// childOf is the one child of pid, as the host numbers it.
func childOf(pid int) (int, error) {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
		if err == nil {
			for _, f := range strings.Fields(string(b)) {
				return strconv.Atoi(f)
			}
		}
		// children lists those of one thread; the child may have been
		// started by another: look at every process's parent.
		pids, _ := procfs.PIDs()
		for _, p := range pids {
			if st, err := procfs.ReadStat(strconv.Itoa(p)); err == nil && st.PPID == pid {
				return p, nil
			}
		}
	}
	return 0, fmt.Errorf("pid %d started no child", pid)
}

func stepSignals(s *kit.Session) error {
	bare, err := bareDemo(s.Ctx)
	if err != nil {
		return err
	}
	if bare.Caught || !bare.AliveAfterTERM || bare.EndedBy != unix.SIGKILL {
		return fmt.Errorf("sleep as PID 1: SIGTERM caught %v, alive after it %v, ended by %v; "+
			"want no handler, alive, and SIGKILL", bare.Caught, bare.AliveAfterTERM, bare.EndedBy)
	}
	s.Cmd("unshare --pid --fork sleep 1000 &    # sleep is PID 1 of a new PID namespace")
	s.Host("grep SigCgt /proc/%d/status: %s: no handler for any signal", bare.HostPID, bare.SigCgt)
	s.Cmd("kill -TERM %d    # what docker stop sends first", bare.HostPID)
	s.Host("half a second later, host pid %d is still running: the kernel dropped the signal", bare.HostPID)
	s.Cmd("kill -KILL %d    # what docker stop sends when its grace period (10 s) is over", bare.HostPID)
	s.Host("host pid %d: killed by %s", bare.HostPID, unix.SignalName(bare.EndedBy))
	s.Note("PID 1 receives only the signals it has a handler for, even from the host (SIGKILL and SIGSTOP\n" +
		"from the host excepted). sleep has none, so docker stop's SIGTERM is lost: Docker waits 10\n" +
		"seconds, then SIGKILLs, and the program never gets to clean up.")

	in, err := initDemo(s.Ctx)
	if err != nil {
		return err
	}
	if !in.Caught || in.ExitCode != 128+int(unix.SIGTERM) || !in.ProgramGone {
		return fmt.Errorf("the init: SIGTERM caught %v, exit status %d, program gone %v; want a handler, 143 and gone",
			in.Caught, in.ExitCode, in.ProgramGone)
	}
	s.Cmd("unshare --pid --fork <tiny init> sleep 1000 &    # docker run --init: an init as PID 1")
	s.Host("host pid %d is PID 1, the init: its SigCgt has SIGTERM", in.HostPID)
	s.Host("host pid %d is PID 2, sleep", in.ProgramHostPID)
	s.Cmd("kill -TERM %d", in.HostPID)
	s.Host("the init passed SIGTERM on to sleep, which ended at once;")
	s.Host("the init exited with status %d (128 + %d), as sleep had ended", in.ExitCode, int(unix.SIGTERM))
	s.Note("With --init, PID 1 is a small program made for the job (tini, as docker-init): it has the\n" +
		"handlers, passes each signal on, reaps every zombie (step 3) and exits as the program did. The\n" +
		"program is an ordinary process again, and SIGTERM ends it. signals.go:tinyInit is one; its\n" +
		"reaping is exercise 2.")
	return nil
}
