package mount

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/bitflags"
	"github.com/unboxlab/unbox/internal/procfs"
)

// MountAll applies ms in order under root, each target resolved inside root
// (see the package documentation), and returns what it mounted so that it can
// be undone. If one mount fails, the ones before it are undone and the error
// names the one that failed. A change of propagation (MS_PRIVATE and the
// like) is applied to its target and not undone.
func MountAll(root string, ms []Mount, trace Tracer) (*Mounted, error) {
	r, err := openRoot(root)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	done := &Mounted{root: r.dir, trace: trace}
	for _, m := range ms {
		if err := r.apply(m, done, trace); err != nil {
			return nil, errors.Join(err, done.Unmount())
		}
	}
	return done, nil
}

// apply makes one mount(2) call, onto the descriptor of its target, and for
// a bind mount with per-mount flags the second call that sets them.
func (r *root) apply(m Mount, done *Mounted, trace Tracer) error {
	if m.Flags&propagationFlags != 0 {
		return r.propagate(m, trace)
	}
	if m.Target == "" || m.Target == "/" {
		return fmt.Errorf("%s: a mount onto the root itself (bind the root onto itself with BindSelf)", m)
	}
	t, path, err := r.target(m, trace)
	if err != nil {
		return fmt.Errorf("%s: %w", m, err)
	}
	flags := m.Flags
	if m.isBind() {
		flags &^= perMountFlags // ignored by the kernel on a bind: set below
	}
	err = onFile(t, "", func(p string) error { return unix.Mount(m.Source, p, m.Type, flags, m.Data) })
	t.Close()
	shown := m.at(path)
	if m.isBind() {
		shown.Flags = flags
	}
	if err != nil {
		return mountError(shown, flags, err)
	}
	trace.addCall(OpMount, path, mountCall(flags), "%s", shown)
	done.add(path)
	if m.isBind() && m.Flags&perMountFlags != 0 {
		return r.setBindFlags(m, path, trace)
	}
	return nil
}

// setBindFlags is the second call of a bind mount with flags such as ro:
// mount(2) ignores them on the call that makes the bind ("Creating a bind
// mount"). A plain bind is remounted with MS_REMOUNT|MS_BIND; a recursive
// one has mounts under it, each with its own flags, so the flags go to all
// of them at once with mount_setattr(2) and AT_RECURSIVE (Linux 5.12): a
// read-only volume is read-only all the way down.
func (r *root) setBindFlags(m Mount, path string, trace Tracer) error {
	// Opened again now, the path leads to the root of the new mount.
	t, err := r.open(r.rel(path))
	if err != nil {
		return fmt.Errorf("%s: reopen %s: %w", m, path, err)
	}
	defer t.Close()
	if m.Flags&unix.MS_REC == 0 {
		flags := unix.MS_REMOUNT | unix.MS_BIND | m.Flags&perMountFlags
		cmd := fmt.Sprintf("mount -o remount,bind,%s %s", Mount{Flags: m.Flags & perMountFlags}.options(), path)
		if err := onFile(t, "", func(p string) error { return unix.Mount("", p, "", flags, "") }); err != nil {
			return fmt.Errorf("%s (%s): %w", cmd, FlagNames(flags), err)
		}
		trace.addCall(OpMount, path, mountCall(flags), "%s", cmd)
		return nil
	}
	attr := unix.MountAttr{Attr_set: mountAttrs(m.Flags)}
	if err := unix.MountSetattr(int(t.Fd()), "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &attr); err != nil {
		if errors.Is(err, unix.ENOSYS) {
			err = fmt.Errorf("%w: a recursive read-only bind needs mount_setattr(2), Linux 5.12 or later", err)
		}
		return fmt.Errorf("%s: mount_setattr AT_RECURSIVE on %s: %w", m.at(path), path, err)
	}
	trace.addCall(OpMount, path, "mount_setattr(2) AT_RECURSIVE "+bitflags.Format(uintptr(attr.Attr_set), mountAttrNames),
		"mount -o remount,bind,%s %s", Mount{Flags: m.Flags & (perMountFlags | unix.MS_BIND | unix.MS_REC)}.options(), path)
	return nil
}

// mountAttrNames spell mount_setattr(2)'s attributes.
var mountAttrNames = []bitflags.Name{
	{Bit: unix.MOUNT_ATTR_RDONLY, Name: "MOUNT_ATTR_RDONLY"},
	{Bit: unix.MOUNT_ATTR_NOSUID, Name: "MOUNT_ATTR_NOSUID"},
	{Bit: unix.MOUNT_ATTR_NODEV, Name: "MOUNT_ATTR_NODEV"},
	{Bit: unix.MOUNT_ATTR_NOEXEC, Name: "MOUNT_ATTR_NOEXEC"},
}

// mountAttrs maps per-mount MS_ flags to mount_setattr(2)'s MOUNT_ATTR_ ones.
func mountAttrs(flags uintptr) uint64 {
	var attr uint64
	for _, f := range []struct {
		ms   uintptr
		attr uint64
	}{
		{unix.MS_RDONLY, unix.MOUNT_ATTR_RDONLY},
		{unix.MS_NOSUID, unix.MOUNT_ATTR_NOSUID},
		{unix.MS_NODEV, unix.MOUNT_ATTR_NODEV},
		{unix.MS_NOEXEC, unix.MOUNT_ATTR_NOEXEC},
	} {
		if flags&f.ms != 0 {
			attr |= f.attr
		}
	}
	return attr
}

// propagate changes the propagation of the mount at m.Target (inside root).
func (r *root) propagate(m Mount, trace Tracer) error {
	path, err := r.join(m.Target)
	if err != nil {
		return err
	}
	t, err := r.open(r.rel(path))
	if err != nil {
		return fmt.Errorf("%s: %w", m.at(path), err)
	}
	defer t.Close()
	if err := onFile(t, "", func(p string) error { return unix.Mount("", p, "", m.Flags, "") }); err != nil {
		return mountError(m.at(path), m.Flags, err)
	}
	trace.addCall(OpMount, path, mountCall(m.Flags), "%s", m.at(path))
	return nil
}

// mountID is the ID of the mount on top at path: statx(2) with
// STATX_MNT_ID (Linux 5.8), one system call where reading the mount table
// after every mount would make a container's dozens of mounts quadratic;
// else from the mount table, or 0 where there is no /proc to read it from.
func mountID(path string) int {
	var stx unix.Statx_t
	err := unix.Statx(unix.AT_FDCWD, path, unix.AT_SYMLINK_NOFOLLOW|unix.AT_NO_AUTOMOUNT, unix.STATX_MNT_ID, &stx)
	if err == nil && stx.Mask&unix.STATX_MNT_ID != 0 {
		return int(stx.Mnt_id)
	}
	ms, err := procfs.ReadMountinfo("self")
	if err != nil {
		return 0
	}
	top, _ := procfs.Mounts(ms).At(path)
	return top.ID
}
