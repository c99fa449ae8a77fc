package container

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/cgroups"
	"github.com/unboxlab/unbox/internal/reexec"
)

// ExecOpts describe a process to run in a running container (`exec`).
type ExecOpts struct {
	Process       Process
	ConsoleSocket string
	PIDFile       string
	PreserveFDs   int
	// Detach lets the process go once it is ready (--detach): it is left
	// to the caller's subreaper, as the init is after create.
	Detach                bool
	Stdin, Stdout, Stderr *os.File
}

// Execd is a process exec'd into a container that this process still
// holds (not detached): Wait for it.
type Execd struct {
	Pid     int
	Console *os.File
	child   *reexec.Child
}

// Exec runs a process in the container: "unbox-runtime init exec", born in
// the container's PID, network, IPC, UTS and cgroup namespaces (joined on a
// thread of this process before the clone: nsenter_linux.go) and in its
// cgroup; it joins the mount namespace itself, then takes the user,
// capabilities, limits and seccomp filter the process asks for, and execs.
func (c *Container) Exec(ctx context.Context, o ExecOpts) (*Execd, error) {
	cfg := c.rec.Config
	switch s := c.Status(); s {
	case Created, Running:
	case Paused:
		return nil, errors.New("cannot exec in a paused container: resume it first")
	default:
		return nil, fmt.Errorf("cannot exec in a %s container", s)
	}
	if cfg.HasNamespace("user") {
		return nil, errors.New("exec into a container with its own user namespace is not supported by unbox-runtime " +
			"(setns(2) refuses to move a multi-threaded process into a user namespace, and a Go program always is one)")
	}
	if o.Process.Terminal && o.ConsoleSocket == "" && o.Detach {
		return nil, errors.New("exec --detach with a terminal needs --console-socket")
	}
	pid := c.rec.InitPid
	// Open the namespaces now, then check the init is still the one we
	// recorded: the descriptors hold the namespaces even if it goes.
	mnt, err := os.Open("/proc/" + strconv.Itoa(pid) + "/ns/mnt")
	if err != nil {
		return nil, fmt.Errorf("open the container's mount namespace: %w", err)
	}
	defer mnt.Close()
	var joins []Namespace
	cgroupNS := mnt
	for _, ns := range cfg.Namespaces {
		switch ns.Type {
		case "mount":
		case "cgroup":
			// Joined by the child, from inside the cgroup.
			f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/ns/cgroup")
			if err != nil {
				return nil, fmt.Errorf("open the container's cgroup namespace: %w", err)
			}
			defer f.Close()
			cgroupNS = f
		default:
			joins = append(joins, Namespace{Type: ns.Type, Flag: ns.Flag, Path: "/proc/" + strconv.Itoa(pid) + "/ns/" + nsFile[ns.Type]})
		}
	}
	if !alive(pid, c.rec.InitStart) {
		return nil, ErrNotRun
	}
	mgr, _, err := c.manager()
	if err != nil {
		return nil, err
	}
	exe, err := sealedExe()
	if err != nil {
		return nil, err
	}
	defer exe.Close()
	e := &Execd{}
	req := execRequest{Process: o.Process, Seccomp: cfg.Seccomp, MountNS: true, CgroupNS: cgroupNS != mnt, PreserveFDs: o.PreserveFDs}
	files := []*os.File{exe, mnt, cgroupNS}
	if o.Process.Terminal {
		req.Console = true
		var sock *os.File
		if o.ConsoleSocket != "" {
			sock, err = dialConsole(o.ConsoleSocket)
		} else {
			e.Console, sock, err = consolePair()
		}
		if err != nil {
			return nil, err
		}
		defer sock.Close()
		files = append(files, sock)
	}
	for i := 0; i < o.PreserveFDs; i++ {
		files = append(files, os.NewFile(uintptr(3+i), "preserved"))
	}
	start := func(cgroupFD int) (int, error) {
		child := reexec.NewChild("exec")
		child.Cmd.Path = "/proc/self/fd/" + strconv.Itoa(exeFD)
		child.Cmd.Env = childEnv(child.Cmd.Env)
		child.Cmd.Stdin, child.Cmd.Stdout, child.Cmd.Stderr = orStd(o.Stdin, os.Stdin), orStd(o.Stdout, os.Stdout), orStd(o.Stderr, os.Stderr)
		child.Cmd.ExtraFiles = files
		child.Cmd.SysProcAttr = &syscall.SysProcAttr{}
		if cgroupFD >= 0 {
			child.Cmd.SysProcAttr.UseCgroupFD, child.Cmd.SysProcAttr.CgroupFD = true, cgroupFD
		}
		if err := joinThenStart(joins, func() error { return child.Start(ctx) }); err != nil {
			return 0, err
		}
		e.child = child
		return child.Pid(), nil
	}
	fail := func(err error) (*Execd, error) {
		if e.child != nil {
			e.child.Close()
		}
		if e.Console != nil {
			e.Console.Close()
		}
		return nil, err
	}
	if _, err := cgroups.Start(mgr, start); err != nil {
		return fail(fmt.Errorf("start the process in the container: %w", err))
	}
	e.Pid = e.child.Pid()
	if err := e.child.Send(req); err != nil {
		return fail(err)
	}
	var m childMessage
	if err := e.child.Recv(&m); err != nil {
		return fail(err)
	}
	if m.Stage != "ready" {
		return fail(fmt.Errorf("the exec'd process says %q, which this runtime does not know", m.Stage))
	}
	if e.Console != nil {
		if e.Console, err = takeConsole(e.Console); err != nil {
			return fail(err)
		}
	}
	if o.PIDFile != "" {
		if err := writePIDFile(o.PIDFile, e.Pid); err != nil {
			return fail(err)
		}
	}
	if err := e.child.Send(parentReply{Go: true, Detached: o.Detach}); err != nil {
		return fail(err)
	}
	if o.Detach {
		return e, e.child.Release()
	}
	return e, nil
}

