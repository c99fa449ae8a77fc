//go:build linux

package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/unboxlab/unbox/internal/kit"
)

// copyUpReport is what step 4 and its test look at: the lower file before
// and after a write through the union, and what appeared in the upper dir.
type copyUpReport struct {
	Lower, Upper         string // host paths of the file in its layer and in upper
	LowerBefore          string // sha256 (short)
	LowerAfter           string
	UpperSum             string
	LowerSize, UpperSize int64
	Merged               string // the file as the union shows it, in one line
}

// appendTo opens a file of the union for writing and appends text: the
// open(2) for writing is what makes overlayfs copy the file up
// (overlayfs.rst, "Non-directories").
func appendTo(p, text string) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// copyUp appends text to rel in c's union and reports on the layer the
// file came from, lowerDir, and on c's upper dir.
func copyUp(c *container, lowerDir, rel, text string) (copyUpReport, error) {
	r := copyUpReport{Lower: filepath.Join(lowerDir, rel), Upper: filepath.Join(c.Upper, rel)}
	var err error
	if r.LowerBefore, err = sha256File(r.Lower); err != nil {
		return r, err
	}
	if _, err := os.Lstat(r.Upper); err == nil {
		return r, fmt.Errorf("%s is in the upper dir before any write", r.Upper)
	}
	if err := appendTo(filepath.Join(c.Merged, rel), text); err != nil {
		return r, fmt.Errorf("echo >> %s: %w", filepath.Join(c.Merged, rel), err)
	}
	if r.LowerAfter, err = sha256File(r.Lower); err != nil {
		return r, err
	}
	if r.UpperSum, err = sha256File(r.Upper); err != nil {
		return r, fmt.Errorf("after the write: %w", err)
	}
	for _, f := range []struct {
		p    string
		size *int64
	}{{r.Lower, &r.LowerSize}, {r.Upper, &r.UpperSize}} {
		fi, err := os.Stat(f.p)
		if err != nil {
			return r, err
		}
		*f.size = fi.Size()
	}
	r.Merged = look(filepath.Join(c.Merged, rel))
	return r, nil
}

func (l *lab) stepCopyUp(s *kit.Session) error {
	c := l.container("a")
	app := l.Layers[1]
	s.Cmd("sha256sum %s/etc/app.conf", l.rel(app.Dir))
	r, err := copyUp(c, app.Dir, "etc/app.conf", "debug=true\n")
	if err != nil {
		return err
	}
	s.Host("%s  %s", r.LowerBefore, l.rel(r.Lower))
	s.Cmd("echo debug=true >> %s/etc/app.conf", l.rel(c.Merged))
	s.Cmd("cat %s/etc/app.conf\nsha256sum %s %s", l.rel(c.Merged), l.rel(r.Lower), l.rel(r.Upper))
	s.Host("merged/etc/app.conf: %s", shown(s, r.Merged))
	unchanged := s.T("changed!")
	if r.LowerAfter == r.LowerBefore {
		unchanged = s.T("unchanged")
	}
	s.Table([]string{"file", "sha256", "size", ""}, [][]string{
		{l.rel(r.Lower), r.LowerAfter, sizeOf(s, r.LowerSize), unchanged},
		{l.rel(r.Upper), r.UpperSum, sizeOf(s, r.UpperSize), s.T("new: a whole copy, plus the line")},
	})
	s.Note("The first write copied the whole file up into the upper dir, then changed the copy; the layer\n" +
		"below is untouched, and every other container still sees it. However small the change, the\n" +
		"copy is the whole file: a 1 GiB database file costs 1 GiB at its first write, which is why\n" +
		"databases live on volumes (lesson 05). Copy-up also made etc/ in upper, its parent.")
	return nil
}
