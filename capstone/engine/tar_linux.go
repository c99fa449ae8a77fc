package engine

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"time"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// writeTree writes the tree at p inside root to tw as a tar stream, its
// entries named below prefix ("" for p's contents alone). The tree is a
// container's, which may change while it is read: p is resolved inside
// root (openat2(2) RESOLVE_IN_ROOT, pathrs-lite), and every entry under it
// is opened from its parent's descriptor without following a symlink, so
// that nothing outside the tree is read, whatever the container swaps in
// (docker cp's CVE-2018-15664 was such a race).
func writeTree(tw *tar.Writer, root, p, prefix string) error {
	p = path.Clean("/" + p)
	w := &treeWriter{tw: tw, links: map[[2]uint64]string{}}
	dir, base := path.Dir(p), path.Base(p)
	if p == "/" {
		dir, base = "/", ""
	}
	// The parent is resolved in root; the last component is not followed:
	// a link is copied as a link.
	h, err := pathrs.OpenInRoot(root, dir)
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	parent, err := pathrs.Reopen(h, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC)
	h.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	defer parent.Close()
	if base == "" {
		return w.dir(parent, prefix)
	}
	var st unix.Stat_t
	if err := unix.Fstatat(int(parent.Fd()), base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	if prefix == "" && st.Mode&unix.S_IFMT == unix.S_IFDIR {
		fd, err := unix.Openat(int(parent.Fd()), base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		d := os.NewFile(uintptr(fd), p)
		defer d.Close()
		return w.dir(d, "")
	}
	if prefix == "" {
		prefix = base
	}
	return w.entry(int(parent.Fd()), base, prefix, &st)
}

type treeWriter struct {
	tw    *tar.Writer
	links map[[2]uint64]string // (dev, ino) of a file with several links: its first name
}

// dir writes the entries of the open directory d, named below name.
func (w *treeWriter) dir(d *os.File, name string) error {
	names, err := d.Readdirnames(-1)
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, n := range names {
		var st unix.Stat_t
		if err := unix.Fstatat(int(d.Fd()), n, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue // removed meanwhile
			}
			return err
		}
		if err := w.entry(int(d.Fd()), n, path.Join(name, n), &st); err != nil {
			return err
		}
	}
	return nil
}

// entry writes the entry n of the directory dirfd as name.
func (w *treeWriter) entry(dirfd int, n, name string, st *unix.Stat_t) error {
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		fd, err := unix.Openat(dirfd, n, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		sub := os.NewFile(uintptr(fd), name)
		defer sub.Close()
		if err := w.header(name+"/", st, ""); err != nil {
			return err
		}
		return w.dir(sub, name)
	case unix.S_IFLNK:
		buf := make([]byte, unix.PathMax)
		k, err := unix.Readlinkat(dirfd, n, buf)
		if err != nil {
			return err
		}
		return w.header(name, st, string(buf[:k]))
	case unix.S_IFREG:
		key := [2]uint64{st.Dev, st.Ino}
		if first, ok := w.links[key]; ok && st.Nlink > 1 {
			return w.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: first, Mode: int64(st.Mode & 0o7777)})
		}
		if st.Nlink > 1 {
			w.links[key] = name
		}
		fd, err := unix.Openat(dirfd, n, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		f := os.NewFile(uintptr(fd), name)
		defer f.Close()
		if err := w.header(name, st, ""); err != nil {
			return err
		}
		_, err = io.CopyN(w.tw, f, st.Size)
		return err
	}
	return w.header(name, st, "") // a device, FIFO or socket: its header alone
}

func (w *treeWriter) header(name string, st *unix.Stat_t, link string) error {
	h := &tar.Header{
		Name: name, Linkname: link, Mode: int64(st.Mode & 0o7777), Uid: int(st.Uid), Gid: int(st.Gid),
		ModTime: time.Unix(st.Mtim.Unix()), Format: tar.FormatPAX,
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		h.Typeflag = tar.TypeDir
	case unix.S_IFLNK:
		h.Typeflag = tar.TypeSymlink
	case unix.S_IFREG:
		h.Typeflag, h.Size = tar.TypeReg, st.Size
	case unix.S_IFCHR, unix.S_IFBLK:
		h.Typeflag = tar.TypeChar
		if st.Mode&unix.S_IFMT == unix.S_IFBLK {
			h.Typeflag = tar.TypeBlock
		}
		h.Devmajor, h.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
	case unix.S_IFIFO:
		h.Typeflag = tar.TypeFifo
	default:
		return nil // a socket: tar has no form for it
	}
	return w.tw.WriteHeader(h)
}
