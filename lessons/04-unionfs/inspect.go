//go:build linux

package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"

	"golang.org/x/sys/unix"
)

// The xattrs overlayfs keeps its markers in (Documentation/filesystems/
// overlayfs.rst, "whiteouts and opaque directories"). Only the "trusted."
// namespace is used here: it needs CAP_SYS_ADMIN to write, which is why an
// unprivileged user cannot forge a marker in a layer.
const (
	xattrOpaque   = "trusted.overlay.opaque"
	xattrWhiteout = "trusted.overlay.whiteout"
)

// entry is one path in a layer or upper dir, as a walk of it finds it.
type entry struct {
	Path   string // relative, slash-separated, no trailing slash
	Type   entryType
	Opaque bool  // a directory with trusted.overlay.opaque="y"
	Size   int64 // of a regular file
}

// readLayer lists every entry under dir (not dir itself), parents before
// children, and says which are whiteouts and which directories are opaque.
func readLayer(dir string) ([]entry, error) {
	var out []entry
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == dir {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		e := entry{Path: filepath.ToSlash(rel)}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return fmt.Errorf("stat %s: %w", p, err)
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			e.Type = typeDir
			e.Opaque = xattr(p, xattrOpaque) == "y"
		case unix.S_IFREG:
			e.Type = typeFile
			e.Size = st.Size
			// Recent kernels also take an empty regular file with this
			// xattr as a whiteout (overlayfs.rst); overlayfs itself still
			// makes character devices in an upper dir.
			if st.Size == 0 && xattr(p, xattrWhiteout) != "" {
				e.Type = typeWhiteout
			}
		case unix.S_IFLNK:
			e.Type = typeSymlink
		case unix.S_IFCHR:
			e.Type = typeOther
			if st.Rdev == 0 {
				e.Type = typeWhiteout
			}
		default:
			e.Type = typeOther
		}
		out = append(out, e)
		return nil
	})
	return out, err
}

// xattr reads one extended attribute of p itself (not of a symlink's
// target), or "" when it is not set.
func xattr(p, name string) string {
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
func (e entry) describe() string {
	switch e.Type {
	case typeFile:
		return fmt.Sprintf("file, %s", humanBytes(e.Size))
	case typeDir:
		if e.Opaque {
			return "directory, " + xattrOpaque + "=y"
		}
		return "directory"
	case typeSymlink:
		return "symlink"
	case typeWhiteout:
		return "character device 0/0"
	}
	return "special file"
}

// Whiteout names in a layer tar (OCI image-spec, layer.md "Whiteouts"; the
// names AuFS used on disk).
const (
	whiteoutPrefix = ".wh."
	opaqueMarker   = ".wh..wh..opq"
)

// tarEntries are the names under which e goes into a layer tar when the
// upper dir is exported (docker commit, lesson 07): a whiteout becomes an
// empty file ".wh.<name>" beside where the name was, and an opaque
// directory is the directory followed by a ".wh..wh..opq" inside it, so
// that the extractor empties it before unpacking what the layer holds.
func tarEntries(e entry) []string {
	switch {
	case e.Type == typeWhiteout:
		dir, base := path.Split(e.Path)
		return []string{dir + whiteoutPrefix + base}
	case e.Type == typeDir && e.Opaque:
		return []string{e.Path + "/", e.Path + "/" + opaqueMarker}
	case e.Type == typeDir:
		return []string{e.Path + "/"}
	}
	return []string{e.Path}
}

// tarNames is the whole layer in tar form, in the order of entries.
func tarNames(entries []entry) []string {
	var out []string
	for _, e := range entries {
		out = append(out, tarEntries(e)...)
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

// treeDigest hashes every entry under dir (path, type, mode, content,
// symlink target, device number, xattrs that overlayfs reads), so a test
// can prove a layer did not change by a single byte.
func treeDigest(dir string) (string, error) {
	h := sha256.New()
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		paths = append(paths, p)
		return nil
	})
	if err != nil {
		return "", err
	}
	sort.Strings(paths)
	for _, p := range paths {
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return "", err
		}
		rel, _ := filepath.Rel(dir, p)
		fmt.Fprintf(h, "%s %o %d %d %d %q %q\n", rel, st.Mode, st.Uid, st.Gid, st.Rdev,
			xattr(p, xattrOpaque), xattr(p, xattrWhiteout))
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			f, err := os.Open(p)
			if err != nil {
				return "", err
			}
			_, err = io.Copy(h, f)
			f.Close()
			if err != nil {
				return "", err
			}
		case unix.S_IFLNK:
			target, err := os.Readlink(p)
			if err != nil {
				return "", err
			}
			fmt.Fprintln(h, target)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
