//go:build linux

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/overlay"
)

// A lower layer cannot be changed, so a deletion is recorded in the upper
// dir as a marker that hides the name (overlayfs.rst, "whiteouts and opaque
// directories"; internal/overlay/marker.go has both forms of each):
//
//   - rm of a name that exists below: a whiteout, a character device with
//     device number 0/0 (fs/overlayfs/dir.c: ovl_whiteout, which mknods it
//     in the work dir and renames it into place);
//   - a directory removed and made again: a new, empty upper directory with
//     trusted.overlay.opaque="y", so nothing of the old one shows through.

// whiteoutReport is what step 5 and its tests look at.
type whiteoutReport struct {
	Whiteout     string // host path of the whiteout in upper
	WhiteoutMode uint32 // st_mode
	Major, Minor uint32
	Opaque       string // host path of the new directory in upper
	OpaqueXattr  string // its trusted.overlay.opaque
	MergedDir    string // ls of the parent directory, through the union
	MergedOpaque string // ls of the new directory, through the union
	Upper        []entry
	// WhiteoutMarker and OpaqueMarker are what overlay.ReadMarker reads
	// at Whiteout and at Opaque.
	WhiteoutMarker, OpaqueMarker overlay.Marker
}

// deleteAndReplace removes file and replaces dir (rm -rf; mkdir; one new
// file in it) in c's union, and reports what the upper dir holds.
func deleteAndReplace(c *container, file, dir, newFile, content string) (whiteoutReport, error) {
	var r whiteoutReport
	merged := func(rel string) string { return filepath.Join(c.Merged, rel) }
	if err := os.Remove(merged(file)); err != nil {
		return r, fmt.Errorf("rm %s: %w", merged(file), err)
	}
	if err := os.RemoveAll(merged(dir)); err != nil {
		return r, fmt.Errorf("rm -rf %s: %w", merged(dir), err)
	}
	if err := os.Mkdir(merged(dir), 0o755); err != nil {
		return r, fmt.Errorf("mkdir %s: %w", merged(dir), err)
	}
	if err := os.WriteFile(filepath.Join(merged(dir), newFile), []byte(content), 0o644); err != nil {
		return r, err
	}

	r.Whiteout = filepath.Join(c.Upper, file)
	var st unix.Stat_t
	if err := unix.Lstat(r.Whiteout, &st); err != nil {
		return r, fmt.Errorf("the whiteout: stat %s: %w", r.Whiteout, err)
	}
	r.WhiteoutMode, r.Major, r.Minor = st.Mode, unix.Major(st.Rdev), unix.Minor(st.Rdev)
	r.Opaque = filepath.Join(c.Upper, dir)
	r.OpaqueXattr = getfattr(r.Opaque, overlay.OpaqueXattr)
	var err error
	if r.WhiteoutMarker, err = overlay.ReadMarker(r.Whiteout); err != nil {
		return r, err
	}
	if r.OpaqueMarker, err = overlay.ReadMarker(r.Opaque); err != nil {
		return r, err
	}
	r.MergedDir = look(filepath.Dir(merged(file)))
	r.MergedOpaque = look(merged(dir))
	r.Upper, err = readLayer(c.Upper)
	return r, err
}

// fileType is the first letter of ls -l for a st_mode.
func fileType(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFCHR:
		return "c"
	case unix.S_IFDIR:
		return "d"
	case unix.S_IFLNK:
		return "l"
	case unix.S_IFREG:
		return "-"
	}
	return "?"
}

func (l *lab) stepWhiteouts(s *kit.Session) error {
	c := l.container("a")
	r, err := deleteAndReplace(c, "srv/www/about.html", "srv/www/assets", "site.css", "body { margin: 0 }\n")
	if err != nil {
		return err
	}
	m := l.rel(c.Merged)
	s.Cmd("rm %s/srv/www/about.html", m)
	s.Cmd("ls -l %s", l.rel(r.Whiteout))
	s.Host("%s%s %d, %d  %s", fileType(r.WhiteoutMode), permString(r.WhiteoutMode), r.Major, r.Minor, l.rel(r.Whiteout))
	s.Host("a character device, number 0/0, no permissions: a whiteout")
	s.Host("ls merged/srv/www: %s", shown(s, r.MergedDir))

	s.Cmd("rm -rf %s/srv/www/assets && mkdir %s/srv/www/assets\n"+
		"echo 'body { margin: 0 }' > %s/srv/www/assets/site.css", m, m, m)
	s.Cmd("getfattr -n %s %s", overlay.OpaqueXattr, l.rel(r.Opaque))
	s.Host("%s=%q", overlay.OpaqueXattr, r.OpaqueXattr)
	s.Host("ls merged/srv/www/assets: %s    (2-app's logo.svg is hidden)", shown(s, r.MergedOpaque))

	s.Note("Nothing was deleted from any layer. The kernel wrote markers into the upper dir, in the same\n" +
		"form as layer 3's: a 0/0 device for a deleted name, an opaque directory for a replaced one.")

	if r.WhiteoutMarker != overlay.Whiteout || r.OpaqueMarker != overlay.Opaque {
		return fmt.Errorf("overlay.ReadMarker reads the upper dir as %v at %s and %v at %s; want a whiteout and an opaque directory",
			r.WhiteoutMarker, l.rel(r.Whiteout), r.OpaqueMarker, l.rel(r.Opaque))
	}

	var rows [][]string
	for _, e := range r.Upper {
		names := e.TarNames
		rows = append(rows, []string{e.name(), e.describe(s), names[0]})
		for _, n := range names[1:] {
			rows = append(rows, []string{"", "", n})
		}
	}
	s.Cmd("(cd %s && find . | sort)\n# and beside it the same directory as a layer tar, as lesson 07's commit writes it", l.rel(c.Upper))
	s.Table([]string{"upper/", "on disk", "tar entry"}, rows)
	s.Note("Exported, a whiteout becomes an empty file .wh.<name> beside the deleted name, and an opaque\n" +
		"directory gets a .wh..wh..opq entry right after it: the names AuFS used on disk, which the OCI\n" +
		"image format kept. Unpacking reverses the mapping. This upper dir, so written, is a new layer.")
	return nil
}

// permString is the rwx part of ls -l.
func permString(mode uint32) string {
	const rwx = "rwxrwxrwx"
	var b strings.Builder
	for i := 0; i < 9; i++ {
		if mode&(1<<(8-i)) != 0 {
			b.WriteByte(rwx[i])
		} else {
			b.WriteByte('-')
		}
	}
	return b.String()
}