// Wait waits for the exec'd process and returns its wait status; an error
// is one the process reported before its exec, or a failure to wait.
func (e *Execd) Wait() (unix.WaitStatus, error) { return waitChild(e.child) }

// Wait waits for the container's init (run): its wait status, or the error
// it reported if it failed before its exec.
func (p *Prepared) Wait() (unix.WaitStatus, error) { return waitChild(p.child) }

func waitChild(child *reexec.Child) (unix.WaitStatus, error) {
	err := child.Wait()
	ps := child.Cmd.ProcessState
	if ps == nil {
		return 0, err
	}
	var ce *reexec.ChildError
	if errors.As(err, &ce) {
		return 0, err
	}
	return unix.WaitStatus(ps.Sys().(syscall.WaitStatus)), nil
}

// execInContainer is the exec'd process's stage, "unbox-runtime init exec".
func execInContainer(c *reexec.Conn) error {
	var req execRequest
	if err := c.Recv(&req); err != nil {
		return err
	}
	unix.Close(exeFD)
	if req.CgroupNS {
		if err := joinCgroupNS(cgroupNSFD); err != nil {
			return err
		}
	}
	unix.Close(cgroupNSFD)
	if req.MountNS {
		mnt := os.NewFile(fifoFD, "mnt")
		err := joinMountNS(mnt)
		mnt.Close()
		if err != nil {
			return err
		}
	}
	p := req.Process
	base := consoleFD
	if req.Console {
		if err := setupConsole(os.NewFile(consoleFD, "console-socket"), p, false); err != nil {
			return err
		}
		unix.Close(consoleFD)
		base++
	}
	if err := becomeProcess(p, req.Seccomp); err != nil {
		return err
	}
	if err := c.Send(childMessage{Stage: "ready"}); err != nil {
		return err
	}
	var r parentReply
	if err := c.Recv(&r); err != nil || !r.Go {
		return fmt.Errorf("the runtime went away before the process started (%v)", err)
	}
	err := execProcess(c, p, req.Seccomp, base, req.PreserveFDs)
	if r.Detached {
		fmt.Fprintf(os.Stderr, "unbox-runtime exec: %v\n", err)
	}
	return err
}
