//go:build linux

package main

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/overlay"
	"github.com/unboxlab/unbox/internal/overlay/whiteout"
)

// entryType is what one path in a layer or upper dir is, for tables.
type entryType int

const (
	typeFile entryType = iota
	typeDir
	typeSymlink
	typeOther
)

// entry is one path in a layer or upper dir, as a walk of it finds it.
type entry struct {
	Path   string // relative, slash-separated, no trailing slash
	Type   entryType
	Marker overlay.Marker // as overlay.ReadMarker reads it
	Size   int64          // of a regular file
	// TarNames are the entry's names in a layer tar, as whiteout.ToTar
	// writes them when the layer is committed (lesson 07).
	TarNames []string
}

// readLayer lists every entry under dir (not dir itself), parents before
// children, with what each is to overlayfs and how a layer tar names it.
func readLayer(dir string) ([]entry, error) {
	var out []entry
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		e := entry{Path: filepath.ToSlash(rel), Type: typeOther}
		switch {
		case fi.Mode().IsRegular():
			e.Type, e.Size = typeFile, fi.Size()
		case fi.IsDir():
			e.Type = typeDir
		case fi.Mode()&fs.ModeSymlink != 0:
			e.Type = typeSymlink
		}
		if e.Marker, err = overlay.ReadMarker(p); err != nil {
			return err
		}
		var link string
		if e.Type == typeSymlink {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		hdr.Name = e.name()
		hdrs, err := whiteout.ToTar(hdr, e.Marker)
		if err != nil {
			return err
		}
		for _, h := range hdrs {
			e.TarNames = append(e.TarNames, h.Name)
		}
		out = append(out, e)
		return nil
	})
	return out, err
}

// getfattr reads one extended attribute of p itself (not of a symlink's
// target), or "" when it is not set: what `getfattr -n name p` shows.
func getfattr(p, name string) string {
	buf := make([]byte, 256)
	n, err := unix.Lgetxattr(p, name, buf)
	if err != nil {
		return ""
	}
	return string(buf[:n])
}

// name is the path as a listing shows it: directories end in a slash.
func (e entry) name() string {
	if e.Type == typeDir {
		return e.Path + "/"
	}
	return e.Path
}

// describe says what the entry is on disk.
func (e entry) describe(s *kit.Session) string {
	switch {
	case e.Marker == overlay.Whiteout && e.Type == typeFile:
		return s.T("empty file, %s", overlay.WhiteoutXattr)
	case e.Marker == overlay.Whiteout:
		return s.T("character device 0/0")
	case e.Marker == overlay.Opaque:
		return s.T("dir, %s=y", overlay.OpaqueXattr)
	case e.Type == typeFile:
		return s.T("file, %s", sizeOf(s, e.Size))
	case e.Type == typeDir:
		return s.T("directory")
	case e.Type == typeSymlink:
		return s.T("symlink")
	}
	return s.T("special file")
}

// sizeOf is humanBytes in the session's language.
func sizeOf(s *kit.Session, n int64) string {
	switch {
	case n == 1:
		return s.T("1 byte")
	case n < 1<<10:
		return s.T("%d bytes", n)
	}
	return humanBytes(n)
}

// lastLine matches what oneLine makes of a file of several lines.
var lastLine = regexp.MustCompile(`^(\d+) lines, last: (.*)$`)

// shown is what look found, in the session's language: look runs in a
// child too, and answers in English.
func shown(s *kit.Session, v string) string {
	if v == "(empty directory)" {
		return s.T("(empty directory)")
	}
	if m := lastLine.FindStringSubmatch(v); m != nil {
		n, _ := strconv.Atoi(m[1])
		return s.T("%d lines, last: %s", n, m[2])
	}
	return v
}

// tarNames is the whole layer in tar form, in the order of entries.
func tarNames(entries []entry) []string {
	var out []string
	for _, e := range entries {
		out = append(out, e.TarNames...)
	}
	return out
}

// usage counts the regular files under dir and their bytes. It stands in
// for du, whose numbers also count directory blocks and so differ between
// filesystems; these do not.
func usage(dir string) (files int, bytes int64, err error) {
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			files++
			bytes += fi.Size()
		}
		return nil
	})
	return files, bytes, err
}

// humanBytes prints a size the way ls -lh would, in binary units.
func humanBytes(n int64) string {
	switch {
	case n < 1<<10:
		if n == 1 {
			return "1 byte"
		}
		return fmt.Sprintf("%d bytes", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
}

// sha256File is `sha256sum p`, shortened to the first 12 hex digits.
func sha256File(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil))[:12], nil
}

// cellOf is what look found, as a table cell of at most width columns:
// a file of several lines shows its last on a line of its own, words are
// translated, data is folded at spaces.
func cellOf(s *kit.Session, v string, width int) string {
	if m := lastLine.FindStringSubmatch(v); m != nil && kit.Width(v) > width {
		n, _ := strconv.Atoi(m[1])
		return s.T("%d lines, last:\n%s", n, m[2])
	}
	if t := shown(s, v); t != v {
		return t
	}
	return kit.Wrap(v, width)
}
