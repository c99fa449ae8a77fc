//go:build linux

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/mount"
)

// hostProject makes host/project: a file owned by uid 1000, and a tmpfs
// mounted in it, as the host might have one (a submount, which :ro must
// cover too). It returns the commands, from the mount package's trace.
func (l *lab) hostProject() (string, []string, error) {
	project := l.path("host", "project")
	if err := os.MkdirAll(filepath.Join(project, "cache"), 0o755); err != nil {
		return "", nil, err
	}
	readme := filepath.Join(project, "README")
	if err := os.WriteFile(readme, []byte("from the host\n"), 0o644); err != nil {
		return "", nil, err
	}
	if err := os.Chown(readme, appUID, appUID); err != nil {
		return "", nil, err
	}
	cmds := []string{"mkdir -p host/project/cache && echo 'from the host' > host/project/README",
		fmt.Sprintf("chown %d:%d host/project/README", appUID, appUID)}
	trace, err := l.mountOnHost(mount.Mount{Source: "tmpfs", Target: filepath.Join(project, "cache"), Type: "tmpfs", Data: "size=1m"})
	for _, st := range trace {
		cmds = append(cmds, l.rel(st.Command)+"    # a mount under the source: a submount")
	}
	return project, cmds, err
}

func (l *lab) stepBind(s *kit.Session) error {
	project, cmds, err := l.hostProject()
	s.Cmd("%s", strings.Join(cmds, "\n"))
	if err != nil {
		return err
	}
	c, err := l.run(s, runOpts{Name: "web", Volumes: []string{project + ":/project", project + ":/ro:ro"}})
	if err != nil {
		return err
	}

	// Both ways: a write inside shows on the host, one on the host inside.
	if err := l.mustDo(s, c, "sh -c 'echo from inside > /project/from-inside'",
		request{Op: "write", Path: "/project/from-inside", Data: "from inside\n"}); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(project, "from-host"), []byte("from the host, later\n"), 0o644); err != nil {
		return err
	}
	s.Cmd("echo 'from the host, later' > host/project/from-host")
	r, err := l.exec(s, c, "ls -ln /project", request{Op: "ls", Path: "/project"})
	if err != nil {
		return err
	}
	inside(s, r, "ls /project")
	s.Cmd("ls -ln host/project")
	l.hostLs(s, project)
	s.Note("One directory, seen from two places: no copy, no sync. Owners are numbers, the same on both\n" +
		"sides: the host's uid 1000 is 1000 inside, and the container's root wrote as uid 0, the host's\n" +
		"root. (A user namespace, lesson 01, would map them; Docker does not, by default.)")

	// :ro, and the submount under it.
	var rows [][]string
	for _, p := range []string{"/ro/x", "/ro/cache/x", "/project/cache/x"} {
		r, err := c.do(request{Op: "write", Path: p})
		if err != nil {
			return err
		}
		rows = append(rows, []string{"touch " + p, orOK(r.Err)})
	}
	s.Cmd("docker exec web sh -c 'touch /ro/x; touch /ro/cache/x; touch /project/cache/x'")
	s.Table([]string{"inside", "answer"}, rows)
	r, err = l.exec(s, c, "sh -c 'findmnt -R -o TARGET,OPTIONS,PROPAGATION /ro; findmnt -R ... /project'",
		request{Op: "mounts", Path: "/ro"})
	if err != nil {
		return err
	}
	p, err := c.do(request{Op: "mounts", Path: "/project"})
	if err != nil {
		return err
	}
	s.Inside("%s", strings.Join(append(mountView(r.Lines), mountView(p.Lines)...), "\n"))
	hostErr := os.WriteFile(filepath.Join(project, "cache", "y"), nil, 0o644)
	s.Cmd("touch host/project/cache/y")
	s.Host("touch host/project/cache/y: %s", orOK(errTextOrEmpty(hostErr)))
	s.Note("-v ...:ro is two calls, as the trace above shows. mount(2) ignores MS_RDONLY, and every flag but\n" +
		"MS_REC, in the call that makes a bind mount (\"Creating a bind mount\"): the new mount shares the\n" +
		"source's flags. A second call changes them: MS_REMOUNT|MS_BIND|MS_RDONLY for one mount, or, for\n" +
		"-v's recursive bind, mount_setattr(2) with AT_RECURSIVE, so that /ro/cache is read-only too\n" +
		"(Docker since 25.0; before, submounts of a :ro volume stayed writable). Read-only is a property\n" +
		"of these mounts, not of the files: the host's own mounts of them are as writable as before.")

	// A bind source that is not there.
	bad := runOpts{Name: "typo", Volumes: []string{l.path("host", "porject") + ":/project"}}
	if err := l.refused(s, bad); err != nil {
		return err
	}
	s.Note("Docker's -v creates a missing bind source on the host, an empty directory named after the\n" +
		"typo; unbox refuses, before it makes anything (--mount type=bind refuses in Docker too).")
	return nil
}

// refused prints the docker run command for o and runs it; it must fail,
// and its error is shown as the user would see it: wrapped, host paths as
// $PWD/....
func (l *lab) refused(s *kit.Session, o runOpts) error {
	s.Cmd("%s", l.dockerRun(o))
	_, err := l.start(s.Ctx, o)
	if err == nil {
		return fmt.Errorf("%s: no error", l.dockerRun(o))
	}
	s.Show("%s", wrap("error: "+strings.ReplaceAll(err.Error(), l.Root+"/", "$PWD/"), 94, "  "))
	return nil
}

// wrap breaks text at spaces into lines of at most width bytes, the lines
// after the first indented.
func wrap(text string, width int, indent string) string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(text) {
		if line != "" && len(line)+1+len(w) > width {
			lines = append(lines, line)
			line = indent + w
			continue
		}
		if line == "" {
			line = w
		} else {
			line += " " + w
		}
	}
	return strings.Join(append(lines, line), "\n")
}

// mountView shows mount lines of a volume and its submounts as
// "<point> <ro|rw> <propagation>", with the type of the submounts only (the
// volume's own is whatever filesystem the lab is on).
func mountView(lines []string) []string {
	var out []string
	for i, l := range lines {
		f := strings.SplitN(l, " ", 4)
		line := fmt.Sprintf("%-14s %s  %s", f[0], f[2], f[3])
		if i > 0 {
			line += "  (" + f[1] + ", a submount)"
		}
		out = append(out, line)
	}
	return out
}

// mustDo runs cmd in c and fails the step if the container reports an
// error.
func (l *lab) mustDo(s *kit.Session, c *container, cmd string, req request) error {
	r, err := l.exec(s, c, cmd, req)
	if err != nil {
		return err
	}
	if r.Err != "" {
		return fmt.Errorf("%s in %s: %s", cmd, c.Name, r.Err)
	}
	return nil
}

// orOK is an error's text, or "ok".
func orOK(e string) string {
	if e == "" {
		return "ok"
	}
	return e
}

func errTextOrEmpty(err error) string {
	if err == nil {
		return ""
	}
	return errText(err)
}
