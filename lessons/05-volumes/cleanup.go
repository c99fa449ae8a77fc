//go:build linux

package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/unboxlab/unbox/internal/kit"
)

// keep is the volume to keep, if the learner asked (--keep-volume).
func keep(s *kit.Session) string {
	if s.Flags != nil && s.Flags.Bool(keepFlag) {
		return keptVolume
	}
	return ""
}

func (l *lab) stepCleanUp(s *kit.Session) error {
	kept := keep(s)
	done, err := l.teardown(kept)
	s.Cmd("cd /\n%s", l.relCmds(done))
	if err != nil {
		return err
	}
	s.Cmd("grep -c %s /proc/self/mountinfo; ls %s", l.Root, l.Root)
	left := mountsUnder(l.Root)
	_, statErr := os.Lstat(l.Root)
	if len(left) > 0 || (kept == "" && !os.IsNotExist(statErr)) {
		return fmt.Errorf("after clean up: still mounted %v; %s: %v", left, l.Root, statErr)
	}
	if kept != "" {
		s.Host("0 mounts; ls: volumes")
		l.sayKept(s.Writer(), kept)
		return nil
	}
	s.Host("0 mounts; ls: no such file or directory")
	s.Note("Containers first, each with its anonymous volumes; then the host's mounts, last made first;\n" +
		"then the store and every named volume in it. The same clean up runs if you press Ctrl-C at\n" +
		"any point; --keep-volume keeps the volume data instead, and says where.")
	return nil
}

// relCmds shows teardown's commands; the last, rm -rf of the whole lab,
// keeps its absolute path.
func (l *lab) relCmds(cmds []string) string {
	for i, c := range cmds {
		if c != "rm -rf "+l.Root {
			cmds[i] = l.rel(c)
		}
	}
	return strings.Join(cmds, "\n")
}

// cleanUp is the session's clean up: the same teardown, on every way out.
func (l *lab) cleanUp(s *kit.Session) error {
	if l.Root == "" {
		return nil
	}
	kept := keep(s)
	if _, err := l.teardown(kept); err != nil {
		return err
	}
	if kept == "" || l.store == nil || l.keptShown {
		return nil
	}
	if _, err := os.Lstat(l.store.Path(kept)); err == nil {
		l.sayKept(s.Err, kept)
	}
	return nil
}
