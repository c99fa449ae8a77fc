package engine

import (
	"context"
	"errors"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/capstone/container"
	"github.com/unboxlab/unbox/capstone/specconv"
)

// builtinRuntime is unbox-runtime linked in: the same library calls the
// unbox-runtime binary makes for create, start, kill, delete and exec,
// made in this process instead of in a runtime process started for each.
// The container's init is this program again ("unbox init container",
// internal/reexec), re-executed through a read-only bind mount of its own
// file (CVE-2019-5736, capstone/container), so the engine carries its
// runtime wherever it goes, a `go run` build included.
type builtinRuntime struct{ root string }

func (r *builtinRuntime) Name() string { return BuiltinRuntime }

func (r *builtinRuntime) Create(ctx context.Context, id, bundle string, o CreateIO) (int, error) {
	spec, err := specconv.Load(bundle)
	if err != nil {
		return 0, err
	}
	cfg, err := specconv.Convert(spec, specconv.Options{ID: id, Bundle: bundle})
	if err != nil {
		return 0, err
	}
	c, err := container.Create(ctx, container.CreateOpts{
		Root: r.root, ID: id, Bundle: bundle, Config: cfg, ConsoleSocket: o.ConsoleSocket,
		Stdin: o.Stdin, Stdout: o.Stdout, Stderr: o.Stderr,
	})
	if err != nil {
		return 0, err
	}
	return c.Pid(), nil
}

func (r *builtinRuntime) Start(_ context.Context, id string) error {
	c, err := container.Load(r.root, id)
	if err != nil {
		return err
	}
	return hookWarning(c.Start())
}

func (r *builtinRuntime) Kill(_ context.Context, id string, sig unix.Signal, all bool) error {
	c, err := container.Load(r.root, id)
	if err != nil {
		return err
	}
	return c.Kill(sig, all)
}

func (r *builtinRuntime) Delete(_ context.Context, id string, force bool) error {
	c, err := container.Load(r.root, id)
	if errors.Is(err, container.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return hookWarning(c.Delete(force))
}

func (r *builtinRuntime) Pause(_ context.Context, id string) error {
	c, err := container.Load(r.root, id)
	if err != nil {
		return err
	}
	return c.Pause()
}

func (r *builtinRuntime) Resume(_ context.Context, id string) error {
	c, err := container.Load(r.root, id)
	if err != nil {
		return err
	}
	return c.Resume()
}

func (r *builtinRuntime) Update(_ context.Context, id string, lr *specs.LinuxResources) error {
	res, err := specconv.Resources(lr)
	if err != nil {
		return err
	}
	c, err := container.Load(r.root, id)
	if err != nil {
		return err
	}
	return c.Update(res)
}

func (r *builtinRuntime) Exec(ctx context.Context, id string, p *specs.Process, o ExecIO) (int, error) {
	c, err := container.Load(r.root, id)
	if err != nil {
		return 0, err
	}
	proc, err := specconv.Process(p)
	if err != nil {
		return 0, err
	}
	e, err := c.Exec(ctx, container.ExecOpts{Process: proc, Stdin: o.Stdin, Stdout: o.Stdout, Stderr: o.Stderr})
	if err != nil {
		return 0, startFailure(err)
	}
	if e.Console != nil && o.Console != nil {
		o.Console(e.Console)
	}
	// A cancelled ctx (a healthcheck's timeout) kills the process.
	stop := context.AfterFunc(ctx, func() { e.Kill() })
	ws, err := e.Wait()
	stop()
	if err != nil {
		return 0, startFailure(err)
	}
	return waitStatus(ws), nil
}

// hookWarning drops a poststart or poststop hook's failure, which does
// not stop the lifecycle (the engine sets no hooks of its own).
func hookWarning(err error) error {
	var w *container.HookWarning
	if errors.As(err, &w) {
		return nil
	}
	return err
}

// waitStatus is the exit status a shell reports for ws: the code, or 128
// plus the signal that killed the process.
func waitStatus(ws unix.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}
