package volume

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// CopyStats count what a copy-up copied.
type CopyStats struct {
	Dirs, Files, Symlinks, HardLinks, Others int
	Bytes                                    int64
}

// Entries is how many names were copied, the volume's root not counted.
func (c CopyStats) Entries() int { return c.Dirs + c.Files + c.Symlinks + c.HardLinks + c.Others }

// CopyUp fills the volume name, on its first mount, with what the
// container's root filesystem (mounted at root) holds at target: Docker's
// behaviour for a new volume over a directory of the image (moby
// container.CopyImagePathContent), which podman shares. It copies only if
// the volume has never been mounted ([Volume.CopyUp]) and is empty, and
// only a directory; either way, the volume is marked mounted, so that what
// a container later deletes from it is not brought back. copied reports
// whether anything was copied.
//
// Both ends are untrusted trees and neither is left through a symlink:
// target is resolved inside root as the container would resolve it
// (openat2(2) RESOLVE_IN_ROOT, through pathrs-lite), and every entry below
// is opened from its parent's descriptor with O_NOFOLLOW. Symlinks are
// copied as symlinks, never followed; hard links stay hard links; owners,
// modes (set-uid bits included), extended attributes (but overlayfs's own,
// trusted.overlay.*) and times are kept, and the volume's root takes the
// image directory's.
func (s *Store) CopyUp(name, root, target string) (stats CopyStats, copied bool, err error) {
	unlock, err := s.lock()
	if err != nil {
		return stats, false, err
	}
	defer unlock()
	return s.copyUp(name, root, target)
}

func (s *Store) copyUp(name, root, target string) (stats CopyStats, copied bool, err error) {
	v, err := s.read(name)
	if err != nil || !v.CopyUp {
		return stats, false, err
	}
	stats, copied, err = copyInto(v.Mountpoint, root, target)
	if err != nil {
		return stats, false, fmt.Errorf("copy %s%s into volume %s: %w", root, target, name, err)
	}
	v.CopyUp = false
	if err := writeRecord(s.Path(name), v); err != nil {
		return stats, copied, fmt.Errorf("volume %s: %w", name, err)
	}
	if copied {
		s.Trace.add(OpCopyUp, name, "cp -a %s/. %s/", filepath.Join(root, target), v.Mountpoint)
	}
	return stats, copied, nil
}

// NoCopyUp marks the volume name mounted without copying anything into it
// (docker run -v NAME:DST:nocopy).
func (s *Store) NoCopyUp(name string) error {
	_, err := s.locked(name, func() error { return s.noCopyUp(name) })
	return err
}

func (s *Store) noCopyUp(name string) error {
	return s.change(name, func(v *Volume) error { v.CopyUp = false; return nil })
}

// copyInto copies the tree at target inside root into the empty directory
// dst, if target is a directory.
func copyInto(dst, root, target string) (CopyStats, bool, error) {
	var stats CopyStats
	handle, err := pathrs.OpenInRoot(root, target)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, os.ErrNotExist) {
		return stats, false, nil // nothing in the image there
	}
	if err != nil {
		return stats, false, err
	}
	src, err := pathrs.Reopen(handle, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC)
	handle.Close()
	if errors.Is(err, unix.ENOTDIR) {
		return stats, false, nil // a file: the bind mount will say what is wrong
	}
	if err != nil {
		return stats, false, err
	}
	defer src.Close()
	fd, err := unix.Open(dst, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return stats, false, fmt.Errorf("open %s: %w", dst, err)
	}
	out := os.NewFile(uintptr(fd), dst)
	defer out.Close()
	if names, err := out.Readdirnames(1); len(names) > 0 || (err != nil && err != io.EOF) {
		return stats, false, err // not empty: Docker copies into an empty volume only
	}
	c := &copier{links: map[[2]uint64]string{}, dstRoot: out}
	if err := c.dir(src, out, ""); err != nil {
		return c.stats, false, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(src.Fd()), &st); err != nil {
		return c.stats, false, err
	}
	// The volume's root takes the image directory's owner, mode, xattrs
	// and times (moby's copyOwnership does owner and mode). The paths are
	// the magic links themselves, which these calls follow.
	if err := setAttrs(procPath(src, ""), procPath(out, ""), &st, true); err != nil {
		return c.stats, false, fmt.Errorf("%s: %w", dst, err)
	}
	return c.stats, c.stats.Entries() > 0, nil
}

