//go:build linux

package main

import (
	"context"
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/reexec"
)

// startIn starts "<this program> init <stage>" (lesson 01's re-exec
// pattern) and puts it into cg before it runs: every stage here begins by
// waiting for cfg, which is sent only once the child's PID is in
// cgroup.procs. What the child does from then on, and every process or
// thread it starts, is charged to cg.
//
// (On cgroup v2, clone3(2) with CLONE_INTO_CGROUP starts a process directly
// in a cgroup, Linux 5.7+; the wait works on v1 too.)
func startIn(ctx context.Context, cg Cgroup, stage string, cfg any) (*reexec.Child, error) {
	c := reexec.NewChild(stage)
	if err := c.Start(ctx); err != nil {
		return nil, err
	}
	if err := cg.Apply(c.Pid()); err != nil {
		c.Close()
		return nil, fmt.Errorf("move the %s child into %s: %w", stage, cg.Path(), err)
	}
	if err := c.Send(cfg); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
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
