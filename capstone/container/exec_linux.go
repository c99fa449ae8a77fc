package container

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/nsenter"
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
	proc    *nsenter.Proc
}

// Exec runs a process in the container through internal/nsenter: a raw
// fork of this process joins the container's namespaces (its user
// namespace too, which a multi-threaded Go program cannot join, and last),
// its cgroup, and takes the process's user, capabilities, limits,
// no_new_privs and the container's seccomp filter, then executes the
// program directly. No Go code of this program runs in the container, so
// its file is never opened from inside (CVE-2019-5736), and a runtime
// linked with the C library (the engine's go run build) execs as well as
// a static one. A program that is not there is a *nsenter.StartError whose
// ExitCode is 127, one that cannot be run 126.
func (c *Container) Exec(ctx context.Context, o ExecOpts) (*Execd, error) {
	cfg := c.rec.Config
	switch s := c.Status(); s {
	case Created, Running:
	case Paused:
		return nil, errors.New("cannot exec in a paused container: resume it first")
	default:
		return nil, fmt.Errorf("cannot exec in a %s container", s)
	}
	if o.Process.Terminal && o.ConsoleSocket == "" && o.Detach {
		return nil, errors.New("exec --detach with a terminal needs --console-socket")
	}
	pid := c.rec.InitPid
	if !alive(pid, c.rec.InitStart) {
		return nil, ErrNotRun
	}
	mgr, _, err := c.manager()
	if err != nil {
		return nil, err
	}
	var kinds []nsenter.Namespace
	for _, ns := range cfg.Namespaces {
		if k := nsenter.Namespace(nsFile[ns.Type]); k.CloneFlag() != 0 {
			kinds = append(kinds, k)
		}
	}
	p := o.Process
	proc := nsenter.Process{
		Args: p.Args, Env: withHome(p.Env, pid, p.UID), Cwd: p.Cwd,
		UID: uint32(p.UID), GID: uint32(p.GID), Terminal: p.Terminal,
		Size:            nsenter.Winsize{Rows: p.ConsoleHeight, Cols: p.ConsoleWidth},
		NoNewPrivileges: p.NoNewPrivileges, PreserveFDs: o.PreserveFDs,
	}
	for _, g := range p.AdditionalGids {
		proc.AdditionalGIDs = append(proc.AdditionalGIDs, uint32(g))
	}
	if !p.Terminal {
		proc.Stdin, proc.Stdout, proc.Stderr = orStd(o.Stdin, os.Stdin), orStd(o.Stdout, os.Stdout), orStd(o.Stderr, os.Stderr)
	}
	if p.Caps != nil {
		eff, perm, inh, amb, err := heldCaps(*p.Caps)
		if err != nil {
			return nil, err
		}
		proc.Caps = &nsenter.Capabilities{Bounding: p.Caps.Bounding, Effective: eff, Permitted: perm, Inheritable: inh, Ambient: amb}
	}
	for _, r := range p.Rlimits {
		proc.Rlimits = append(proc.Rlimits, nsenter.Rlimit{Resource: r.Type, Soft: r.Soft, Hard: r.Hard})
	}
	if p.Umask != nil {
		m := uint32(*p.Umask)
		proc.Umask = &m
	}
	if sc := cfg.Seccomp; sc != nil {
		f := make([]unix.SockFilter, len(sc.Program))
		for i, in := range sc.Program {
			f[i] = unix.SockFilter{Code: in.Code, Jt: in.Jt, Jf: in.Jf, K: in.K}
		}
		proc.Seccomp = &nsenter.Seccomp{Filter: f, Flags: sc.Flags}
	}
	np, err := nsenter.Start(nsenter.Config{Target: pid, Namespaces: kinds, Cgroup: mgr, Process: proc})
	if errors.Is(err, nsenter.ErrNotRunning) {
		return nil, ErrNotRun
	}
	if err != nil {
		return nil, err
	}
	e := &Execd{Pid: np.Pid(), proc: np}
	fail := func(err error) (*Execd, error) {
		np.Signal(unix.SIGKILL)
		np.Wait()
		return nil, err
	}
	if m := np.Console(); m != nil {
		if o.ConsoleSocket != "" {
			sock, err := dialConsole(o.ConsoleSocket)
			if err != nil {
				return fail(err)
			}
			err = sendFd(sock, m)
			sock.Close()
			if err != nil {
				return fail(err)
			}
		} else {
			// A copy: nsenter closes its own once the process is waited
			// for, and the caller may still be reading what it wrote.
			fd, err := unix.FcntlInt(m.Fd(), unix.F_DUPFD_CLOEXEC, 0)
			if err != nil {
				return fail(fmt.Errorf("dup the console: %w", err))
			}
			e.Console = os.NewFile(uintptr(fd), m.Name())
		}
	}
	if o.PIDFile != "" {
		if err := writePIDFile(o.PIDFile, e.Pid); err != nil {
			return fail(err)
		}
	}
	return e, nil
}

// Wait waits for the exec'd process and returns its wait status.
func (e *Execd) Wait() (unix.WaitStatus, error) {
	st, err := e.proc.Wait()
	if err != nil {
		return 0, err
	}
	if st.Signal != 0 {
		return unix.WaitStatus(st.Signal), nil
	}
	return unix.WaitStatus(st.Code << 8), nil
}

// Kill ends the exec'd process with SIGKILL, and with it whatever it
// started in its process group (child 2 is a session leader, setsid(2)),
// so that a shell killed at a healthcheck's timeout leaves no child of
// its own running.
func (e *Execd) Kill() error {
	if err := unix.Kill(-e.Pid, unix.SIGKILL); err == nil {
		return nil
	}
	return e.proc.Signal(unix.SIGKILL)
}

// withHome adds HOME to env when it has none, from the container's
// /etc/passwd (read inside the init's root, /proc/<pid>/root, every name
// resolved there), as runc does; "/" when the user has no entry.
func withHome(env []string, pid, uid int) []string {
	for _, kv := range env {
		if strings.HasPrefix(kv, "HOME=") {
			return env
		}
	}
	home := "/"
	if h, err := pathrs.OpenInRoot("/proc/"+strconv.Itoa(pid)+"/root", "etc/passwd"); err == nil {
		if f, err := pathrs.Reopen(h, unix.O_RDONLY|unix.O_CLOEXEC); err == nil {
			home = homeIn(io.LimitReader(f, 1<<20), uid)
			f.Close()
		}
		h.Close()
	}
	return append(append([]string(nil), env...), "HOME="+home)
}

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
