package container

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/mount"
	"github.com/unboxlab/unbox/internal/reexec"
)

func init() {
	reexec.Register("container", initContainer)
}

// initContainer is the container's init, "unbox-runtime init container":
// this program again, started by create in the container's new namespaces
// and cgroup, on its main thread (locked by internal/reexec). It builds the
// container around itself, waits for start, and execs the container's
// process. Everything before "ready" fails create with the error in the
// init's words; after it, create has gone, and an error goes to the
// container's stderr.
func initContainer(c *reexec.Conn) error {
	var req initRequest
	if err := c.Recv(&req); err != nil {
		return err
	}
	// Nothing later needs our own file open: the kernel holds it for
	// /proc/self/exe.
	unix.Close(exeFD)
	if err := setupInit(c, &req); err != nil {
		return err
	}
	if err := c.Send(childMessage{Stage: "ready"}); err != nil {
		return err
	}
	var r parentReply
	if err := c.Recv(&r); err != nil || !r.Go {
		return fmt.Errorf("the runtime went away before the container was created (%v)", err)
	}
	err := startProcess(c, &req, r.State)
	// Only a failure comes back: exec does not return. A runtime that
	// let the init go is not listening; the container's stderr is.
	if r.Detached {
		fmt.Fprintf(os.Stderr, "unbox-runtime init: %v\n", err)
	}
	return err
}

// setupInit is the init up to "ready", in runc's order.
func setupInit(c *reexec.Conn, req *initRequest) error {
	cfg := req.Config
	if ns, ok := cfg.namespace("mount"); ok && ns.Path != "" {
		f, err := os.Open(ns.Path)
		if err != nil {
			return fmt.Errorf("join the mount namespace: %w", err)
		}
		err = joinMountNS(f)
		f.Close()
		if err != nil {
			return err
		}
	}
	if req.JoinCgroupNS {
		if err := joinCgroupNS(cgroupNSFD); err != nil {
			return err
		}
	} else if cfg.HasNamespace("cgroup") {
		// Now that we are in our cgroup, it becomes the namespace's root.
		if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
			return fmt.Errorf("unshare CLONE_NEWCGROUP: %w", err)
		}
	}
	unix.Close(cgroupNSFD)
	if err := setOOMScoreAdj(cfg.Process); err != nil {
		return err
	}
	if err := prepareRoot(req); err != nil {
		return err
	}
	if req.Hooks {
		if err := c.Send(childMessage{Stage: "hooks"}); err != nil {
			return err
		}
		var r parentReply
		if err := c.Recv(&r); err != nil {
			return err
		}
		if r.State == nil {
			return errors.New("the runtime sent no state for the hooks")
		}
		if err := runHooks(context.Background(), "createContainer", cfg.Hooks.CreateContainer, *r.State); err != nil {
			return err
		}
	}
	if err := enterRoot(cfg, req.FreshMountNS); err != nil {
		return err
	}
	if err := finishRoot(cfg); err != nil {
		return err
	}
	if cfg.Process.Terminal {
		// Closed through its File, not by number: a File's finalizer
		// would close the number again, whatever it is by then.
		sock := os.NewFile(consoleFD, "console-socket")
		err := setupConsole(sock, cfg.Process, true)
		sock.Close()
		if err != nil {
			return err
		}
	}
	if cfg.ReadonlyRoot {
		if err := mount.RemountReadOnly("/", nil); err != nil {
			return err
		}
	}
	err := becomeProcess(cfg.Process, cfg.Seccomp)
	return err
}

// becomeProcess makes this thread the container's process, but for the
// exec: limits, environment, the program found, seccomp (when it needs the
// capabilities about to go), user and capabilities, working directory.
func becomeProcess(p Process, sc *Seccomp) error {
	if err := setRlimits(p.Rlimits); err != nil {
		return err
	}
	if err := setEnv(p); err != nil {
		return err
	}
	if err := lookPath(p); err != nil {
		return err
	}
	if !p.NoNewPrivileges {
		if err := loadSeccomp(sc); err != nil {
			return err
		}
	}
	if err := finalize(p); err != nil {
		return err
	}
	if err := unix.Chdir(p.Cwd); err != nil {
		return fmt.Errorf("chdir to process.cwd %s: %w", p.Cwd, err)
	}
	return nil
}

// startProcess waits for start, runs the startContainer hooks and execs.
func startProcess(c *reexec.Conn, req *initRequest, st *State) error {
	cfg := req.Config
	if req.Fifo {
		if err := waitForStart(); err != nil {
			return err
		}
	}
	if len(cfg.Hooks.StartContainer) > 0 && st != nil {
		s := *st
		s.Status = Created
		if err := runHooks(context.Background(), "startContainer", cfg.Hooks.StartContainer, s); err != nil {
			return err
		}
	}
	return execProcess(c, cfg.Process, cfg.Seccomp, req.preservedBase(), req.PreserveFDs)
}

// execProcess loads a seccomp filter that could wait (no_new_privs), puts
// the preserved descriptors at 3, 4, ... and execs.
func execProcess(c *reexec.Conn, p Process, sc *Seccomp, base, preserve int) error {
	if p.NoNewPrivileges {
		if err := loadSeccomp(sc); err != nil {
			return err
		}
	}
	for i := 0; i < preserve; i++ {
		if err := unix.Dup3(base+i, 3+i, 0); err != nil {
			return fmt.Errorf("preserve descriptor %d as %d: %w", base+i, 3+i, err)
		}
	}
	return c.ExecPreserving(p.Args, environ(), preserve)
}

// preservedBase is where the preserved descriptors arrived: after the
// console socket, if there is one.
func (r *initRequest) preservedBase() int {
	if r.Console {
		return consoleFD + 1
	}
	return consoleFD
}

// waitForStart blocks until `start` opens exec.fifo for reading: opening a
// FIFO for writing waits for a reader (fifo(7)). The FIFO is reached again
// through /proc/self/fd, since its directory is outside the container's
// root now. The descriptor stays open, close-on-exec, until the exec: start
// waits for it to close, so that the process has been exec'd (the
// startContainer hooks have run) before start runs the poststart hooks.
func waitForStart() error {
	p := "/proc/self/fd/" + strconv.Itoa(fifoFD)
	fd, err := unix.Open(p, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open the exec FIFO (%s): %w: the container needs its /proc mounted", p, err)
	}
	unix.Close(fifoFD)
	if _, err := unix.Write(fd, []byte("0")); err != nil {
		return fmt.Errorf("write the exec FIFO: %w", err)
	}
	return nil
}
