// Package reexec runs code inside new namespaces the way container runtimes
// do in Go: the program starts itself again as "<program> init <stage>", the
// kernel creates the namespaces for that new process (clone(2) flags in
// exec.Cmd's SysProcAttr), and the new process runs the stage's code from its
// first instruction, inside them. runc calls its stage "runc init".
//
// Why Go needs it: a Go program is multi-threaded from its first instruction,
// and unshare(2) and setns(2) change the namespaces of the calling *thread*
// only, while the Go scheduler moves goroutines between threads at will. A C
// program would fork(2) and unshare in the child; Go cannot fork without exec.
//
// The pattern, as in runc:
//
//   - The "init" argument is caught before any flag parsing: [Init] is the
//     first call in main (kit.Main and kittest.Main make it), and a
//     re-exec'd child locks its main goroutine to the main thread from
//     package init, so code that does call unshare or setns acts on the
//     thread it keeps running on.
//   - Configuration and errors travel over an inherited socket, fd 3,
//     announced by one environment variable; never over argv or the
//     environment, which other processes can read.
//   - The child gets SIGKILL if its parent dies (Pdeathsig), so nothing is
//     left behind by a parent killed hard.
//   - The child ends in exec(2) ([Conn.Exec]) or in a non-zero exit after
//     sending its error, which reaches the parent in the child's own words.
//   - Its stage is visible: ps shows "<program> init <stage>", and the
//     thread name (comm, prctl(2) PR_SET_NAME) is the stage.
//
// # Caveats
//
// Pdeathsig is per thread. prctl(2) PR_SET_PDEATHSIG: the signal is sent
// when the *thread* that created the child exits, not the process. The Go
// runtime never ends a thread on its own, except one whose goroutine exits
// while locked with runtime.LockOSThread. So never start a child from a
// goroutine that locked its thread (to setns, say) and then returns: the
// thread goes, and the child is killed with it. Start it from an unlocked
// goroutine, or keep the locked one alive as long as the child. (The main
// thread is the exception the other way: the runtime parks it instead of
// ending it, so a child started there outlives the goroutine.)
// TestPdeathsigFollowsTheThread shows it happen.
//
// File descriptors meant for the child must not leak, on any path. A
// descriptor opened for a child and kept by the parent after a failed or
// skipped start holds the other end open (the parent never sees EOF) and
// stays in every later child. [Child] creates its socket inside
// [Child.Start] and closes the child's end before Start returns, whether the
// start worked or not; a Child that is never started holds no descriptor.
//
// Nothing may leak into the program a container finally runs. Go opens every
// descriptor close-on-exec, and the child marks its end of the socket so as
// soon as it starts; still, [Conn.Exec] marks every descriptor above stderr
// close-on-exec before execve(2), and refuses to exec when the working
// directory is outside the process's root. CVE-2024-21626 is what happens
// otherwise: runc leaked a descriptor of the host's /sys/fs/cgroup into the
// container, and a working directory of /proc/self/fd/N put the container's
// first process on the host's filesystem.
//
// The child runs this program's file. A runtime whose init stage runs inside
// a container's namespaces must not let the container reach that file
// through /proc/<pid>/exe and overwrite it (CVE-2019-5736); runc re-execs a
// sealed memfd copy. Lessons do not need that; the capstone's runtime does.
//
// Taught by: lesson 01 (its README explains the pattern); every later lesson
// runs its children this way. Used by the capstone's unbox-runtime for the
// container's init (`unbox-runtime create`).
package reexec
