package nsenter

// The two children of a raw fork (see the package documentation). Between
// clone(2) and execve(2) a child of a multi-threaded program has one thread
// and a copy of the program's memory, in which another thread may have
// held a lock, or been half-way through the allocator or the garbage
// collector, at the moment of the fork. So the children touch nothing but
// their own stack and the forkSpec laid out for them, and call nothing but
// system calls: every function they run is //go:nosplit (no stack growth:
// the linker checks the whole chain fits), //go:norace and //go:nocheckptr
// (no instrumentation), and calls only syscall.RawSyscall and
// syscall.RawSyscall6, which are nosplit too and do not tell the scheduler
// about the call. It is the discipline of Go's own syscall.forkAndExecInChild.

import (
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// forkSpec is everything both children need, prepared by the caller: file
// descriptors, C strings and pointers to them, numbers.
type forkSpec struct {
	goR     int // child 1 reads one byte from it before it does anything
	statusW int // child 1 reports child 2's PID, or its failure
	errW    int // child 2 reports its failure; closed on exec (O_CLOEXEC)

	nsFD   [8]int // the namespaces to join, in order
	nsFlag [8]uintptr
	nns    int

	stdio [3]int // descriptors for 0, 1 and 2, all above 2
	ctty  bool   // make stdin the controlling terminal

	uid, gid   uintptr
	groups     *uint32 // supplementary groups; nil with ngroups 0
	ngroups    uintptr
	dir        *byte     // working directory, or nil
	argv       **byte    // NULL-terminated
	envv       **byte    // NULL-terminated
	paths      []*byte   // execve each in turn, as execvp(3) walks PATH
	sigDefault [4]uint64 // a struct sigaction of SIG_DFL, no flags, no mask
	noSignals  uint64    // an empty signal set
	allSignals uint64    // a full signal set

	// Confinement (Process.Caps, Rlimits, NoNewPrivileges, Seccomp,
	// Umask, PreserveFDs); see child2 for the order.
	rlimits  [16]rlimitSpec
	nrlimits int
	caps     bool        // set the capabilities below
	capDrop  [64]uintptr // capabilities to drop from the bounding set
	ndrop    int
	capHdr   unix.CapUserHeader
	capData  [2]unix.CapUserData
	ambient  [64]uintptr // capabilities to raise in the ambient set
	nambient int
	nnp      bool
	seccomp  *unix.SockFprog // nil: no filter
	scFlags  uintptr
	umask    uintptr
	setUmask bool
	preserve int // descriptors 3 to 3+preserve-1 stay open

	cwd [4096]byte // getcwd(2)'s answer after the chdir (PATH_MAX)
}

// rlimitSpec is one setrlimit(2) for child 2.
type rlimitSpec struct {
	resource uintptr
	limit    unix.Rlimit
}

// A report is four words written to a pipe: what happened, errno, the step
// that failed, and the step's index (a namespace or a PATH entry), or for
// reportStarted, child 2's PID.
const (
	reportStarted = iota + 1
	reportFailed
)

// The steps a child can fail in.
const (
	stepWait = iota + 1
	stepSetns
	stepClone
	stepSetsid
	stepStdio
	stepCtty
	stepSetgroups
	stepSetgid
	stepSetuid
	stepChdir
	stepSignals
	stepDescriptors
	stepExec
	stepRlimit
	stepBounding
	stepKeepCaps
	stepCapset
	stepAmbient
	stepNoNewPrivs
	stepSeccomp
	stepCwdOutside
)

// fork starts child 1 and returns its PID. The calling thread has every
// signal blocked across clone(2), so that no signal handler of the Go
// runtime runs in the child; the parent unblocks them again at once.
func (s *forkSpec) fork() (int, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var old uint64
	if _, _, e := syscall.RawSyscall6(syscall.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK,
		uintptr(unsafe.Pointer(&s.allSignals)), uintptr(unsafe.Pointer(&old)), 8, 0, 0); e != 0 {
		return 0, e
	}
	pid, e := rawClone(uintptr(syscall.SIGCHLD))
	if pid == 0 && e == 0 {
		child1(s) // does not return
	}
	syscall.RawSyscall6(syscall.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&old)), 0, 8, 0, 0)
	runtime.KeepAlive(s)
	if e != 0 {
		return 0, e
	}
	return int(pid), nil
}

