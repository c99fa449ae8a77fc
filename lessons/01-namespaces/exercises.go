//go:build linux && !solution

package main

// The exercises of the README, to fill in. Check one with
// `go run -exec sudo ./lessons/01-namespaces check N`: it runs your code and
// looks at what the kernel did. (A TODO(exercise N) here marks where you
// write, not unfinished work: the lesson runs without them.)

import (
	"time"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/kit"
)

// joinUTS joins the UTS namespace of process pid, as
// `nsenter --uts --target PID hostname` does, and returns the hostname it
// finds there. The check calls it in a goroutine of its own.
//
// TODO(exercise 1): open /proc/<pid>/ns/uts and call unix.Setns(fd,
// unix.CLONE_NEWUTS), then read the hostname. setns(2) moves the calling
// thread only, and Go moves goroutines between threads: lock this goroutine
// to its thread first (runtime.LockOSThread), and never unlock it, so that
// the thread, now in another namespace, ends with the goroutine instead of
// running other goroutines of the program there.
func joinUTS(pid int) (string, error) {
	return "", kit.TODO(1)
}

// reapChildren is tinyInit's answer to SIGCHLD (signals.go): it reaps the
// children that have exited, without blocking, and says whether the
// program, PID program, was one of them, and how it ended.
//
// TODO(exercise 2): this reaps the program and nothing else. But PID 1 is
// the parent of every orphan in its namespace (step 3), and an orphan that
// exits stays a zombie until PID 1 waits for it. Reap every child that has
// exited: unix.Wait4(-1, &status, unix.WNOHANG, nil) in a loop, until it
// says there is none left (pid 0, or ECHILD). One SIGCHLD can stand for
// several exits: the kernel does not queue it.
func reapChildren(program int) (unix.WaitStatus, bool) {
	var ws unix.WaitStatus
	pid, err := unix.Wait4(program, &ws, unix.WNOHANG, nil)
	return ws, err == nil && pid == program
}

// enterTimeNamespace runs in a child of the lesson, on its main thread. It
// makes the children this process starts from now on live in a new time
// namespace, whose CLOCK_MONOTONIC is ahead of the host's by offset, as
// `unshare --time --monotonic SECONDS` does (time_namespaces(7), Linux 5.6).
//
// TODO(exercise 3): unix.Unshare(unix.CLONE_NEWTIME) (the caller stays in
// its time namespace: see /proc/self/ns/time_for_children), then, before any
// child is born in the new namespace, write "monotonic <seconds> 0" to
// /proc/self/timens_offsets.
func enterTimeNamespace(offset time.Duration) error {
	return kit.TODO(3)
}
