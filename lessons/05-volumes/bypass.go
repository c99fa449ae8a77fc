//go:build linux

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/unboxlab/unbox/internal/kit"
)

func (l *lab) stepBypass(s *kit.Session) error {
	c, err := l.run(s, runOpts{Name: "bench", Volumes: []string{"bench:/bench"}})
	if err != nil {
		return err
	}
	r, err := l.exec(s, c, fmt.Sprintf("sh -c 'head -c %dM /dev/zero > /bench/big.bin'", bigSize>>20),
		request{Op: "fill", Path: "/bench/big.bin", Size: bigSize})
	if err != nil {
		return err
	}
	if r.Err != "" {
		return fmt.Errorf("writing the volume's file: %s", r.Err)
	}
	upper := func() string {
		lines, err := findAll(c.Upper)
		if err != nil {
			return err.Error()
		}
		return strings.Join(lines, "\n")
	}
	s.Cmd("find %s    # before", l.rel(c.Upper))
	s.Host("%s", upper())

	var took [2]time.Duration
	for i, p := range []string{bigFile, "/bench/big.bin"} {
		r, err := l.exec(s, c, "dd if=/dev/zero of="+p+" bs=4k count=1 conv=notrunc",
			request{Op: "rewrite", Path: p})
		if err != nil {
			return err
		}
		if r.Err != "" {
			return fmt.Errorf("rewriting %s: %s", p, r.Err)
		}
		took[i] = r.Dur
		s.Inside("%s: %s", p, r.Dur.Round(time.Microsecond))
	}
	s.Cmd("find %s    # after", l.rel(c.Upper))
	s.Host("%s", upper())
	s.Host("the image file took %.0f× as long as the volume's", float64(took[0])/float64(max(took[1], time.Microsecond)))
	s.Note("%s", fmt.Sprintf("Both writes changed 4 KiB of a %d MiB file. The image's file is in a read-only layer,\n", bigSize>>20)+
		"so overlayfs first copied all of it into the upper dir, and synced it; later writes go to the\n"+
		"copy, and the container's upper dir holds a second copy of the file for good. The volume's file\n"+
		"was written where it is, past the union: the upper dir did not change. That is why databases\n"+
		"and build caches go on volumes, and why docker commit (lesson 07) never sees them.")
	return nil
}

// findAll lists every entry below dir, relative to it, directories with a
// trailing /, regular files with their size.
func findAll(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case d.IsDir():
			rel += "/"
		case d.Type().IsRegular():
			fi, err := d.Info()
			if err != nil {
				return err
			}
			rel += "  " + mib(uint64(fi.Size()))
		}
		out = append(out, rel)
		return nil
	})
	return out, err
}
