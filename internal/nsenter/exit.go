package nsenter

import (
	"errors"
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// ExitStatus is how a process ended: with an exit code, or killed by a
// signal.
type ExitStatus struct {
	Code   int
	Signal syscall.Signal // non-zero if a signal killed it
}

// ExitCode is the status as a shell reports it in $?: the code, or 128 plus
// the signal's number.
func (s ExitStatus) ExitCode() int {
	if s.Signal != 0 {
		return 128 + int(s.Signal)
	}
	return s.Code
}

func (s ExitStatus) String() string {
	if s.Signal != 0 {
		return fmt.Sprintf("killed by %s", signalName(s.Signal))
	}
	return fmt.Sprintf("exit status %d", s.Code)
}

// ErrNotRunning is the error of [Start] for a target that has exited: its
// namespaces went with it, so there is nothing to join. Docker says
// "container ... is not running".
var ErrNotRunning = errors.New("the container is not running")

// StartError is a failure of the started process before its program ran:
// joining a namespace, changing user or directory, or execve(2) itself.
type StartError struct {
	// Op is what failed, as a person would read it: "setns mnt",
	// "chdir /srv", `exec "nosuch"`.
	Op  string
	Err error
	// NotFound reports that no program of that name was found (ENOENT
	// from execve(2), in every directory of PATH).
	NotFound bool
	// InPath reports that the program was looked for in PATH.
	InPath bool
}

func (e *StartError) Error() string {
	if e.NotFound && e.InPath {
		return e.Op + ": executable file not found in $PATH"
	}
	return e.Op + ": " + e.Err.Error()
}

func (e *StartError) Unwrap() error { return e.Err }

// ExitCode is the status Docker gives for the failure (docker run(1), "Exit
// Status"): 127 when the command was not found, 126 when it was found but
// could not be invoked (not executable, a directory, a failure on the way
// to it).
func (e *StartError) ExitCode() int {
	if e.NotFound {
		return 127
	}
	return 126
}

// signalName spells a signal as kill -l does: SIGTERM.
func signalName(sig syscall.Signal) string {
	if n := unix.SignalName(sig); n != "" {
		return n
	}
	return fmt.Sprintf("signal %d", int(sig))
}
