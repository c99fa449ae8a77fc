//go:build linux

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/unboxlab/unbox/internal/kit"
)

func (l *lab) stepNoVolume(s *kit.Session) error {
	if err := l.buildImage(s.Ctx); err != nil {
		return err
	}
	s.Cmd("cat Dockerfile    # the image: lesson 04's layers, as a build would make them")
	s.Show("%s", dockerfile)
	s.Cmd("cp -a <a minimal root filesystem> layers/1-base    # static busybox, or the host's own tools\n" +
		"mkdir -p layers/2-app ...    # what the RUN wrote")

	c, err := l.run(s, runOpts{Name: "notes"})
	if err != nil {
		return err
	}
	u, err := l.union(c)
	if err != nil {
		return err
	}
	opts, upper, _ := strings.Cut(l.rel(u.Data), ",")
	s.Cmd("mkdir -p containers/%s/{upper,work,merged}    # what docker run did (lesson 04)\n"+
		"mount -t overlay overlay %s \\", c.Name, l.rel(c.Merged))
	s.Show("      -o %s,\\\n         %s", opts, upper)
	s.Cmd("# and lesson 03's sequence in new namespaces: /proc, /sys, /dev, pivot_root")

	r, err := l.exec(s, c, "sh -c 'echo remember > /root/notes.txt'", request{Op: "write", Path: "/root/notes.txt", Data: "remember\n"})
	if err != nil {
		return err
	}
	if r.Err != "" {
		return fmt.Errorf("write /root/notes.txt inside: %s", r.Err)
	}
	s.Cmd("find %s -type f", l.rel(c.Upper))
	files, err := findFiles(c.Upper)
	if err != nil {
		return err
	}
	s.Host("%s", l.rel(strings.Join(files, "\n")))

	if _, err := l.remove(c, false); err != nil {
		return err
	}
	s.Cmd("docker rm -f notes    # stop it; umount %s; rm -rf %s", l.rel(c.Merged), l.rel(c.Dir))
	s.Host("ls %s: %s", l.rel(filepath.Join(c.Upper, "root/notes.txt")), statText(filepath.Join(c.Upper, "root/notes.txt")))
	s.Note("The write went where every write of a container goes: its upper dir, which is the container's\n" +
		"and nothing else's. Removing the container removed it, and no other container ever saw it.")
	return nil
}

// statText is what ls says of a path that should not be there.
func statText(path string) string {
	if _, err := os.Lstat(path); err != nil {
		return errText(err)
	}
	return "still there"
}

// findFiles is `find dir -type f`, sorted.
func findFiles(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			out = append(out, p)
		}
		return err
	})
	return out, err
}
