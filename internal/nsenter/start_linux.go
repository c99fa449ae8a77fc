package nsenter

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/cgroups"
)

// Config is one exec into a running container.
type Config struct {
	// Target is the host PID of a process in the container, usually its
	// PID 1: its namespaces are the ones joined.
	Target int
	// Namespaces are the kinds to join; nil means [All]. A namespace the
	// caller already shares with the target is not joined (a user
	// namespace cannot be joined by a process already in it).
	Namespaces []Namespace
	// Cgroup, if set, is where the process runs: it is written into the
	// cgroup's cgroup.procs before it runs anything of its own. Nil leaves
	// it in the caller's cgroup.
	Cgroup cgroups.Manager
	// Process is what runs.
	Process Process
}

// Process is the program to run and how, as an OCI runtime's process.json
// (runc exec --process) describes it.
type Process struct {
	// Args are the program and its arguments. A program without a slash is
	// looked for in each directory of the PATH in Env, inside the
	// container, as execvp(3) does; without a PATH, in [DefaultPath].
	Args []string
	// Env is the whole environment, as "KEY=value". Docker gives the
	// container's own plus `docker exec -e`.
	Env []string
	// Cwd is the working directory inside the container; "" is /.
	Cwd string
	// UID, GID and AdditionalGIDs are the user, in the container's user
	// namespace if it has one.
	UID, GID       uint32
	AdditionalGIDs []uint32
	// Terminal gives the process a pseudo-terminal as its stdin, stdout,
	// stderr and controlling terminal (docker exec -t), of Size; Stdin is
	// copied to it and its output to Stdout.
	Terminal bool
	Size     Winsize
	// Stdin, Stdout and Stderr are as in os/exec.Cmd: nil is /dev/null,
	// an *os.File is passed as it is, anything else goes through a pipe
	// that [Proc.Wait] drains.
	Stdin          io.Reader
	Stdout, Stderr io.Writer

	// Confinement, as an OCI runtime gives an exec'd process the
	// container's own (runc exec: the process's capabilities and limits,
	// no_new_privs, the container's seccomp filter). The zero values leave
	// the caller's: every capability, its limits, no filter.
	Caps            *Capabilities
	Rlimits         []Rlimit
	NoNewPrivileges bool
	Seccomp         *Seccomp
	Umask           *uint32
	// PreserveFDs leaves the caller's descriptors 3 to 3+N-1 open in the
	// process, as they are numbered here (runc exec --preserve-fds).
	PreserveFDs int
}

// Capabilities are the five sets of capabilities(7), bit n for
// capability n. The process's bounding set loses every capability not in
// Bounding (prctl(2) PR_CAPBSET_DROP, before the change of user), the
// other sets are set exactly after it (capset(2); PR_SET_KEEPCAPS keeps
// the permitted set across it), and each of Ambient is raised
// (PR_CAP_AMBIENT_RAISE).
type Capabilities struct {
	Bounding, Effective, Permitted, Inheritable, Ambient uint64
}

// Rlimit is one resource limit (setrlimit(2)): Resource is RLIMIT_*.
type Rlimit struct {
	Resource   int
	Soft, Hard uint64
}

// Seccomp is a compiled seccomp filter, installed last before execve(2)
// when the process has no_new_privs (it then needs no privilege), else
// before the capabilities are dropped (it needs CAP_SYS_ADMIN).
type Seccomp struct {
	Filter []unix.SockFilter
	Flags  uint // SECCOMP_FILTER_FLAG_*
}

// Winsize is a terminal's size in characters.
type Winsize struct{ Rows, Cols uint16 }

// Start runs cfg.Process in the namespaces of cfg.Target (see the package
// documentation for how). It returns once the program has been executed,
// or with the reason it could not be: [ErrNotRunning] when the target has
// exited, a [*StartError] when a step in the new process failed, whose
// ExitCode is 127 for a program that is not there and 126 for one that
// could not be run.
func Start(cfg Config) (*Proc, error) {
	if len(cfg.Process.Args) == 0 || cfg.Process.Args[0] == "" {
		return nil, errors.New("exec: no program to run")
	}
	t, err := openTarget(cfg.Target, cfg.Namespaces)
	if err != nil {
		return nil, err
	}
	defer t.Close()
	p := &Proc{joined: t.kinds, done: make(chan struct{})}
	s := &forkSpec{allSignals: ^uint64(0)}
	if err := p.prepare(s, t, cfg.Process); err != nil {
		p.closeAll()
		return nil, err
	}
	if err := p.start(s, t, cfg); err != nil {
		p.closeAll()
		return nil, err
	}
	return p, nil
}