// child1 waits for the caller's word (it is being put in its cgroup),
// joins the namespaces, and forks child 2 into them: CLONE_PARENT makes
// child 2 the caller's child, as runc's nsexec makes its last stage.
//
//go:nosplit
//go:norace
//go:nocheckptr
func child1(s *forkSpec) {
	var b [1]byte
	n, _, e := syscall.RawSyscall(syscall.SYS_READ, uintptr(s.goR), uintptr(unsafe.Pointer(&b[0])), 1)
	if e != 0 || n != 1 {
		report(s.statusW, reportFailed, e, stepWait, 0) // the caller gave up
	}
	for i := 0; i < s.nns && i < len(s.nsFD); i++ {
		if _, _, e := syscall.RawSyscall(unix.SYS_SETNS, uintptr(s.nsFD[i]), s.nsFlag[i], 0); e != 0 {
			report(s.statusW, reportFailed, e, stepSetns, uintptr(i))
		}
	}
	pid, e := rawClone(unix.CLONE_PARENT | uintptr(syscall.SIGCHLD))
	if e != 0 {
		report(s.statusW, reportFailed, e, stepClone, 0)
	}
	if pid == 0 {
		child2(s)
	}
	report(s.statusW, reportStarted, 0, 0, pid)
}

// child2 is the process that runs the program: in its own session, with
// its stdio, user and working directory, default signal handling and no
// descriptor but 0, 1 and 2, it execs the program.
//
//go:nosplit
//go:norace
//go:nocheckptr
func child2(s *forkSpec) {
	if _, _, e := syscall.RawSyscall(syscall.SYS_SETSID, 0, 0, 0); e != 0 {
		report(s.errW, reportFailed, e, stepSetsid, 0)
	}
	for i := 0; i < len(s.stdio); i++ {
		if _, _, e := syscall.RawSyscall(syscall.SYS_DUP3, uintptr(s.stdio[i]), uintptr(i), 0); e != 0 {
			report(s.errW, reportFailed, e, stepStdio, uintptr(i))
		}
	}
	if s.ctty {
		if _, _, e := syscall.RawSyscall(syscall.SYS_IOCTL, 0, syscall.TIOCSCTTY, 0); e != 0 {
			report(s.errW, reportFailed, e, stepCtty, 0)
		}
	}
	// Limits first, while the process may still raise them
	// (CAP_SYS_RESOURCE), then the bounding set, whose drops need
	// CAP_SETPCAP, then a filter that does not rely on no_new_privs,
	// whose installation needs CAP_SYS_ADMIN: the order runc's init
	// takes (libcontainer/init_linux.go, finalizeNamespace).
	for i := 0; i < s.nrlimits && i < len(s.rlimits); i++ {
		if _, _, e := syscall.RawSyscall6(unix.SYS_PRLIMIT64, 0, s.rlimits[i].resource, uintptr(unsafe.Pointer(&s.rlimits[i].limit)), 0, 0, 0); e != 0 {
			report(s.errW, reportFailed, e, stepRlimit, uintptr(i))
		}
	}
	for i := 0; i < s.ndrop && i < len(s.capDrop); i++ {
		if _, _, e := syscall.RawSyscall6(unix.SYS_PRCTL, unix.PR_CAPBSET_DROP, s.capDrop[i], 0, 0, 0, 0); e != 0 && e != syscall.EINVAL {
			report(s.errW, reportFailed, e, stepBounding, s.capDrop[i])
		}
	}
	if s.seccomp != nil && !s.nnp {
		seccompFilter(s)
	}
	if s.caps {
		// Keep the permitted set across the change of user below; the
		// sets are then set exactly (capabilities(7)).
		if _, _, e := syscall.RawSyscall6(unix.SYS_PRCTL, unix.PR_SET_KEEPCAPS, 1, 0, 0, 0, 0); e != 0 {
			report(s.errW, reportFailed, e, stepKeepCaps, 0)
		}
	}
	// Drop the caller's supplementary groups. A user namespace whose
	// setgroups file says "deny" refuses even that (EPERM), and then the
	// caller's groups are unmapped there anyway.
	if _, _, e := syscall.RawSyscall(syscall.SYS_SETGROUPS, s.ngroups, uintptr(unsafe.Pointer(s.groups)), 0); e != 0 && (e != syscall.EPERM || s.ngroups != 0) {
		report(s.errW, reportFailed, e, stepSetgroups, 0)
	}
	if _, _, e := syscall.RawSyscall(syscall.SYS_SETRESGID, s.gid, s.gid, s.gid); e != 0 {
		report(s.errW, reportFailed, e, stepSetgid, 0)
	}
	if _, _, e := syscall.RawSyscall(syscall.SYS_SETRESUID, s.uid, s.uid, s.uid); e != 0 {
		report(s.errW, reportFailed, e, stepSetuid, 0)
	}
	if s.caps {
		if _, _, e := syscall.RawSyscall(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&s.capHdr)), uintptr(unsafe.Pointer(&s.capData[0])), 0); e != 0 {
			report(s.errW, reportFailed, e, stepCapset, 0)
		}
		// Exactly the ambient set asked for: none of the caller's (a
		// kernel before 4.3 has no ambient set: EINVAL).
		if _, _, e := syscall.RawSyscall6(unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0, 0); e != 0 && e != syscall.EINVAL {
			report(s.errW, reportFailed, e, stepAmbient, 0)
		}
		for i := 0; i < s.nambient && i < len(s.ambient); i++ {
			if _, _, e := syscall.RawSyscall6(unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, s.ambient[i], 0, 0, 0); e != 0 {
				report(s.errW, reportFailed, e, stepAmbient, s.ambient[i])
			}
		}
	}
	if s.setUmask {
		syscall.RawSyscall(syscall.SYS_UMASK, s.umask, 0, 0)
	}
	// As the user, so that a directory the user may not enter is an error.
	if s.dir != nil {
		if _, _, e := syscall.RawSyscall(syscall.SYS_CHDIR, uintptr(unsafe.Pointer(s.dir)), 0, 0); e != 0 {
			report(s.errW, reportFailed, e, stepChdir, 0)
		}
		// A directory outside the container's root, such as one of the
		// caller's descriptors that are still open here (/proc/self/fd/N,
		// CVE-2024-21626), is refused: getcwd(2) then answers
		// "(unreachable)/..." or ENOENT, never a path from "/".
		if _, _, e := syscall.RawSyscall(syscall.SYS_GETCWD, uintptr(unsafe.Pointer(&s.cwd[0])), uintptr(len(s.cwd)), 0); e != 0 {
			report(s.errW, reportFailed, e, stepCwdOutside, 0)
		}
		if s.cwd[0] != '/' {
			report(s.errW, reportFailed, syscall.ENOENT, stepCwdOutside, 0)
		}
	}
	// Every descriptor above stderr closes on exec: reexec.Conn.Exec's rule
	// (CVE-2024-21626), here for descriptors the caller's other goroutines
	// may have opened without O_CLOEXEC.
	// Those the caller passes on (PreserveFDs) stay open.
	first := uintptr(3 + s.preserve)
	if _, _, e := syscall.RawSyscall(unix.SYS_CLOSE_RANGE, first, ^uintptr(0), unix.CLOSE_RANGE_CLOEXEC); e != 0 {
		if e != syscall.ENOSYS { // before Linux 5.11: one fcntl(2) each
			report(s.errW, reportFailed, e, stepDescriptors, 0)
		}
		for fd := first; fd < 4096; fd++ {
			syscall.RawSyscall(syscall.SYS_FCNTL, fd, syscall.F_SETFD, syscall.FD_CLOEXEC)
		}
	}
	for fd := uintptr(3); fd < first; fd++ {
		if _, _, e := syscall.RawSyscall(syscall.SYS_FCNTL, fd, syscall.F_SETFD, 0); e != 0 {
			report(s.errW, reportFailed, e, stepDescriptors, fd)
		}
	}
	// The Go runtime's handlers would run in a process without its runtime:
	// every signal goes back to its default action, then none is blocked.
	for sig := uintptr(1); sig <= 64; sig++ {
		syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, sig, uintptr(unsafe.Pointer(&s.sigDefault)), 0, 8, 0, 0)
	}
	if _, _, e := syscall.RawSyscall6(syscall.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&s.noSignals)), 0, 8, 0, 0); e != 0 {
		report(s.errW, reportFailed, e, stepSignals, 0)
	}
	// no_new_privs, then a filter that relies on it, as late as can be:
	// the filter applies to every call from here on.
	if s.nnp {
		if _, _, e := syscall.RawSyscall6(unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0); e != 0 {
			report(s.errW, reportFailed, e, stepNoNewPrivs, 0)
		}
		if s.seccomp != nil {
			seccompFilter(s)
		}
	}
	// execvp(3): ENOENT (or ENOTDIR) means "not here, try the next
	// directory"; EACCES means "here, but not executable", which is the
	// answer if no later directory has it.
	var err syscall.Errno
	at, denied := 0, -1
	for i := 0; i < len(s.paths); i++ {
		_, _, e := syscall.RawSyscall(syscall.SYS_EXECVE, uintptr(unsafe.Pointer(s.paths[i])),
			uintptr(unsafe.Pointer(s.argv)), uintptr(unsafe.Pointer(s.envv)))
		err, at = e, i
		if e == syscall.EACCES && denied < 0 {
			denied = i
		}
		if e != syscall.ENOENT && e != syscall.ENOTDIR && e != syscall.EACCES {
			break
		}
	}
	if (err == syscall.ENOENT || err == syscall.ENOTDIR) && denied >= 0 {
		err, at = syscall.EACCES, denied
	}
	report(s.errW, reportFailed, err, stepExec, uintptr(at))
}

