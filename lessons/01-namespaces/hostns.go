//go:build linux

package main

import (
	"context"
	"fmt"
	"os"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/reexec"
)

// hostLinks lists /proc/self/ns as ls does: one link per kind of namespace
// (cgroup, ipc, mnt, net, pid, time, user, uts), and the *_for_children
// links of the two kinds whose unshare(2) does not move the caller (pid and
// time, since Linux 5.6). namespaces(7).
func hostLinks() ([][]string, error) {
	entries, err := os.ReadDir("/proc/self/ns")
	if err != nil {
		return nil, fmt.Errorf("read namespaces: %w", err)
	}
	var rows [][]string
	for _, e := range entries {
		link, err := nsLink("self", e.Name())
		if err != nil {
			return nil, err
		}
		rows = append(rows, []string{e.Name(), "->", link})
	}
	return rows, nil
}

// nsLink reads /proc/<pid>/ns/<kind>, e.g. "uts:[4026531838]". pid may be
// "self", or "thread-self" for a namespace that one thread changed.
func nsLink(pid, kind string) (string, error) {
	link, err := os.Readlink("/proc/" + pid + "/ns/" + kind)
	if err != nil {
		return "", fmt.Errorf("read namespace: %w", err)
	}
	return link, nil
}

func stepHostNamespaces(s *kit.Session) error {
	s.Cmd("ls -l /proc/self/ns")
	rows, err := hostLinks()
	if err != nil {
		return err
	}
	s.Table([]string{"name", "", "target"}, rows)
	s.Note("These are the host's namespaces: eight kinds. pid_for_children and time_for_children name\n" +
		"where this process's next children will be: unshare(2) of a PID or time namespace moves only\n" +
		"the children to come, never the caller. The steps below make a new one of each kind but time\n" +
		"(a clock offset, which no runtime sets by default: exercise 3) and compare.")
	return nil
}

// start runs this program again as stage ("<program> init <stage>"), in new
// namespaces of the kinds in cloneflags (clone(2)): the re-exec pattern of
// internal/kit, explained in this lesson's README.
func start(ctx context.Context, stage string, cloneflags uintptr) (*reexec.Child, error) {
	c := reexec.NewChild(stage)
	c.Cmd.SysProcAttr.Cloneflags = cloneflags
	if err := c.Start(ctx); err != nil {
		return nil, err
	}
	return c, nil
}