// prepare fills in s: the namespaces, stdio, user, directory and program.
// Everything it opens is closed by closeAll, in the parent, once the
// children have their copies.
func (p *Proc) prepare(s *forkSpec, t *target, proc Process) error {
	for i, f := range t.files {
		s.nsFD[i], s.nsFlag[i] = int(f.Fd()), t.kinds[i].CloneFlag()
	}
	s.nns = len(t.files)

	var err error
	if err = p.setupStdio(t, proc); err != nil {
		return err
	}
	for i, f := range p.childFiles {
		// Above 2, so that moving them onto 0, 1 and 2 in child 2 cannot
		// overwrite one of them.
		fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 3)
		if err != nil {
			return fmt.Errorf("exec: dup stdio: %w", err)
		}
		s.stdio[i] = fd
		p.closeAfterStart = append(p.closeAfterStart, os.NewFile(uintptr(fd), f.Name()))
	}
	s.ctty = proc.Terminal

	s.uid, s.gid = uintptr(proc.UID), uintptr(proc.GID)
	p.uid, p.gid, p.cwd, p.groups = proc.UID, proc.GID, proc.Cwd, proc.AdditionalGIDs
	if n := len(proc.AdditionalGIDs); n > 0 {
		groups := make([]uint32, n)
		copy(groups, proc.AdditionalGIDs)
		s.groups, s.ngroups = &groups[0], uintptr(n)
	}
	if proc.Cwd != "" {
		if s.dir, err = syscall.BytePtrFromString(proc.Cwd); err != nil {
			return fmt.Errorf("exec: working directory %q: %w", proc.Cwd, err)
		}
	}
	p.argv0 = proc.Args[0]
	p.candidates, p.inPath = searchPath(proc.Args[0], proc.Env)
	if s.paths, err = bytePtrs(p.candidates); err != nil {
		return fmt.Errorf("exec %q: %w", proc.Args[0], err)
	}
	argv, err := syscall.SlicePtrFromStrings(proc.Args)
	if err != nil {
		return fmt.Errorf("exec %q: argument: %w", proc.Args[0], err)
	}
	envv, err := syscall.SlicePtrFromStrings(proc.Env)
	if err != nil {
		return fmt.Errorf("exec %q: environment: %w", proc.Args[0], err)
	}
	s.argv, s.envv = &argv[0], &envv[0]
	p.keep = []any{argv, envv, s.paths}
	return p.prepareConfinement(s, proc)
}

// prepareConfinement lays the process's capabilities, limits and filter
// out in s, for child 2's system calls.
func (p *Proc) prepareConfinement(s *forkSpec, proc Process) error {
	if c := proc.Caps; c != nil {
		s.caps = true
		last := capLast()
		for i := 0; i <= last && i < len(s.capDrop); i++ {
			if c.Bounding&(1<<uint(i)) == 0 {
				s.capDrop[s.ndrop] = uintptr(i)
				s.ndrop++
			}
			if c.Ambient&(1<<uint(i)) != 0 {
				s.ambient[s.nambient] = uintptr(i)
				s.nambient++
			}
		}
		s.capHdr = unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		s.capData[0] = unix.CapUserData{Effective: uint32(c.Effective), Permitted: uint32(c.Permitted), Inheritable: uint32(c.Inheritable)}
		s.capData[1] = unix.CapUserData{Effective: uint32(c.Effective >> 32), Permitted: uint32(c.Permitted >> 32), Inheritable: uint32(c.Inheritable >> 32)}
	}
	if len(proc.Rlimits) > len(s.rlimits) {
		return fmt.Errorf("exec: %d resource limits; at most %d", len(proc.Rlimits), len(s.rlimits))
	}
	for i, r := range proc.Rlimits {
		s.rlimits[i] = rlimitSpec{resource: uintptr(r.Resource), limit: unix.Rlimit{Cur: r.Soft, Max: r.Hard}}
	}
	s.nrlimits = len(proc.Rlimits)
	p.rlimits = proc.Rlimits
	s.nnp = proc.NoNewPrivileges
	if sc := proc.Seccomp; sc != nil && len(sc.Filter) > 0 {
		if len(sc.Filter) > 0xffff {
			return fmt.Errorf("exec: a seccomp filter of %d instructions; at most 65535", len(sc.Filter))
		}
		filter := append([]unix.SockFilter(nil), sc.Filter...)
		prog := &unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
		s.seccomp, s.scFlags = prog, uintptr(sc.Flags)
		p.keep = append(p.keep, filter, prog)
	}
	if proc.Umask != nil {
		s.setUmask, s.umask = true, uintptr(*proc.Umask)
	}
	if proc.PreserveFDs < 0 {
		return fmt.Errorf("exec: PreserveFDs %d: want 0 or more", proc.PreserveFDs)
	}
	s.preserve = proc.PreserveFDs
	return nil
}

