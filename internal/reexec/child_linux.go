package reexec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Child is a re-exec'd copy of this program, about to run (or running) one
// stage. Set namespaces, credentials and the like on Cmd.SysProcAttr before
// Start.
type Child struct {
	Cmd   *exec.Cmd
	Stage string

	conn     *Conn
	stopKill func() bool

	waitOnce sync.Once
	waitErr  error
	reported *ChildError // an error the child sent, already read by Recv
}

// NewChild prepares "<this program> init <stage> args..." with SIGKILL on
// parent death. Its stdio is /dev/null except stderr, which is ours, so that
// a crash in the child is not silent. No descriptor is opened until Start.
func NewChild(stage string, args ...string) *Child {
	cmd := exec.Command("/proc/self/exe")
	cmd.Args = append([]string{os.Args[0], initArg, stage}, args...)
	cmd.Env = os.Environ()
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return &Child{Cmd: cmd, Stage: stage}
}

// Start creates the socket, starts the child with its end as fd 3, and
// closes that end here whatever happens, so that the parent sees end-of-file
// when the child is gone. Cancelling ctx kills the child.
func (c *Child) Start(ctx context.Context) error {
	if c.conn != nil {
		return fmt.Errorf("start %s child: started already", c.Stage)
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("start %s child: socketpair: %w", c.Stage, err)
	}
	parentEnd := os.NewFile(uintptr(fds[0]), "init-conn-parent")
	childEnd := os.NewFile(uintptr(fds[1]), "init-conn-child")
	// exec.Cmd dup2(2)s ExtraFiles to 3, 4, ... in the child, without
	// close-on-exec; everything else Go opened stays close-on-exec.
	c.Cmd.ExtraFiles = append([]*os.File{childEnd}, c.Cmd.ExtraFiles...)
	env := c.Cmd.Env
	if env == nil {
		env = os.Environ()
	}
	c.Cmd.Env = append(withoutConnEnv(env), connEnv+"="+strconv.Itoa(connFD))
	err = c.Cmd.Start()
	childEnd.Close()
	c.Cmd.ExtraFiles = c.Cmd.ExtraFiles[1:]
	if err != nil {
		parentEnd.Close()
		var flags uintptr
		if c.Cmd.SysProcAttr != nil {
			flags = c.Cmd.SysProcAttr.Cloneflags
		}
		return fmt.Errorf("start %s child (%s): %w", c.Stage, CloneFlagNames(flags), err)
	}
	c.conn = newConn(parentEnd)
	c.stopKill = context.AfterFunc(ctx, func() { _ = c.Cmd.Process.Kill() })
	return nil
}

func withoutConnEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, connEnv+"=") {
			out = append(out, kv)
		}
	}
	return out
}

// Pid is the child's PID as the parent sees it.
func (c *Child) Pid() int { return c.Cmd.Process.Pid }

// Send sends v to the child.
func (c *Child) Send(v any) error {
	if c.conn == nil {
		return fmt.Errorf("send to %s child: not started", c.Stage)
	}
	if err := c.conn.Send(v); err != nil {
		return fmt.Errorf("send to %s child: %w", c.Stage, c.deathCause(err))
	}
	return nil
}

// Recv waits for the child's next message. If the child failed, the error
// says why in the child's own words, or how it died.
func (c *Child) Recv(v any) error {
	if c.conn == nil {
		return fmt.Errorf("%s child: not started", c.Stage)
	}
	err := c.conn.Recv(v)
	if err == nil {
		return nil
	}
	var ce *ChildError
	if errors.As(err, &ce) {
		c.reported = ce
		c.Wait()
		return fmt.Errorf("%s child: %w", c.Stage, err)
	}
	return fmt.Errorf("%s child: %w", c.Stage, c.deathCause(err))
}

// deathCause explains a broken socket by how the child ended.
func (c *Child) deathCause(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) {
		if werr := c.Wait(); werr != nil {
			return fmt.Errorf("it ended without answering: %w", werr)
		}
		return errors.New("it ended without answering")
	}
	return err
}

// Wait waits for the child to exit. An error the child reported comes back
// as the error; otherwise a non-zero exit or a signal does.
func (c *Child) Wait() error {
	if c.conn == nil {
		return fmt.Errorf("wait for %s child: not started", c.Stage)
	}
	c.waitOnce.Do(func() {
		werr := c.Cmd.Wait()
		c.stopKill()
		if werr != nil && c.reported != nil {
			werr = c.reported
		} else if werr != nil {
			// A child that failed normally sent its reason before exiting;
			// prefer it to "exit status 1".
			for {
				var env envelope
				if c.conn.dec.Decode(&env) != nil {
					break
				}
				if env.Error != "" {
					werr = &ChildError{Msg: env.Error}
					break
				}
			}
		}
		c.conn.Close()
		c.waitErr = werr
	})
	return c.waitErr
}

// Release lets the child go on without this process: the socket is closed
// (the child sees end-of-file on its next receive), cancelling the context
// no longer kills it, and it is not reaped here. A container runtime's
// `create` ends this way: the container's init outlives it and is reaped
// by the caller's subreaper (containerd's shim, podman's conmon).
func (c *Child) Release() error {
	if c.conn == nil {
		return fmt.Errorf("release %s child: not started", c.Stage)
	}
	c.stopKill()
	err := c.conn.Close()
	if rerr := c.Cmd.Process.Release(); err == nil {
		err = rerr
	}
	return err
}

// Close kills the child if it is still running and reaps it. It is safe to
// call more than once, after Wait, and on a Child never started, so `defer
// c.Close()` right after NewChild is always right.
func (c *Child) Close() error {
	if c.conn != nil && c.Cmd.ProcessState == nil {
		_ = c.Cmd.Process.Kill()
		c.Wait()
	}
	return nil
}
