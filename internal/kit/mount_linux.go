package kit

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Mounts are data first, system calls second (containerd's mount package
// does the same): a lesson builds a []Mount, shows it, tests it without
// root, and applies it in one place, [MountAll], which also knows how to
// undo it in reverse order.

// Mount is one mount(2) call: `mount -t Type -o <Flags and Data> Source Target`.
type Mount struct {
	Source string
	// Target is absolute, inside the root the mount is applied under.
	Target string
	// Type is the filesystem type; empty for a bind mount or a change of
	// propagation.
	Type  string
	Flags uintptr
	// Data is the filesystem's own options, e.g. "mode=755,size=65536k".
	Data string
}

// optionNames spells mount flags the way mount(8)'s -o does.
var optionNames = []struct {
	bit  uintptr
	name string
}{
	{unix.MS_RDONLY, "ro"},
	{unix.MS_NOSUID, "nosuid"},
	{unix.MS_NODEV, "nodev"},
	{unix.MS_NOEXEC, "noexec"},
	{unix.MS_RELATIME, "relatime"},
	{unix.MS_STRICTATIME, "strictatime"},
}

// String is the command a person would type for m.
func (m Mount) String() string {
	switch {
	case m.Flags&(unix.MS_PRIVATE|unix.MS_SHARED|unix.MS_SLAVE|unix.MS_UNBINDABLE) != 0:
		kind := map[uintptr]string{unix.MS_PRIVATE: "private", unix.MS_SHARED: "shared", unix.MS_SLAVE: "slave", unix.MS_UNBINDABLE: "unbindable"}
		for bit, name := range kind {
			if m.Flags&bit != 0 {
				if m.Flags&unix.MS_REC != 0 {
					name = "r" + name
				}
				return fmt.Sprintf("mount --make-%s %s", name, m.Target)
			}
		}
	case m.Flags&unix.MS_BIND != 0:
		cmd := "mount --bind"
		if m.Flags&unix.MS_REC != 0 {
			cmd = "mount --rbind"
		}
		if opts := m.options(); opts != "" {
			cmd += " -o " + opts
		}
		return fmt.Sprintf("%s %s %s", cmd, m.Source, m.Target)
	}
	cmd := "mount -t " + m.Type
	if opts := m.options(); opts != "" {
		cmd += " -o " + opts
	}
	return fmt.Sprintf("%s %s %s", cmd, m.Source, m.Target)
}

func (m Mount) options() string {
	var opts []string
	for _, o := range optionNames {
		if m.Flags&o.bit != 0 {
			opts = append(opts, o.name)
		}
	}
	if m.Data != "" {
		opts = append(opts, m.Data)
	}
	return strings.Join(opts, ",")
}

// Apply makes the mount under root ("/" or "" for the current root),
// creating the target directory (or, to bind a file, an empty file) when
// it is missing. A read-only bind mount takes two calls: the kernel ignores
// MS_RDONLY on the first (mount(2), "Creating a bind mount").
func (m Mount) Apply(root string) error {
	target := filepath.Join(root, m.Target)
	if err := makeTarget(m, target); err != nil {
		return fmt.Errorf("%s: %w", m, err)
	}
	if err := unix.Mount(m.Source, target, m.Type, m.Flags, m.Data); err != nil {
		if m.Flags == 0 {
			return fmt.Errorf("%s: %w", m, err)
		}
		return fmt.Errorf("%s (%s): %w", m, MountFlagNames(m.Flags), err)
	}
	if m.Flags&unix.MS_BIND != 0 && m.Flags&unix.MS_RDONLY != 0 {
		flags := m.Flags | unix.MS_REMOUNT
		if err := unix.Mount("", target, "", flags, ""); err != nil {
			_ = unix.Unmount(target, unix.MNT_DETACH)
			return fmt.Errorf("%s: remount read-only (%s): %w", m, MountFlagNames(flags), err)
		}
	}
	return nil
}

func makeTarget(m Mount, target string) error {
	if _, err := os.Lstat(target); err == nil {
		return nil
	}
	if m.Flags&unix.MS_BIND != 0 {
		if fi, err := os.Stat(m.Source); err == nil && !fi.IsDir() {
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			return os.WriteFile(target, nil, 0o644)
		}
	}
	return os.MkdirAll(target, 0o755)
}

// MountAll applies ms in order under root. If one fails, the ones before it
// are undone and the error says which failed. unmount undoes them all in
// reverse order, so a mount on top of another comes off first.
func MountAll(root string, ms []Mount) (unmount func() error, err error) {
	var done []string
	unmount = func() error {
		var errs []error
		for i := len(done) - 1; i >= 0; i-- {
			if err := unix.Unmount(done[i], 0); err != nil && !errors.Is(err, unix.EINVAL) {
				// EINVAL: not mounted (any more). Anything else, try lazily
				// so the host is not left with a mount, and say so.
				if derr := unix.Unmount(done[i], unix.MNT_DETACH); derr != nil {
					errs = append(errs, fmt.Errorf("umount %s: %w", done[i], err))
				}
			}
		}
		done = nil
		return errors.Join(errs...)
	}
	for _, m := range ms {
		if err := m.Apply(root); err != nil {
			return func() error { return nil }, errors.Join(err, unmount())
		}
		if m.Flags&(unix.MS_PRIVATE|unix.MS_SHARED|unix.MS_SLAVE|unix.MS_UNBINDABLE) == 0 {
			done = append(done, filepath.Join(root, m.Target))
		}
	}
	return unmount, nil
}

// ContainerMounts are the filesystems every container gets, as runc's
// default spec lists them: a /proc of its PID namespace, /sys read-only, /dev
// as a small tmpfs (filled by [MakeDevices]), a private devpts for its
// terminals and a /dev/shm.
func ContainerMounts() []Mount {
	return []Mount{
		{Source: "proc", Target: "/proc", Type: "proc", Flags: unix.MS_NOSUID | unix.MS_NOEXEC | unix.MS_NODEV},
		{Source: "sysfs", Target: "/sys", Type: "sysfs", Flags: unix.MS_NOSUID | unix.MS_NOEXEC | unix.MS_NODEV | unix.MS_RDONLY},
		{Source: "tmpfs", Target: "/dev", Type: "tmpfs", Flags: unix.MS_NOSUID | unix.MS_STRICTATIME, Data: "mode=755,size=65536k"},
		// newinstance: its own set of pty numbers, not the host's
		// (Documentation/filesystems/devpts.rst).
		{Source: "devpts", Target: "/dev/pts", Type: "devpts", Flags: unix.MS_NOSUID | unix.MS_NOEXEC, Data: "newinstance,ptmxmode=0666,mode=0620"},
		{Source: "shm", Target: "/dev/shm", Type: "tmpfs", Flags: unix.MS_NOSUID | unix.MS_NOEXEC | unix.MS_NODEV, Data: "mode=1777,size=65536k"},
	}
}

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

// DevSymlinks are the standard links of /dev, link → target.
var DevSymlinks = [][2]string{
	{"/dev/fd", "/proc/self/fd"},
	{"/dev/stdin", "/proc/self/fd/0"},
	{"/dev/stdout", "/proc/self/fd/1"},
	{"/dev/stderr", "/proc/self/fd/2"},
	{"/dev/ptmx", "pts/ptmx"},
}

// MakeDevices creates devs (mknod(2), mode 0666) and [DevSymlinks] under
// root, whose /dev should be a fresh tmpfs.
func MakeDevices(root string, devs []Device) error {
	old := unix.Umask(0)
	defer unix.Umask(old)
	for _, d := range devs {
		p := filepath.Join(root, d.Path)
		if err := unix.Mknod(p, unix.S_IFCHR|0o666, int(unix.Mkdev(d.Major, d.Minor))); err != nil {
			return fmt.Errorf("mknod %s c %d %d: %w", d.Path, d.Major, d.Minor, err)
		}
	}
	for _, l := range DevSymlinks {
		if err := os.Symlink(l[1], filepath.Join(root, l[0])); err != nil {
			return fmt.Errorf("ln -s %s %s: %w", l[1], l[0], err)
		}
	}
	return nil
}

// MakePrivate is `mount --make-rprivate path`. A new mount namespace copies
// each mount's propagation; where / is shared (systemd makes it so), mounts
// made "inside" would appear on the host, and pivot_root(2) refuses to work
// (mount_namespaces(7)). So this always comes first.
func MakePrivate(path string) error {
	if err := unix.Mount("", path, "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("mount --make-rprivate %s: %w", path, err)
	}
	return nil
}

// BindSelf is `mount --rbind dir dir`: pivot_root(2) needs the new root to be
// a mount point, and a directory becomes one when bound onto itself.
func BindSelf(dir string) error {
	if err := unix.Mount(dir, dir, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("mount --rbind %s %s: %w", dir, dir, err)
	}
	return nil
}

// OldRoot is where [PivotRoot] puts the old root for the moment between
// pivot_root(2) and unmounting it, relative to the new root.
const OldRoot = "/.oldroot"

// PivotRoot makes newRoot, a mount point in a private mount namespace of
// its own, the root of that namespace: pivot_root(newRoot, newRoot/.oldroot),
// then chdir to the new / (pivot_root(2) leaves the working directory
// alone). The old root stays mounted at [OldRoot] until [DropOldRoot].
func PivotRoot(newRoot string) error {
	putOld := filepath.Join(newRoot, OldRoot)
	if err := os.MkdirAll(putOld, 0o700); err != nil {
		return fmt.Errorf("mkdir -p %s: %w", putOld, err)
	}
	if err := unix.PivotRoot(newRoot, putOld); err != nil {
		return fmt.Errorf("pivot_root %s %s: %w%s", newRoot, putOld, err, pivotHint(err))
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("cd /: %w", err)
	}
	return nil
}

// pivotHint names the usual causes of a pivot_root(2) error.
func pivotHint(err error) string {
	switch {
	case errors.Is(err, unix.EINVAL):
		return " (is the new root a mount point, and is every mount private? see pivot_root(2) and mount_namespaces(7))"
	case errors.Is(err, unix.EBUSY):
		return " (the new root is on the same mount as /: bind-mount it onto itself first)"
	}
	return ""
}

// DropOldRoot unmounts the old root that [PivotRoot] left at [OldRoot] and
// removes the empty directory, so that no path leads back to the host's
// files. MNT_DETACH (umount -l): the old root is still busy (this very
// process started from it), so it is detached now and freed when its last
// user is gone. Unlike chroot(2), nothing is left to escape to.
func DropOldRoot() error {
	if err := unix.Unmount(OldRoot, unix.MNT_DETACH); err != nil {
		return fmt.Errorf("umount -l %s: %w", OldRoot, err)
	}
	if err := os.Remove(OldRoot); err != nil {
		return fmt.Errorf("rmdir %s: %w", OldRoot, err)
	}
	return nil
}

// EnterRoot is the whole sequence a runtime runs to give a process its root
// filesystem, for a child in new mount and PID namespaces: private
// propagation, root bound onto itself, mounts (usually [ContainerMounts])
// applied under it, device nodes and links made, then [PivotRoot] and
// [DropOldRoot] (on a machine running from its initial ramfs, after
// [LiftIfInitramfs]). Lesson 03 walks through it step by step; later
// lessons call it.
func EnterRoot(root string, mounts []Mount, devices []Device) error {
	if err := MakePrivate("/"); err != nil {
		return err
	}
	if _, err := LiftIfInitramfs(root); err != nil {
		return err
	}
	if err := BindSelf(root); err != nil {
		return err
	}
	if _, err := MountAll(root, mounts); err != nil {
		return err
	}
	if err := MakeDevices(root, devices); err != nil {
		return err
	}
	if err := PivotRoot(root); err != nil {
		return err
	}
	return DropOldRoot()
}
