package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/cgroups"
	"github.com/unboxlab/unbox/internal/reexec"
	"github.com/unboxlab/unbox/internal/statefile"
)

// StartOptions are how a container is started.
type StartOptions struct {
	// Attach connects a Session before the container starts (run
	// without -d, start -a), so that no output is missed.
	Attach bool
	// Stdin: the session sends stdin (-i).
	Stdin bool
	// Rows and Cols size its terminal.
	Rows, Cols uint16
}

// ErrRunning is the error of Start for a container that runs already.
var ErrRunning = errors.New("the container is already running")

// Start starts a created or stopped container: it starts the container's
// monitor, which starts the container, and returns once the container
// runs (or failed to start: an *ExitCodeError with Docker's status). With
// Attach the session is connected first.
func (e *Engine) Start(ctx context.Context, ref string, o StartOptions) (*Session, error) {
	c, unlock, err := e.lockRef(ref)
	if err != nil {
		return nil, err
	}
	locked := true
	defer func() {
		if locked {
			unlock()
		}
	}()
	h := attachHello{Stdin: o.Stdin, Output: true}
	if e.monitorAlive(c.ID) {
		if o.Attach {
			return e.attach(c.ID, h)
		}
		return nil, ErrRunning
	}
	switch c.State.Status {
	case Removing, Dead:
		return nil, fmt.Errorf("cannot start container %s: it is %s", c.Name, c.State.Status)
	}
	if c.State.ManuallyStopped {
		c.State.ManuallyStopped = false
		if err := e.save(c); err != nil {
			return nil, err
		}
	}
	var sess *Session
	child := reexec.NewChild("monitor")
	child.Cmd.Args[0] = "unbox"
	child.Cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	// One P: the monitor idles for the container's life, and each P
	// costs it memory (its caches, a thread) for nothing.
	child.Cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	logf, err := os.OpenFile(filepath.Join(e.dir(c.ID), "monitor.log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	child.Cmd.Stderr = logf
	if o.Attach {
		var theirs *os.File
		if sess, theirs, err = attachPair(h); err != nil {
			return nil, err
		}
		defer theirs.Close()
		child.Cmd.ExtraFiles = []*os.File{theirs}
	}
	fail := func(err error) (*Session, error) {
		if sess != nil {
			sess.Close()
		}
		return nil, err
	}
	if err := child.Start(context.Background()); err != nil {
		return fail(err)
	}
	req := monitorRequest{Options: e.Options, ID: c.ID, Rows: o.Rows, Cols: o.Cols, Attached: o.Attach}
	var r monitorReply
	if err := child.Send(req); err != nil {
		child.Close()
		return fail(err)
	}
	if err := child.Recv(&r); err != nil {
		child.Close()
		return fail(fmt.Errorf("start the container's monitor: %w", err))
	}
	// The monitor is registered: a concurrent start sees it, and it needs
	// the container's lock for the record.
	unlock()
	locked = false
	if err := child.Recv(&r); err != nil {
		child.Close()
		return fail(fmt.Errorf("the container's monitor: %w", err))
	}
	child.Release()
	if r.Stage == "failed" {
		return fail(&ExitCodeError{Code: r.ExitCode, Err: errors.New(r.Error)})
	}
	return sess, nil
}

// Stop stops a running container (`unbox stop -t`): its stop signal
// (SIGTERM unless the image or --stop-signal says otherwise) to its
// process, then, after timeout, SIGKILL to every process in it. It
// returns once the monitor has recorded the exit and cleaned up. The
// restart policy does not start it again.
func (e *Engine) Stop(ctx context.Context, ref string, timeout time.Duration) (*Container, error) {
	c, err := e.Lookup(ref)
	if err != nil {
		return nil, err
	}
	if c, err = e.update(c.ID, func(c *Container) error { c.State.ManuallyStopped = true; return nil }); err != nil {
		return nil, err
	}
	mi, err := e.readMonitor(c.ID)
	if err != nil || !alive(mi.Pid, mi.Start) {
		return c, nil
	}
	rt, err := e.runtimeFor(c.HostConfig.Runtime)
	if err != nil {
		return nil, err
	}
	sig := unix.SIGTERM
	if c.Config.StopSignal != "" {
		if s, err := ParseSignal(c.Config.StopSignal); err == nil {
			sig = s
		}
	}
	_ = rt.Kill(ctx, c.ID, sig, false)
	e.thawSignalled(ctx, rt, c.ID)
	if waitGone(mi, timeout) {
		return c, nil
	}
	_ = rt.Kill(ctx, c.ID, unix.SIGKILL, true)
	e.thawSignalled(ctx, rt, c.ID)
	if !waitGone(mi, 30*time.Second) {
		return nil, fmt.Errorf("container %s did not stop", c.Name)
	}
	return c, nil
}

// waitGone waits up to d for the process mi names to end, polling a
// pidfd (pidfd_open(2): readable once the process has exited, whoever
// its parent is).
func waitGone(mi monitorInfo, d time.Duration) bool {
	fd, err := unix.PidfdOpen(mi.Pid, 0)
	if err != nil {
		return !alive(mi.Pid, mi.Start)
	}
	defer unix.Close(fd)
	if !alive(mi.Pid, mi.Start) {
		return true
	}
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left < 0 {
			left = 0
		}
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, int(left.Milliseconds()))
		if n > 0 {
			return true
		}
		if err != unix.EINTR && left == 0 {
			return false
		}
	}
}

