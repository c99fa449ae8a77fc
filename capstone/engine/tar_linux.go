package engine

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strconv"
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
	h, err := pathrs.OpenInRoot(root, p)
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	defer h.Close()
	w := &treeWriter{tw: tw, links: map[[2]uint64]string{}}
	var st unix.Stat_t
	if err := unix.Fstat(int(h.Fd()), &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		// A file (or link, device) at p: its parent, and it by name.
		return w.entry(int(h.Fd()), "", prefix, &st)
	}
	d, err := pathrs.Reopen(h, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC)
	if err != nil {
		return err
	}
	defer d.Close()
	if prefix != "" {
		if err := w.header(prefix+"/", &st, ""); err != nil {
			return err
		}
	}
	return w.dir(d, prefix)
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

// entry writes the entry n of the directory dirfd (or dirfd itself, an
// O_PATH handle, when n is "") as name.
func (w *treeWriter) entry(dirfd int, n, name string, st *unix.Stat_t) error {
	at := n
	if n == "" {
		at = ""
	}
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
		k, err := unix.Readlinkat(dirfd, at, buf)
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
		var fd int
		var err error
		if n == "" {
			fd, err = unix.Open("/proc/self/fd/"+strconv.Itoa(dirfd), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		} else {
			fd, err = unix.Openat(dirfd, n, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		}
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
