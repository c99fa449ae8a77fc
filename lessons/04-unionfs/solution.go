//go:build linux && solution

package main

// The reference solutions of the README's exercises, built only with
// `-tags solution`: `go run -tags solution -exec sudo ./lessons/04-unionfs
// check N` passes for every N, which CI proves (kittest.CheckExercises).
// Try yours first: exercises.go.

import (
	"archive/tar"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/overlay"
	"github.com/unboxlab/unbox/internal/overlay/whiteout"
)

// commitLayer is exercise 1.
func commitLayer(upper string, w io.Writer) error {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(upper, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == upper {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if fi.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(upper, p)
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		if fi.IsDir() {
			hdr.Name += "/"
		}
		m, err := overlay.ReadMarker(p)
		if err != nil {
			return err
		}
		hdrs, err := whiteout.ToTar(hdr, m)
		if err != nil {
			return err
		}
		for _, h := range hdrs {
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
			if h.Typeflag == tar.TypeReg && h.Size > 0 && !strings.Contains(h.Name, whiteoutPrefix) {
				f, err := os.Open(p)
				if err != nil {
					return err
				}
				_, err = io.Copy(tw, f)
				f.Close()
				if err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// whiteoutPrefix marks the entries ToTar makes up, which have no content.
const whiteoutPrefix = ".wh."

// writeDeletions is exercise 2.
func writeDeletions(dir string) error {
	if err := os.MkdirAll(filepath.Join(dir, "etc"), 0o755); err != nil {
		return err
	}
	if err := unix.Mknod(filepath.Join(dir, "etc/passwd"), unix.S_IFCHR, int(unix.Mkdev(0, 0))); err != nil {
		return fmt.Errorf("mknod etc/passwd c 0 0: %w", err)
	}
	www := filepath.Join(dir, "srv/www")
	if err := os.MkdirAll(www, 0o755); err != nil {
		return err
	}
	if err := unix.Setxattr(www, "trusted.overlay.opaque", []byte("y"), 0); err != nil {
		return fmt.Errorf("setfattr -n trusted.overlay.opaque -v y srv/www: %w", err)
	}
	return nil
}

// shortLowerdir is exercise 3.
func shortLowerdir(root string, layers []string) (string, error) {
	if err := os.MkdirAll(filepath.Join(root, "l"), 0o755); err != nil {
		return "", err
	}
	var names []string
	for i, layer := range layers {
		short := string(rune('A' + i))
		if err := os.Symlink(layer, filepath.Join(root, "l", short)); err != nil {
			return "", err
		}
		names = append(names, "l/"+short)
	}
	return strings.Join(names, ":"), nil
}
