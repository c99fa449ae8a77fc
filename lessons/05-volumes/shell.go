//go:build linux

package main

// --shell: a container with one volume of each kind, and a shell in it.
// The lesson's own lab is gone after step 9, so the shell gets a lab of
// its own; when the shell exits, the lesson shows where its writes went,
// and removes everything (but the volume data, with --keep-volume).

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/unboxlab/unbox/internal/kit"
)

func shell(s *kit.Session) error {
	l := &lab{}
	err := l.open(filepath.Join(os.TempDir(), kit.UniqueName("lesson05-shell")))
	if l.Root != "" {
		s.Cleanup(func() error { return l.cleanUp(s) })
	}
	if err != nil {
		return err
	}
	if err := l.buildImage(s.Ctx); err != nil {
		return err
	}
	project, _, err := l.hostProject()
	if err != nil {
		return err
	}
	o := runOpts{Name: "shell", Shell: true, Stdin: s.In, Stdout: s.Out, Stderr: s.Err,
		Volumes: []string{project + ":/project", "data:/data", "/scratch", "appdata:" + appDir},
		Tmpfs:   []string{"/cache:size=16m"}}
	n := len(s.Lesson.Steps) + 1
	s.Step(n, n, "A shell in a container with a volume of each kind",
		"Look around: findmnt (or cat /proc/self/mountinfo), ls -ln /project /var/lib/app, df /cache.\n"+
			"Write to /, /project, /data, /scratch and /cache, then exit: the lesson shows where it went.")
	s.Cmd("cd %s\n%s", l.Root, l.dockerRun(o)+" sh")
	var c *container
	err = s.Foreground(func() error {
		if c, err = l.start(s.Ctx, o); err != nil {
			return err
		}
		return c.child.Wait()
	})
	var exit interface{ ExitCode() int }
	if err != nil && !errors.As(err, &exit) {
		return fmt.Errorf("shell: %w", err)
	}
	s.Cmd("find containers/shell/upper host/project volumes/*/_data -type f    # where the writes went")
	var lines []string
	for _, dir := range []string{c.Upper, project, l.path("volumes")} {
		files, err := findFiles(dir)
		if err != nil {
			return err
		}
		for _, f := range files {
			if dir != l.path("volumes") || strings.Contains(f, "/_data/") {
				lines = append(lines, l.rel(f))
			}
		}
	}
	s.Show("%s", strings.Join(lines, "\n"))
	s.Note("/ went to the upper dir, removed with the container; /project to the host's directory; /data,\n" +
		"/var/lib/app and /scratch to the store; /cache nowhere at all. All of it is removed now,\n" +
		"but the volume data with --keep-volume.")
	return nil
}
