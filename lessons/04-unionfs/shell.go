//go:build linux

package main

// --shell: a container on the same three layers, with a shell in it. The
// lesson's own lab is gone after step 9, so the shell gets a union of its
// own; when the shell exits, the lesson shows what it changed (its upper
// dir, as a layer tar would hold it) and removes everything.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/mount"
	"github.com/unboxlab/unbox/internal/reexec"
)

func init() { reexec.Register("unionfs-shell", shellChild) }

// shellChild enters the union the way step 7's child does, names itself
// from the init layer, and becomes the image's shell.
func shellChild(c *reexec.Conn) error {
	var root string
	if err := c.Recv(&root); err != nil {
		return err
	}
	if err := mount.EnterRoot(mount.RootConfig{Dir: root, Mounts: mount.ContainerMounts(), Devices: mount.SafeDevices}, nil); err != nil {
		return err
	}
	name, err := os.ReadFile("/etc/hostname")
	if err != nil {
		return err
	}
	hostname := strings.TrimSpace(string(name))
	if err := unix.Sethostname([]byte(hostname)); err != nil {
		return fmt.Errorf("sethostname: %w", err)
	}
	env := []string{"PATH=/bin:/usr/bin:/sbin:/usr/sbin", "HOME=/root", "PS1=" + hostname + "# "}
	if term, ok := os.LookupEnv("TERM"); ok {
		env = append(env, "TERM="+term)
	}
	return c.Exec([]string{"/bin/sh"}, env)
}

// shellNeeds are step 7's: a union to mount, namespaces to enter it in.
var shellNeeds = append(unionNeeds, kit.NeedNamespaces("mnt", "pid", "uts", "ipc")...)

func shell(s *kit.Session) error {
	l, err := newLab(filepath.Join(os.TempDir(), kit.UniqueName("lesson04-shell")))
	if err != nil {
		return err
	}
	s.Cleanup(func() error { _, err := l.teardown(); return err })
	if err := l.buildImage(s.Ctx); err != nil {
		return err
	}
	c, err := l.newContainer("shell")
	if err != nil {
		return err
	}
	if err := l.mount(c); err != nil {
		return err
	}
	n := len(s.Lesson.Steps) + 1
	s.Step(n, n, "A shell in a container on the same layers",
		"A fresh union of the three image layers, an init layer and an empty upper dir, entered as in\n"+
			"step 7. Change things: echo hi > /etc/motd; rm /etc/passwd; mkdir /new. Type exit to leave.")
	s.Cmd("cd %s\n%s\n# then step 7's namespaces, mounts and pivot_root, and: exec /bin/sh", l.Root, l.mountCommand(c))

	child := reexec.NewChild("unionfs-shell")
	child.Cmd.SysProcAttr.Cloneflags = unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC
	child.Cmd.Stdin, child.Cmd.Stdout, child.Cmd.Stderr = s.In, s.Out, s.Err
	err = s.Foreground(func() error {
		if err := child.Start(s.Ctx); err != nil {
			return err
		}
		defer child.Close()
		if err := child.Send(c.Merged); err != nil {
			return err
		}
		return child.Wait()
	})
	var exit exitError
	if err != nil && !errors.As(err, &exit) {
		return fmt.Errorf("shell: %w", err)
	}

	changes, err := readLayer(c.Upper)
	if err != nil {
		return err
	}
	s.Cmd("cd %s && find %s    # what the shell changed, in a layer tar's names", l.Root, l.rel(c.Upper))
	if len(changes) == 0 {
		s.Show("(nothing: the upper dir is empty)")
	} else {
		s.Show("%s", strings.Join(tarNames(changes), "\n"))
	}
	s.Note("Every change the shell made is in the upper dir, and nowhere else: the image layers are as\n" +
		"they were. This directory is what lesson 07 commits as a new layer. Removed now, with the rest.")
	return nil
}

// exitError is how a shell that exits non-zero (its last command failed)
// comes back; that is not the lesson's failure.
type exitError = interface{ ExitCode() int }