// copier copies one tree.
type copier struct {
	stats   CopyStats
	dstRoot *os.File
	// links maps a source inode (device, inode) with more than one link
	// to the path, relative to the destination's root, of its first copy.
	links map[[2]uint64]string
}

// dir copies the entries of the open directory src into the open
// directory dst; rel is dst's path below the destination's root.
func (c *copier) dir(src, dst *os.File, rel string) error {
	names, err := src.Readdirnames(-1)
	if err != nil {
		return fmt.Errorf("read %s: %w", src.Name(), err)
	}
	for _, name := range names {
		if err := c.entry(src, dst, rel, name); err != nil {
			return err
		}
	}
	return nil
}

func (c *copier) entry(src, dst *os.File, rel, name string) error {
	sfd, dfd := int(src.Fd()), int(dst.Fd())
	where := filepath.Join(rel, name)
	var st unix.Stat_t
	if err := unix.Fstatat(sfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("stat %s: %w", where, err)
	}
	key := [2]uint64{st.Dev, st.Ino}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR && st.Nlink > 1 {
		if first, ok := c.links[key]; ok {
			if err := c.link(first, dfd, name); err != nil {
				return fmt.Errorf("ln %s %s: %w", first, where, err)
			}
			c.stats.HardLinks++
			return nil
		}
		c.links[key] = where
	}
	srcPath, dstPath := procPath(src, name), procPath(dst, name)
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		if err := unix.Mkdirat(dfd, name, 0o700); err != nil {
			return fmt.Errorf("mkdir %s: %w", where, err)
		}
		in, err := openDir(sfd, name)
		if err != nil {
			return fmt.Errorf("open %s: %w", where, err)
		}
		defer in.Close()
		out, err := openDir(dfd, name)
		if err != nil {
			return fmt.Errorf("open %s: %w", where, err)
		}
		defer out.Close()
		if err := c.dir(in, out, where); err != nil {
			return err
		}
		c.stats.Dirs++
	case unix.S_IFREG:
		n, err := copyFile(sfd, dfd, name)
		if err != nil {
			return fmt.Errorf("copy %s: %w", where, err)
		}
		c.stats.Files++
		c.stats.Bytes += n
	case unix.S_IFLNK:
		target, err := readlinkat(sfd, name)
		if err != nil {
			return fmt.Errorf("readlink %s: %w", where, err)
		}
		if err := unix.Symlinkat(target, dfd, name); err != nil {
			return fmt.Errorf("ln -s %s %s: %w", target, where, err)
		}
		c.stats.Symlinks++
	default: // devices, FIFOs, sockets: the node itself, not what it leads to
		if err := unix.Mknodat(dfd, name, st.Mode, int(st.Rdev)); err != nil {
			return fmt.Errorf("mknod %s: %w", where, err)
		}
		c.stats.Others++
	}
	if err := setAttrs(srcPath, dstPath, &st, false); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	return nil
}

// setAttrs gives dst the owner, mode, extended attributes and times of
// src (whose stat is st). The paths are /proc/self/fd/N/name, which the
// calls do not follow at name unless follow is set (for the magic link
// /proc/self/fd/N itself). The owner goes first: chown(2) clears set-uid
// and set-gid bits and file capabilities (security.capability), which the
// mode and the xattrs then put back.
func setAttrs(src, dst string, st *unix.Stat_t, follow bool) error {
	chown, atFlags := unix.Lchown, unix.AT_SYMLINK_NOFOLLOW
	if follow {
		chown, atFlags = unix.Chown, 0
	}
	if err := chown(dst, int(st.Uid), int(st.Gid)); err != nil {
		return fmt.Errorf("chown %d:%d: %w", st.Uid, st.Gid, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFLNK {
		// A symlink has no mode of its own (symlink(7)); and chmod(2)
		// would follow one.
		if err := unix.Chmod(dst, st.Mode&0o7777); err != nil {
			return fmt.Errorf("chmod %o: %w", st.Mode&0o7777, err)
		}
	}
	if err := copyXattrs(src, dst, follow); err != nil {
		return err
	}
	ts := []unix.Timespec{st.Atim, st.Mtim}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, dst, ts, atFlags); err != nil {
		return fmt.Errorf("set times: %w", err)
	}
	return nil
}

// link makes name in the directory dfd a hard link to the copy at first
// (relative to the destination's root), reached through real directories
// only.
func (c *copier) link(first string, dfd int, name string) error {
	dir, err := c.openBelowRoot(filepath.Dir(first))
	if err != nil {
		return err
	}
	defer dir.Close()
	return unix.Linkat(int(dir.Fd()), filepath.Base(first), dfd, name, 0)
}

// openBelowRoot opens rel below the destination's root one component at a
// time with O_NOFOLLOW.
func (c *copier) openBelowRoot(rel string) (*os.File, error) {
	fd, err := unix.Dup(int(c.dstRoot.Fd()))
	if err != nil {
		return nil, err
	}
	unix.CloseOnExec(fd)
	f := os.NewFile(uintptr(fd), c.dstRoot.Name())
	for _, name := range strings.Split(rel, "/") {
		if name == "" || name == "." {
			continue
		}
		next, err := openDir(int(f.Fd()), name)
		f.Close()
		if err != nil {
			return nil, err
		}
		f = next
	}
	return f, nil
}

func openDir(dirfd int, name string) (*os.File, error) {
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), name), nil
}