// capLast is the highest capability this kernel knows
// (/proc/sys/kernel/cap_last_cap); 40 (CAP_CHECKPOINT_RESTORE) if it
// cannot be read.
func capLast() int {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		return 40
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 40
	}
	return n
}

func bytePtrs(ss []string) ([]*byte, error) {
	out := make([]*byte, len(ss))
	for i, s := range ss {
		b, err := syscall.BytePtrFromString(s)
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

// start forks child 1, puts it in the cgroup, lets it go, and reads the two
// reports: child 1's (child 2's PID, or how joining failed) and child 2's
// (nothing if execve(2) worked: the pipe closes on exec).
func (p *Proc) start(s *forkSpec, t *target, cfg Config) error {
	var goP, statusP, errP [2]int
	for _, fds := range []*[2]int{&goP, &statusP, &errP} {
		if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err != nil {
			return fmt.Errorf("exec: pipe: %w", err)
		}
	}
	goW := os.NewFile(uintptr(goP[1]), "go")
	statusR := os.NewFile(uintptr(statusP[0]), "status")
	errR := os.NewFile(uintptr(errP[0]), "exec-status")
	defer goW.Close()
	defer statusR.Close()
	defer errR.Close()
	s.goR, s.statusW, s.errW = goP[0], statusP[1], errP[1]

	pid1, err := s.fork()
	for _, fd := range []int{goP[0], statusP[1], errP[1]} {
		unix.Close(fd)
	}
	p.closeChildEnds()
	if err != nil {
		return fmt.Errorf("exec: clone: %w", err)
	}
	reaped := false
	reap := func() {
		if !reaped {
			var ws unix.WaitStatus
			unix.Wait4(pid1, &ws, 0, nil)
			reaped = true
		}
	}
	defer reap()
	if cfg.Cgroup != nil {
		if err := cfg.Cgroup.Apply(pid1); err != nil {
			unix.Kill(pid1, unix.SIGKILL)
			return fmt.Errorf("exec: move process %d into cgroup %s: %w", pid1, cfg.Cgroup.Path(), err)
		}
	}
	if _, err := goW.Write([]byte{1}); err != nil {
		return fmt.Errorf("exec: start process %d: %w", pid1, err)
	}
	r, err := readReport(statusR)
	reap()
	if err != nil {
		return fmt.Errorf("exec: process %d ended without a word: %w", pid1, err)
	}
	if r[0] != reportStarted {
		return p.failure(r, t)
	}
	p.pid = int(r[3])
	// Child 2 is ours (CLONE_PARENT); os.FindProcess takes a pidfd of it.
	if p.process, err = os.FindProcess(p.pid); err != nil {
		return fmt.Errorf("exec: find process %d: %w", p.pid, err)
	}
	r, err = readReport(errR)
	switch {
	case errors.Is(err, io.EOF):
		// The pipe closed on exec: the program runs.
		p.startCopies()
		return nil
	case err != nil:
		p.process.Kill()
		p.process.Wait()
		return fmt.Errorf("exec: process %d: %w", p.pid, err)
	}
	p.process.Wait() // it exited with 126 or 127
	return p.failure(r, t)
}

// readReport reads one report; io.EOF if the writer closed the pipe first.
func readReport(f *os.File) ([4]uint64, error) {
	var buf [32]byte
	var r [4]uint64
	n, err := io.ReadFull(f, buf[:])
	if n == 0 && (err == io.EOF || err == io.ErrUnexpectedEOF) {
		return r, io.EOF
	}
	if err != nil {
		return r, err
	}
	for i := range r {
		r[i] = binary.NativeEndian.Uint64(buf[8*i:])
	}
	return r, nil
}

// errOutsideRoot is the error of a working directory outside the
// container's root.
var errOutsideRoot = errors.New("the directory is outside the container's root (CVE-2024-21626)")

// failure turns a child's report into the error a person reads.
func (p *Proc) failure(r [4]uint64, t *target) error {
	errno, step, index := syscall.Errno(r[1]), r[2], r[3]
	e := &StartError{Err: errno, InPath: p.inPath}
	switch step {
	case stepWait:
		e.Op = "wait for the caller"
	case stepSetns:
		kind := Namespace("?")
		if index < uint64(len(t.kinds)) {
			kind = t.kinds[index]
		}
		e.Op = fmt.Sprintf("setns %s (%s)", kind, t.nsPath(kind))
	case stepClone:
		// fork(2) in a PID namespace whose init has exited: ENOMEM
		// (pid_namespaces(7)).
		if errno == syscall.ENOMEM {
			return fmt.Errorf("exec into host pid %d: %w: its PID 1 exited while joining", t.pid, ErrNotRunning)
		}
		e.Op = "fork into the PID namespace"
	case stepSetsid:
		e.Op = "setsid"
	case stepStdio:
		e.Op = fmt.Sprintf("dup stdio %d", index)
	case stepCtty:
		e.Op = "make the terminal the controlling terminal (TIOCSCTTY)"
	case stepSetgroups:
		e.Op = fmt.Sprintf("setgroups %v", p.groups)
		if errno == syscall.EPERM {
			e.Op += fmt.Sprintf(" (/proc/%d/setgroups says deny: the container's user namespace allows no supplementary groups)", t.pid)
		}
	case stepSetgid:
		e.Op = fmt.Sprintf("setresgid %d", p.gid)
	case stepSetuid:
		e.Op = fmt.Sprintf("setresuid %d", p.uid)
	case stepChdir:
		e.Op = "chdir"
		if p.cwd != "" {
			e.Op = "chdir " + p.cwd
		}
	case stepCwdOutside:
		e.Op, e.Err = "chdir "+p.cwd, errOutsideRoot
	case stepSignals:
		e.Op = "reset the signal mask"
	case stepDescriptors:
		e.Op = "mark descriptors close-on-exec"
	case stepRlimit:
		e.Op = "setrlimit"
		if index < uint64(len(p.rlimits)) {
			r := p.rlimits[index]
			e.Op = fmt.Sprintf("setrlimit %d soft %d hard %d", r.Resource, r.Soft, r.Hard)
		}
		if errno == syscall.EPERM {
			e.Op += " (raising a hard limit needs CAP_SYS_RESOURCE)"
		}
	case stepBounding:
		e.Op = fmt.Sprintf("drop capability %d from the bounding set (PR_CAPBSET_DROP)", index)
	case stepKeepCaps:
		e.Op = "PR_SET_KEEPCAPS"
	case stepCapset:
		e.Op = "capset (the capability sets asked for must be within the permitted set)"
	case stepAmbient:
		e.Op = fmt.Sprintf("raise ambient capability %d (it must be permitted and inheritable)", index)
	case stepNoNewPrivs:
		e.Op = "PR_SET_NO_NEW_PRIVS"
	case stepSeccomp:
		e.Op = "seccomp(SECCOMP_SET_MODE_FILTER)"
	case stepExec:
		name := p.argv0
		if index < uint64(len(p.candidates)) && !(p.inPath && (errno == syscall.ENOENT || errno == syscall.ENOTDIR)) {
			name = p.candidates[index]
		}
		e.Op = "exec " + strconv.Quote(name)
		e.NotFound = errno == syscall.ENOENT || errno == syscall.ENOTDIR
	default:
		e.Op = fmt.Sprintf("step %d", step)
	}
	return e
}
