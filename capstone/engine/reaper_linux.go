package engine

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// InitPath is where --init's reaper appears in the container, and the
// argv[0] it is started with: the engine's own binary, which main hands to
// [Reap] when it is called so. Under /dev, a tmpfs of the container's own,
// so the mount point is never made in the container's upper dir (and never
// committed).
const InitPath = "/dev/init"

// reaper is the host path of --init's reaper: this binary, by the path
// /proc/self/exe names. Not the magic link itself: it leads to the file's
// mount in the monitor's mount namespace, which a runtime's new mount
// namespace cannot bind from (mount(2), EINVAL). A binary that is gone
// (`go run`'s, once it exited, for a restart) is an error that says so.
func (e *Engine) reaper() (string, error) {
	if err := checkStaticSelf(); err != nil {
		return "", err
	}
	self, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(self); err != nil {
		return "", &ExitCodeError{Code: 125, Err: fmt.Errorf("--init runs this program, %s, in the container, and it is gone: %w", self, err)}
	}
	return self, nil
}

// checkStaticSelf refuses --init with a binary that needs a dynamic loader:
// the reaper runs inside the container, after pivot_root, where the host's
// C library is not (busybox images have none at all). `go build` links a
// program statically unless a package it uses needs cgo (net's resolver
// does, with a C compiler present), so the README installs unbox with
// CGO_ENABLED=0.
func checkStaticSelf() error {
	f, err := elf.Open("/proc/self/exe")
	if err != nil {
		return &ExitCodeError{Code: 125, Err: fmt.Errorf("--init: read this program: %w", err)}
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return &ExitCodeError{Code: 125, Err: errors.New("--init runs this program inside the container, where the host's C library is not, " +
				"and this build of unbox is linked dynamically: build it static, CGO_ENABLED=0 go build ./capstone/cmd/unbox, as the README installs it")}
		}
	}
	return nil
}

// Reap is --init: PID 1 of the container, as Docker's docker-init (tini)
// and podman's catatonit are. It starts args (after an optional "--") as
// its child, passes on every signal it gets to it, reaps every process
// that ends in the container (orphans are reparented to PID 1, and a PID 1
// that never waits leaves them zombies), and exits with the child's status
// once the child ends: its exit code, or 128 + the signal that killed it.
// A program that is PID 1 gets no signal it has no handler for
// (pid_namespaces(7)), which is why `docker stop` of a plain `sleep` waits
// for its timeout; under Reap the child is not PID 1, and SIGTERM ends it.
//
// Reap takes every signal before it starts the command, but not before the
// Go runtime and this binary's packages have started: a SIGTERM in that
// window ends the reaper itself, with status 2. tini's window, a small C
// program's, is shorter.
func Reap(args []string) int {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "init: no command to run")
		return 125
	}
	sigs := make(chan os.Signal, 64)
	signal.Notify(sigs) // every signal, before the child exists
	path, err := exec.LookPath(args[0])
	if err != nil {
		fmt.Fprintf(os.Stderr, "init: %v\n", err)
		return 127
	}
	attr := &syscall.ProcAttr{Env: os.Environ(), Files: []uintptr{0, 1, 2}, Sys: &syscall.SysProcAttr{}}
	tty := isTerminal(0)
	if tty {
		// A new process group in the terminal's foreground, so the
		// terminal's ^C reaches the child once, as tini does.
		attr.Sys.Setpgid, attr.Sys.Foreground, attr.Sys.Ctty = true, true, 0
	}
	child, err := syscall.ForkExec(path, args, attr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "init: exec %s: %v\n", args[0], err)
		if errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.ENOEXEC) {
			return 126
		}
		return 127
	}
	for s := range sigs {
		sig := s.(syscall.Signal)
		switch sig {
		case syscall.SIGCHLD:
		case syscall.SIGURG: // the Go runtime's own preemption signal
			continue
		default:
			_ = syscall.Kill(child, sig)
			continue
		}
		if status, done := reapAll(child); done {
			return status
		}
	}
	return 0 // not reached: sigs is never closed
}

// reapAll waits for every child that has ended, without blocking, and says
// whether the main child was one of them, with its status as a shell gives
// it.
func reapAll(child int) (int, bool) {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil || pid <= 0 {
			return 0, false
		}
		if pid != child {
			continue
		}
		if ws.Signaled() {
			return 128 + int(ws.Signal()), true
		}
		return ws.ExitStatus(), true
	}
}

func isTerminal(fd int) bool {
	_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	return err == nil
}
