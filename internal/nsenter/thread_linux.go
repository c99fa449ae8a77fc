package nsenter

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// OnThrowawayThread runs fn on a thread of its own, which the Go runtime
// ends when fn returns, and waits for it. fn may change what belongs to one
// thread, setns(2) into a container's namespaces, unshare(2) of CLONE_FS,
// without any other goroutine ever running there, then or later.
//
// The usual recipe is a goroutine that calls runtime.LockOSThread and
// returns still locked: the runtime ends its thread instead of reusing it.
// It has a hole: the runtime never ends the main thread (the thread group
// leader, whose thread ID is the PID). A locked goroutine that returns on it
// parks it instead, for the rest of the process's life (runtime.mexit: "This
// is the main thread. Just wedge it."), and the main thread is where any
// goroutine may land. Parked in a container's namespaces, it keeps them
// alive (their mounts with them), and every /proc/self file (mountinfo,
// ns/*, cgroup) describes it, not the threads that go on working: the
// process looks as if it were in the container. So where the goroutine finds
// itself on the main thread, it keeps it (locked, no other goroutine can
// land there) and does the work from a second goroutine, which therefore
// runs elsewhere; then it hands the main thread back unchanged.
func OnThrowawayThread(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if unix.Gettid() == unix.Getpid() {
			err := OnThrowawayThread(fn)
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		errc <- fn()
		// Returning locked: the runtime ends this thread.
	}()
	return <-errc
}
