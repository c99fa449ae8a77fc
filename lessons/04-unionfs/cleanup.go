//go:build linux

package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/unboxlab/unbox/internal/kit"
)

func (l *lab) stepCleanUp(s *kit.Session) error {
	done, err := l.teardown()
	var cmds []string
	for _, d := range done {
		cmds = append(cmds, d.Cmd)
	}
	s.Cmd("cd /\n%s", strings.Join(cmds, "\n"))
	if err != nil {
		return err
	}
	left, err := hostMounts(l.Root)
	if err != nil {
		return err
	}
	s.Cmd("grep -c %s /proc/self/mountinfo; ls %s", l.Root, l.Root)
	_, statErr := os.Lstat(l.Root)
	if len(left) > 0 || !os.IsNotExist(statErr) {
		return fmt.Errorf("after clean up: still mounted %v; %s: %v", left, l.Root, statErr)
	}
	s.Host("0 mounts; ls: no such file or directory")
	s.Note("Unmounted in reverse order, then one rm -rf: layers, init layers, upper and work dirs. The\n" +
		"same clean up runs if you press Ctrl-C at any point.")
	return nil
}
