//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/cgroups"
	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/reexec"
)

// child is a re-exec'd stage started in a cgroup, and how it got there.
type child struct {
	*reexec.Child
	Placement cgroups.Placement
}

// startIn starts "<this program> init <stage>" (lesson 01's re-exec
// pattern) in cg with cgroups.Start, then sends it cfg. On cgroup v2 the
// child is cloned into the cgroup (clone3 with CLONE_INTO_CGROUP: the
// SysProcAttr fields below). Where that cannot be, on v1, it starts in the
// lesson's own cgroup and is moved in while it waits: every stage here
// begins by waiting for cfg, which is sent only once Start has returned.
// Either way, everything the stage's own code does, and every process or
// thread it starts, is charged to cg.
func startIn(ctx context.Context, cg cgroups.Manager, stage string, cfg any) (*child, error) {
	c := &child{}
	p, err := cgroups.Start(cg, func(cgroupFD int) (int, error) {
		c.Child = reexec.NewChild(stage)
		if cgroupFD >= 0 {
			c.Cmd.SysProcAttr.UseCgroupFD = true
			c.Cmd.SysProcAttr.CgroupFD = cgroupFD
		}
		if err := c.Start(ctx); err != nil {
			return 0, err
		}
		return c.Pid(), nil
	})
	if err != nil {
		if c.Child != nil {
			c.Close()
		}
		return nil, fmt.Errorf("start the %s child in %s: %w", stage, cg.Path(), err)
	}
	c.Placement = p
	if err := c.Send(cfg); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// placed says how a child got into its cgroup, for a shell comment.
func placed(s *kit.Session, p cgroups.Placement) string {
	if p == cgroups.ClonedInto {
		return s.T("started in the cgroup (CLONE_INTO_CGROUP)")
	}
	return s.T("moved in before it starts")
}

// exitSignal is the signal that ended a child, or 0.
func exitSignal(c *reexec.Child) syscall.Signal {
	if c.Cmd.ProcessState == nil {
		return 0
	}
	if ws, ok := c.Cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return ws.Signal()
	}
	return 0
}

// signalName spells a signal as kill -l does: SIGKILL.
func signalName(sig syscall.Signal) string {
	if sig == 0 {
		return "none"
	}
	if n := unix.SignalName(sig); n != "" {
		return n
	}
	return fmt.Sprintf("signal %d", int(sig))
}

// errno names a syscall error as the man pages do: EBUSY, EAGAIN.
func errno(err error) string {
	var e syscall.Errno
	if errors.As(err, &e) {
		return unix.ErrnoName(e)
	}
	return ""
}
