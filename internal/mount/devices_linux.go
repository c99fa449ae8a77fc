package mount

import (
	"fmt"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Device is a device node to create in a container's /dev: a character
// device unless Type says otherwise, mode 0666, owned by root.
type Device struct {
	Path         string
	Major, Minor uint32
	// Type is 'c' (a character device; also the zero value), 'b' (a block
	// device) or 'p' (a FIFO), as mknod(1) spells them.
	Type rune `json:",omitempty"`
	// Mode is the node's permission bits; zero means 0666.
	Mode uint32 `json:",omitempty"`
	// UID and GID own the node; zero is root.
	UID, GID uint32 `json:",omitempty"`
}

// mknodMode is the node's type and permission bits for mknod(2).
func (d Device) mknodMode() (uint32, string) {
	perm := d.Mode & 0o7777
	if d.Mode == 0 {
		perm = 0o666
	}
	switch d.Type {
	case 'b':
		return unix.S_IFBLK | perm, "b"
	case 'p':
		return unix.S_IFIFO | perm, "p"
	}
	return unix.S_IFCHR | perm, "c"
}

// SafeDevices are the only nodes a container's /dev gets: none of them
// reaches hardware or the host's memory (runc's default allow list).
var SafeDevices = []Device{
	{Path: "/dev/null", Major: 1, Minor: 3},
	{Path: "/dev/zero", Major: 1, Minor: 5},
	{Path: "/dev/full", Major: 1, Minor: 7},
	{Path: "/dev/random", Major: 1, Minor: 8},
	{Path: "/dev/urandom", Major: 1, Minor: 9},
	{Path: "/dev/tty", Major: 5, Minor: 0},
}

// Symlink is a symbolic link to create: Path points at Target.
type Symlink struct {
	Path, Target string
}

// DevLinks are the standard links of /dev, which [MakeDevices] makes next
// to the nodes.
var DevLinks = []Symlink{
	{"/dev/fd", "/proc/self/fd"},
	{"/dev/stdin", "/proc/self/fd/0"},
	{"/dev/stdout", "/proc/self/fd/1"},
	{"/dev/stderr", "/proc/self/fd/2"},
	{"/dev/ptmx", "pts/ptmx"},
}

// MakeDevices creates devs (mknod(2), mode 0666 unless a Device says
// otherwise, then chown(2) for a Device owned by someone else) and
// [DevLinks] under root,
// whose /dev should be a fresh tmpfs. Each is made from its directory's
// descriptor, resolved inside root, so a /dev that is a symlink leads
// somewhere inside the root, never to the host's /dev.
func MakeDevices(root string, devs []Device, trace Tracer) error {
	r, err := openRoot(root)
	if err != nil {
		return err
	}
	defer r.Close()
	// mknod(2) applies the umask; device nodes are 0666 by design. The
	// umask is the process's: this runs in the container's setup, where
	// nothing else creates files meanwhile.
	old := unix.Umask(0)
	defer unix.Umask(old)
	for _, d := range devs {
		path, err := r.join(d.Path)
		if err != nil {
			return err
		}
		mode, typ := d.mknodMode()
		err = r.atDir(path, trace, func(dirfd int, name string) error {
			if err := unix.Mknodat(dirfd, name, mode, int(unix.Mkdev(d.Major, d.Minor))); err != nil {
				return err
			}
			if d.UID == 0 && d.GID == 0 {
				return nil
			}
			return unix.Fchownat(dirfd, name, int(d.UID), int(d.GID), unix.AT_SYMLINK_NOFOLLOW)
		})
		if err != nil {
			return fmt.Errorf("mknod %s %s %d %d: %w", path, typ, d.Major, d.Minor, err)
		}
		trace.add(OpMknod, path, "mknod -m %o %s %s %d %d", mode&0o7777, path, typ, d.Major, d.Minor)
	}
	return r.makeLinks(DevLinks, trace)
}

// MakeLinks creates links under root, each from its directory's
// descriptor resolved inside root, as [MakeDevices] makes nodes.
func MakeLinks(root string, links []Symlink, trace Tracer) error {
	r, err := openRoot(root)
	if err != nil {
		return err
	}
	defer r.Close()
	return r.makeLinks(links, trace)
}

func (r *root) makeLinks(links []Symlink, trace Tracer) error {
	for _, l := range links {
		path, err := r.join(l.Path)
		if err != nil {
			return err
		}
		err = r.atDir(path, trace, func(dirfd int, name string) error { return unix.Symlinkat(l.Target, dirfd, name) })
		if err != nil {
			return fmt.Errorf("ln -s %s %s: %w", l.Target, path, err)
		}
		trace.add(OpSymlink, path, "ln -s %s %s", l.Target, path)
	}
	return nil
}

// atDir opens path's directory inside the root (creating it if needed) and
// runs op with its descriptor and path's last component, as the *at system
// calls take them.
func (r *root) atDir(path string, trace Tracer, op func(dirfd int, name string) error) error {
	dir, err := r.mkdirAll(filepath.Dir(path), trace)
	if err != nil {
		return err
	}
	defer dir.Close()
	return op(int(dir.Fd()), filepath.Base(path))
}
