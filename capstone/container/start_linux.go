package container

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// Start lets the created container's init exec its process: it opens the
// exec FIFO the init is blocked on and reads the init's byte, then removes
// the FIFO, which makes the container "running", and runs the poststart
// hooks. A poststart hook that fails is returned as a warning
// (*HookWarning): the container runs anyway (runtime-spec: "the runtime
// MUST log a warning").
func (c *Container) Start() error {
	unlock, err := c.locked()
	if err != nil {
		return err
	}
	defer unlock()
	switch s := c.Status(); s {
	case Created:
	case Stopped:
		return errors.New("cannot start a container that has stopped")
	case Running, Paused:
		return errors.New("cannot start an already running container")
	default:
		return fmt.Errorf("cannot start a container in the %s state", s)
	}
	if err := c.openFifo(); err != nil {
		return err
	}
	return c.poststart()
}

// Start starts a prepared container (run): as [Container.Start], without
// the lock and the status check, since this process made it.
func (p *Prepared) Start() error {
	if err := p.openFifo(); err != nil {
		// The init said why it failed, on the socket this process
		// still holds.
		if _, werr := p.Wait(); werr != nil {
			return werr
		}
		return err
	}
	return p.poststart()
}

func (c *Container) poststart() error {
	if len(c.rec.Config.Hooks.Poststart) == 0 {
		return nil
	}
	st := c.stateAs(Running)
	if err := runHooks(context.Background(), "poststart", c.rec.Config.Hooks.Poststart, st); err != nil {
		return &HookWarning{Err: err}
	}
	return nil
}

// HookWarning is a failed hook that does not stop the lifecycle
// (poststart, poststop).
type HookWarning struct{ Err error }

func (w *HookWarning) Error() string { return w.Err.Error() }
func (w *HookWarning) Unwrap() error { return w.Err }

// openFifo is the reading side of the init's wait (init_linux.go:
// waitForStart): the init's byte says it goes on, the end of the FIFO (its
// descriptor closed by the exec) that the process has been exec'd. The open
// does not block (O_NONBLOCK), so the reads are polled together with the
// init's life: an init that died meanwhile would otherwise leave start
// waiting forever.
func (c *Container) openFifo() error {
	path := filepath.Join(c.dir, fifoName)
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer unix.Close(fd)
	started := false
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	buf := make([]byte, 1)
	for {
		n, err := unix.Poll(fds, 100)
		if err != nil && !errors.Is(err, unix.EINTR) {
			return fmt.Errorf("poll %s: %w", path, err)
		}
		if n > 0 {
			k, _ := unix.Read(fd, buf)
			switch {
			case k == 1:
				started = true
				// Removed now: the container is running from here on.
				if err := os.Remove(path); err != nil {
					return fmt.Errorf("remove %s: %w", path, err)
				}
				continue
			case k == 0 && started:
				return nil // the init exec'd, or failed to (its stderr says why)
			case k == 0:
				// The end without the byte: the init closed its side
				// before writing, which it does only when it fails.
				time.Sleep(10 * time.Millisecond)
			}
		}
		if !alive(c.rec.InitPid, c.rec.InitStart) {
			if started {
				return nil
			}
			return errors.New("the container's init is gone: it failed before starting its process (see the container's stderr)")
		}
	}
}