// seccompFilter installs the filter on child 2 (seccomp(2),
// SECCOMP_SET_MODE_FILTER).
//
//go:nosplit
//go:norace
//go:nocheckptr
func seccompFilter(s *forkSpec) {
	if _, _, e := syscall.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, s.scFlags, uintptr(unsafe.Pointer(s.seccomp))); e != 0 {
		report(s.errW, reportFailed, e, stepSeccomp, 0)
	}
}

// report writes a report to fd and ends the child: 0 when it started child
// 2, else 127 for a program not found and 126 for any other failure, as a
// shell would.
//
//go:nosplit
//go:norace
//go:nocheckptr
func report(fd int, what uintptr, errno syscall.Errno, step, index uintptr) {
	r := [4]uint64{uint64(what), uint64(errno), uint64(step), uint64(index)}
	syscall.RawSyscall(syscall.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&r[0])), unsafe.Sizeof(r))
	code := uintptr(0)
	switch {
	case what == reportStarted:
	case step == stepExec && (errno == syscall.ENOENT || errno == syscall.ENOTDIR):
		code = 127
	default:
		code = 126
	}
	for {
		syscall.RawSyscall(syscall.SYS_EXIT_GROUP, code, 0, 0)
	}
}

// rawClone is clone(2) with no new stack: like fork(2), the child returns
// here on a copy of the caller's stack. On s390x the first two arguments
// are swapped.
//
//go:nosplit
//go:norace
func rawClone(flags uintptr) (uintptr, syscall.Errno) {
	if runtime.GOARCH == "s390x" {
		pid, _, e := syscall.RawSyscall6(syscall.SYS_CLONE, 0, flags, 0, 0, 0, 0)
		return pid, e
	}
	pid, _, e := syscall.RawSyscall6(syscall.SYS_CLONE, flags, 0, 0, 0, 0, 0)
	return pid, e
}
