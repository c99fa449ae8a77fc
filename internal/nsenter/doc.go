// Package nsenter starts a program inside the namespaces of a running
// process: what `docker exec`, `nsenter --target PID --all` and `runc exec`
// do. [Start] takes the target's PID, the namespaces to join, the cgroup to
// run in and a [Process] (arguments, environment, working directory, user,
// a terminal) and returns the running process, with its exit status and a
// way to send it signals.
//
// # Why Go cannot simply call setns(2)
//
// setns(2) moves the *calling thread* into a namespace, and a Go program is
// multi-threaded from its first instruction (the runtime starts its monitor
// thread before main's init functions run), with goroutines moving between
// threads. The usual remedy, runtime.LockOSThread, gets part of the way:
//
//   - a locked thread can join a UTS, IPC, network or cgroup namespace, and
//     the goroutine stays with it;
//   - the mount namespace also needs unshare(CLONE_FS) first, since the
//     runtime creates threads that share one filesystem context (root and
//     working directory), and setns refuses to change it under the others
//     (EINVAL);
//   - a PID namespace (and a time namespace) is joined only by the caller's
//     future children (pid_for_children): the caller keeps its PID, so a
//     fork must follow the setns;
//   - a user namespace cannot be joined by a multi-threaded process at all
//     (EINVAL: setns(2), "A multithreaded process may not change user
//     namespace"), nor a time namespace (EUSERS).
//
// runc therefore carries a C constructor, nsexec (libcontainer/nsenter),
// which runs before the Go runtime starts, while the process still has one
// thread: it joins the namespaces, forks for the PID namespace, and only
// then lets Go start. That needs cgo, and a binary linked with the C
// library.
//
// # What this package does instead
//
// The same thing without C: a raw fork. Go's own syscall.ForkExec shows
// that Go code may run between fork and exec if it makes system calls and
// nothing else (no allocation, no locks, no stack growth: the functions are
// //go:nosplit and call only syscall.RawSyscall). So:
//
//	caller (Go, many threads)
//	 │ opens /proc/<target>/ns/* and checks the target is alive (pidfd)
//	 │ clone(SIGCHLD): child 1 has one thread, a copy of the caller's memory
//	 ├──▶ child 1: waits for the word "go"
//	 │    (meanwhile the caller writes its PID into the cgroup's cgroup.procs)
//	 │    setns each namespace, the user namespace last
//	 │    clone(CLONE_PARENT): child 2 is in the PID namespace, and the
//	 │    caller's child, not child 1's
//	 │    reports child 2's PID and exits
//	 └──▶ child 2: setsid, a controlling terminal, stdio, groups, gid, uid,
//	      chdir, default signal handlers, no inherited descriptors, execve
//	      (each directory of PATH in turn, as execvp(3)), or reports errno
//
// No Go code of ours runs in the container: child 2 executes the
// container's program directly, so this program's file is never opened or
// executed from inside the container's root (CVE-2019-5736), and a binary
// that links the C library (os/user through archive/tar, say) can use
// this package. The exec'd process is a direct child of the caller, so
// [Proc.Wait] gets its exit status and [Proc.Signal] reaches it without a
// middle process; inside the container its parent PID is 0, as with docker
// exec, since its parent lives outside the container's PID namespace.
//
// A terminal ([Process.Terminal]) is a pseudo-terminal of the container's
// own devpts (its /dev/pts/ptmx, resolved inside its root), as runc
// allocates it, so `tty` inside names /dev/pts/N of the container; where
// the container has no devpts of its own, one of the host's
// (github.com/creack/pty).
//
// Errors follow Docker: a program that is not there gives a [*StartError]
// whose ExitCode is 127, one that cannot be run 126, and a target that has
// exited [ErrNotRunning].
//
// # Confinement
//
// An OCI runtime gives an exec'd process the container's own confinement
// (runc exec: the process's capabilities and limits, no_new_privs, the
// container's seccomp filter); [Process] carries them, and child 2 applies
// them with system calls in runc's order: resource limits (prlimit(2)),
// the bounding set (PR_CAPBSET_DROP), a filter that does not rely on
// no_new_privs, the user with PR_SET_KEEPCAPS, the capability sets
// (capset(2)) and the ambient set, the umask, the working directory, then
// no_new_privs and a filter that relies on it, last before execve(2).
// Left unset, the process has the caller's: every capability of root in
// the joined user namespace, its limits, no filter. No AppArmor or SELinux
// label is applied.
//
// Taught by lesson 07 (exec and commit). Used by the capstone's
// `unbox-runtime exec` and `unbox exec`.
package nsenter
