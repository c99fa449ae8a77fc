//go:build linux

package main

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/reexec"
)

func init() { reexec.Register("wait", waitChild) }

// waitChild waits in its cgroup until it is told to go, or killed.
func waitChild(c *reexec.Conn) error {
	if err := c.Recv(nil); err != nil {
		return err
	}
	if err := c.Send("in"); err != nil {
		return err
	}
	return c.Recv(nil)
}

// findOurs lists the cgroup directories under root whose name starts with
// prefix, as `find root -name 'prefix*'` would, but only down to the depth
// our cgroups are at (the root, or a v1 hierarchy).
func findOurs(root, prefix string) []string {
	var out []string
	_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if strings.HasPrefix(d.Name(), prefix) {
			out = append(out, path)
			return fs.SkipDir
		}
		if strings.Count(strings.TrimPrefix(path, root), "/") >= 2 {
			return fs.SkipDir
		}
		return nil
	})
	return out
}

func (l *lessonState) stepCleanup(s *kit.Session) error {
	h, err := l.host()
	if err != nil {
		return err
	}
	ctr, err := l.leaf(s, "ctr")
	if err != nil {
		return err
	}
	prefix := parentName()
	s.Cmd("find %s -name '%s'", h.Root, prefix)
	s.Show("%s", strings.Join(findOurs(h.Root, prefix), "\n"))

	c, err := startIn(s.Ctx, ctr, "wait", nil)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Recv(nil); err != nil {
		return err
	}
	l.take() // starting the child: step 2 showed how
	s.Cmd("# a child is in %s again\nrmdir %s", ctr.Path(), shellPaths(ctr.Dirs()))
	var rmErr error
	for _, d := range ctr.Dirs() {
		if err := unix.Rmdir(d); err != nil {
			rmErr = err
			break
		}
	}
	if !errors.Is(rmErr, unix.EBUSY) {
		return fmt.Errorf("rmdir of a cgroup with a process in it: got %v; want EBUSY", rmErr)
	}
	s.Host("rmdir: %v (%s): a process is still inside", rmErr, errno(rmErr))

	err = ctr.Kill()
	l.show(s)
	if err != nil {
		return err
	}
	_ = c.Wait()
	procs, err := ctr.Procs()
	if err != nil {
		return err
	}
	if len(procs) > 0 {
		return fmt.Errorf("after the kill, %s still lists %v", ctr.File("cgroup.procs"), procs)
	}
	s.Host("the child: killed by %s; cgroup.procs is empty", signalName(exitSignal(c.Child)))

	err = l.parent.Destroy()
	l.show(s)
	if err != nil {
		return err
	}
	s.Cmd("find %s -name '%s'", h.Root, prefix)
	if left := findOurs(h.Root, prefix); len(left) > 0 {
		return fmt.Errorf("still there after rmdir: %s", strings.Join(left, " "))
	}
	s.Show("(nothing)")
	s.Note("Empty first, then deepest first: a cgroup goes only once no process and no cgroup is left in\n" +
		"it. The kernel keeps a removed cgroup's memory accounting until the last page charged to it is\n" +
		"freed, but the directory, and the name, are gone.")
	return nil
}
