package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/nsenter"
)

// BuiltinRuntime names the runtime linked into unbox itself: the lifecycle
// library capstone/container with capstone/specconv, the code the
// unbox-runtime binary is a thin command line over.
const BuiltinRuntime = "unbox-runtime"

// Runtime is an OCI runtime as the engine drives it: the lifecycle of the
// runtime-spec (create, start, kill, delete) on a bundle, and exec. The
// engine speaks to any runc-compatible binary over its command line, as
// podman and Docker do (ociRuntime), and to its own runtime in process
// (builtinRuntime).
type Runtime interface {
	// Name is the runtime's name as `inspect` shows it (HostConfig.Runtime).
	Name() string
	// Create makes the container from the bundle; its init waits for
	// Start, as this process's child (the monitor is a subreaper, so an
	// init a runtime binary leaves behind is reparented to it). It
	// returns the init's PID.
	Create(ctx context.Context, id, bundle string, o CreateIO) (pid int, err error)
	Start(ctx context.Context, id string) error
	// Kill signals the init, or with all every process of the container.
	Kill(ctx context.Context, id string, sig unix.Signal, all bool) error
	// Delete removes the runtime's state for the container, and with
	// force its processes. A container the runtime does not know is not
	// an error.
	Delete(ctx context.Context, id string, force bool) error
	// Exec runs p in the running container, as this process's child,
	// and returns its exit status once it ends.
	Exec(ctx context.Context, id string, p *specs.Process, o ExecIO) (int, error)
	// Pause freezes the container's processes (its cgroup); Resume
	// thaws them.
	Pause(ctx context.Context, id string) error
	Resume(ctx context.Context, id string) error
	// Update sets the running container's cgroup limits to r's.
	Update(ctx context.Context, id string, r *specs.LinuxResources) error
}

// CreateIO is the container's stdio: files the init inherits, or a
// console socket that gets the master of its terminal.
type CreateIO struct {
	Stdin, Stdout, Stderr *os.File
	ConsoleSocket         string
}

// ExecIO is an exec'd process's stdio; with a terminal (p.Terminal),
// Console gets the master side once the process has it.
type ExecIO struct {
	Stdin, Stdout, Stderr *os.File
	Console               func(master *os.File)
}

// runtimeFor opens the runtime name names: BuiltinRuntime, another name
// (looked up in PATH: runc, crun), or the path of a runc-compatible
// binary. Each runtime keeps its state under <state>/runtime/<name>.
func (e *Engine) runtimeFor(name string) (Runtime, error) {
	if name == "" {
		name = e.Runtime
	}
	if name == BuiltinRuntime {
		return &builtinRuntime{root: filepath.Join(e.State, "runtime", BuiltinRuntime)}, nil
	}
	path := name
	if !strings.Contains(name, "/") {
		p, err := exec.LookPath(name)
		if err != nil {
			return nil, fmt.Errorf("unknown runtime %q: %w (give a runc-compatible binary's name in PATH or its path; the built-in one is %s)", name, err, BuiltinRuntime)
		}
		path = p
	} else if fi, err := os.Stat(name); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		return nil, fmt.Errorf("runtime %q: not an executable file", name)
	}
	key := strings.NewReplacer("/", "_", ".", "_").Replace(strings.TrimPrefix(name, "/"))
	return &ociRuntime{name: name, path: path, root: filepath.Join(e.State, "runtime", key)}, nil
}

// ExitCodeError is a failure with the exit status Docker gives it:
// 125 for the engine's own errors, 126 for a command that cannot be
// invoked, 127 for one that is not found.
type ExitCodeError struct {
	Code int
	Err  error
}

func (e *ExitCodeError) Error() string { return e.Err.Error() }
func (e *ExitCodeError) Unwrap() error { return e.Err }

// startFailure gives a runtime's failure to start a container's process
// Docker's exit status, read from the runtime's words (runc's and ours
// are the same: `exec: "x": executable file not found in $PATH`).
func startFailure(err error) error {
	if err == nil {
		return nil
	}
	var ec *ExitCodeError
	if errors.As(err, &ec) {
		return err
	}
	// The built-in runtime's exec says which it was: 127 for a program
	// not found, 126 for one that could not be run.
	var se *nsenter.StartError
	if errors.As(err, &se) {
		return &ExitCodeError{Code: se.ExitCode(), Err: err}
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "executable file not found"), strings.Contains(msg, "no such file or directory") && strings.Contains(msg, "exec"):
		return &ExitCodeError{Code: 127, Err: err}
	case strings.Contains(msg, "permission denied") && strings.Contains(msg, "exec"), strings.Contains(msg, "is a directory"):
		return &ExitCodeError{Code: 126, Err: err}
	}
	return &ExitCodeError{Code: 125, Err: err}
}
