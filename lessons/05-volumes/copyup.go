//go:build linux

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/unboxlab/unbox/internal/kit"
)

// count spells n things: "1 file", "2 files", "1 directory".
func count(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	if strings.HasSuffix(thing, "y") {
		return fmt.Sprintf("%d %sies", n, strings.TrimSuffix(thing, "y"))
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

func (l *lab) stepCopyUp(s *kit.Session) error {
	s.Cmd("ls -ln layers/2-app%s    # the image's directory", appDir)
	l.hostLs(s, filepath.Join(l.Layers[1], appDir))

	app, err := l.run(s, runOpts{Name: "app", Volumes: []string{"appdata:" + appDir}})
	if err != nil {
		return err
	}
	stats, ok := app.attached.Copied["appdata"]
	if !ok {
		return fmt.Errorf("the new volume appdata was not filled from the image")
	}
	s.Cmd("# copied: %s; owners, modes and times kept", count(stats.Files, "file")+", "+count(stats.Dirs, "directory")+
		", "+count(stats.Symlinks, "symlink"))
	r, err := l.exec(s, app, "ls -ln "+appDir, request{Op: "ls", Path: appDir})
	if err != nil {
		return err
	}
	inside(s, r, "ls "+appDir)
	s.Cmd("ls -ln volumes/appdata/_data")
	l.hostLs(s, app.attached.Volumes[0].Mountpoint)

	empty := l.path("host", "empty")
	if err := os.MkdirAll(empty, 0o755); err != nil {
		return err
	}
	s.Cmd("mkdir host/empty")
	bound, err := l.run(s, runOpts{Name: "app-bind", Volumes: []string{empty + ":" + appDir}})
	if err != nil {
		return err
	}
	if r, err = l.exec(s, bound, "ls -ln "+appDir, request{Op: "ls", Path: appDir}); err != nil {
		return err
	}
	inside(s, r, "ls "+appDir)
	s.Cmd("ls %s%s    # the union, from the host: below the bind mount", l.rel(bound.Merged), appDir)
	l.hostLs(s, filepath.Join(bound.Merged, appDir))
	s.Note("A new volume over a directory of the image starts as a copy of it, as Docker does, so that the\n" +
		"application finds its files and may change them; this happens once, when the volume is first\n" +
		"mounted, and only into an empty volume (nocopy: not at all). A bind mount copies nothing: the\n" +
		"host's directory wins, and the image's files are hidden under it, not gone.")
	return nil
}