// copyFile copies the regular file name from the directory sfd into a new
// file of that name in dfd (copy_file_range(2) where the kernel can).
func copyFile(sfd, dfd int, name string) (int64, error) {
	in, err := unix.Openat(sfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	src := os.NewFile(uintptr(in), name)
	defer src.Close()
	out, err := unix.Openat(dfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return 0, err
	}
	dst := os.NewFile(uintptr(out), name)
	n, err := io.Copy(dst, src)
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	return n, err
}

func readlinkat(dirfd int, name string) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(dirfd, name, buf)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}

// procPath names name inside the open directory dir, or dir itself, as
// /proc/self/fd/N[/name]: the kernel resolves N to exactly the directory
// opened, and the l* calls do not follow name if it is a symlink.
func procPath(dir *os.File, name string) string {
	p := fmt.Sprintf("/proc/self/fd/%d", dir.Fd())
	if name != "" {
		p += "/" + name
	}
	return p
}

// xattrCalls are the extended attribute calls that follow a symlink, or
// the l* ones that do not.
type xattrCalls struct {
	list func(path string, dest []byte) (int, error)
	get  func(path, name string, dest []byte) (int, error)
	set  func(path, name string, data []byte, flags int) error
}

var (
	followXattr   = xattrCalls{unix.Listxattr, unix.Getxattr, unix.Setxattr}
	noFollowXattr = xattrCalls{unix.Llistxattr, unix.Lgetxattr, unix.Lsetxattr}
)

// copyXattrs copies every extended attribute of src to dst, except
// overlayfs's own (trusted.overlay.*), which describe layers, not the file.
func copyXattrs(src, dst string, follow bool) error {
	calls := noFollowXattr
	if follow {
		calls = followXattr
	}
	names, err := calls.names(src)
	if err != nil {
		return fmt.Errorf("listxattr: %w", err)
	}
	for _, name := range names {
		if strings.HasPrefix(name, "trusted.overlay.") {
			continue
		}
		value, err := calls.value(src, name)
		if errors.Is(err, unix.ENODATA) {
			continue // gone meanwhile
		}
		if err != nil {
			return fmt.Errorf("getxattr %s: %w", name, err)
		}
		if err := calls.set(dst, name, value, 0); err != nil {
			return fmt.Errorf("setxattr %s: %w", name, err)
		}
	}
	return nil
}

func (x xattrCalls) names(path string) ([]string, error) {
	for {
		n, err := x.list(path, nil)
		if errors.Is(err, unix.ENOTSUP) {
			return nil, nil // the filesystem has none
		}
		if err != nil || n == 0 {
			return nil, err
		}
		buf := make([]byte, n)
		n, err = x.list(path, buf)
		if errors.Is(err, unix.ERANGE) {
			continue // grew meanwhile
		}
		if err != nil {
			return nil, err
		}
		var names []string
		for _, b := range strings.Split(string(buf[:n]), "\x00") {
			if b != "" {
				names = append(names, b)
			}
		}
		return names, nil
	}
}

func (x xattrCalls) value(path, name string) ([]byte, error) {
	for {
		n, err := x.get(path, name, nil)
		if err != nil {
			return nil, err
		}
		buf := make([]byte, n)
		n, err = x.get(path, name, buf)
		if errors.Is(err, unix.ERANGE) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return buf[:n], nil
	}
}
