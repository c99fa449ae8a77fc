package mount

import (
	"fmt"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Device is a character device node to create in a container's /dev.
type Device struct {
	Path         string
	Major, Minor uint32
}

// SafeDevices are the only nodes a container's /dev gets: none of them
// reaches hardware or the host's memory (runc's default allow list).
var SafeDevices = []Device{
	{"/dev/null", 1, 3},
	{"/dev/zero", 1, 5},
	{"/dev/full", 1, 7},
	{"/dev/random", 1, 8},
	{"/dev/urandom", 1, 9},
	{"/dev/tty", 5, 0},
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

// MakeDevices creates devs (mknod(2), mode 0666) and [DevLinks] under root,
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
		err = r.atDir(path, trace, func(dirfd int, name string) error {
			return unix.Mknodat(dirfd, name, unix.S_IFCHR|0o666, int(unix.Mkdev(d.Major, d.Minor)))
		})
		if err != nil {
			return fmt.Errorf("mknod %s c %d %d: %w", path, d.Major, d.Minor, err)
		}
		trace.add(OpMknod, path, "mknod -m 666 %s c %d %d", path, d.Major, d.Minor)
	}
	for _, l := range DevLinks {
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
