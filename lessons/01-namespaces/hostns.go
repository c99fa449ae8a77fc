//go:build linux

package main

import (
	"context"
	"fmt"
	"os"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/reexec"
)

// kinds are the namespaces this lesson covers, in the order ls shows them.
// (Time namespaces, since Linux 5.6, exist too; containers rarely use them.)
var kinds = []string{"cgroup", "ipc", "mnt", "net", "pid", "user", "uts"}

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
	var rows [][]string
	for _, k := range kinds {
		link, err := nsLink("self", k)
		if err != nil {
			return err
		}
		rows = append(rows, []string{k, "->", link})
	}
	s.Table([]string{"name", "", "target"}, rows)
	s.Note("These are the host's namespaces. Each step below makes a new one of a kind and compares.")
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