// Kill sends sig to a running container's process (`unbox kill -s`).
func (e *Engine) Kill(ctx context.Context, ref string, sig unix.Signal) (*Container, error) {
	c, err := e.Lookup(ref)
	if err != nil {
		return nil, err
	}
	if !c.State.Running || !e.monitorAlive(c.ID) {
		return nil, fmt.Errorf("cannot kill container %s: container %s is not running", ref, Short(c.ID))
	}
	if c, err = e.update(c.ID, func(c *Container) error { c.State.ManuallyStopped = true; return nil }); err != nil {
		return nil, err
	}
	rt, err := e.runtimeFor(c.HostConfig.Runtime)
	if err != nil {
		return nil, err
	}
	if err := rt.Kill(ctx, c.ID, sig, false); err != nil {
		return nil, fmt.Errorf("cannot kill container %s: %w", ref, err)
	}
	// Another signal waits in a paused container for unpause.
	if sig == unix.SIGKILL {
		e.thawSignalled(ctx, rt, c.ID)
	}
	return c, nil
}

// Wait waits until the container is not running (`unbox wait`) and
// returns its exit status.
func (e *Engine) Wait(ctx context.Context, ref string) (int, error) {
	c, err := e.Lookup(ref)
	if err != nil {
		return 0, err
	}
	for e.monitorAlive(c.ID) {
		s, err := e.attach(c.ID, attachHello{})
		if err != nil {
			break // it ended meanwhile
		}
		code, err := s.Copy(nil, nil, nil)
		if err == nil || errors.As(err, new(*ExitError)) {
			return code, nil
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
	}
	c, err = e.load(c.ID)
	if err != nil {
		return 0, err
	}
	return c.State.ExitCode, nil
}

// Remove removes a container (`unbox rm`): a running one only with force
// (it is killed), its anonymous volumes with volumes.
func (e *Engine) Remove(ctx context.Context, ref string, force, volumes bool) (*Container, error) {
	c, unlock, err := e.lockRef(ref)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if !force && (e.monitorAlive(c.ID) || c.State.Status == Running || c.State.Status == Paused || c.State.Status == Restarting) {
		return nil, fmt.Errorf("cannot remove container %q: container is %s: stop the container before removing or force remove", "/"+c.Name, c.State.Status)
	}
	return c, e.removeLocked(c, volumes)
}

// remove removes a container, taking its lock (the monitor's --rm).
func (e *Engine) remove(_ context.Context, id string, volumes, _ bool) error {
	c, unlock, err := e.lock(id)
	if err != nil {
		return err
	}
	defer unlock()
	return e.removeLocked(c, volumes)
}

// removeLocked removes c, whose lock the caller holds. It marks the
// record "removing" first, then kills the monitor (so nothing starts the
// container again), tears the container down, releases its volumes and
// renames its directory away before deleting it: a removal killed at any
// point leaves a record that says "removing" (which the next command
// turns into "dead", for rm or prune to finish) or nothing.
func (e *Engine) removeLocked(c *Container, volumes bool) error {
	c.State.set(Removing)
	if err := e.save(c); err != nil {
		return err
	}
	e.killMonitor(c.ID)
	rt, _ := e.runtimeFor(c.HostConfig.Runtime)
	netw, _ := e.network(c)
	if err := e.teardown(c, rt, netw); err != nil {
		return fmt.Errorf("remove container %s: %w", c.Name, err)
	}
	if _, err := e.Volumes.Detach(c.ID, volumes); err != nil {
		return fmt.Errorf("remove container %s: %w", c.Name, err)
	}
	trash := filepath.Join(e.Root, "containers", ".trash-"+c.ID)
	if err := os.Rename(e.dir(c.ID), trash); err != nil {
		return fmt.Errorf("remove container %s: %w", c.Name, err)
	}
	os.RemoveAll(e.runDir(c.ID))
	return os.RemoveAll(trash)
}

// destroyCgroup removes the container's cgroup, whatever is left in it,
// in every hierarchy, and its parent when no other container's is in it:
// the runtime's job, made sure of, since a runtime killed half-way leaves
// it.
func (e *Engine) destroyCgroup(c *Container) error {
	host, err := cgroups.OpenHost(cgroups.DefaultRoot)
	if err != nil {
		return err
	}
	m, err := host.New(cgroups.Config{Parent: c.HostConfig.CgroupParent, Name: c.ID, Controllers: []string{"cpu", "cpuset", "memory", "pids", "freezer"}})
	if err != nil {
		return err
	}
	if err := m.Destroy(); err != nil {
		return err
	}
	// The runtime may have made the container's cgroup, and so the
	// parent, in hierarchies beyond those five: unbox-runtime in devices
	// (its device rules), runc in every v1 hierarchy (blkio, systemd,
	// unified ...). What is left empty there goes too; rmdir(2) removes
	// only an empty cgroup, so another container's keeps the parent
	// (EBUSY), and on v2 there is one tree, which the loop's first entry
	// already covered.
	dirs := m.Dirs()
	if !host.Mode.V2() {
		hs, _ := os.ReadDir(host.Root)
		for _, h := range hs {
			if h.IsDir() {
				dirs = append(dirs, filepath.Join(host.Root, h.Name(), c.HostConfig.CgroupParent, c.ID))
			}
		}
	}
	for _, d := range dirs {
		_ = unix.Rmdir(d)
		_ = unix.Rmdir(filepath.Dir(d)) // EBUSY while another container's is there
	}
	return nil
}

// lockTmp is statefile.TryLock, for repair.
var lockTmp = statefile.TryLock
