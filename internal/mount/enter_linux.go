package mount

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// RootConfig is a container's filesystem as data: the directory that becomes
// its /, and what goes in it.
type RootConfig struct {
	// Dir is the root filesystem's directory, as the caller sees it.
	Dir string
	// Mounts are applied under Dir, in order (usually [ContainerMounts]
	// and the container's volumes).
	Mounts []Mount
	// Devices are made in Dir's /dev, with [DevLinks] (usually
	// [SafeDevices]).
	Devices []Device
	// ReadOnly makes / read-only once entered (docker run --read-only);
	// the mounts on it keep their own flags.
	ReadOnly bool
	// Propagation is what every mount is made before any is applied: 0
	// or MS_REC|MS_PRIVATE (the default), or MS_REC|MS_SLAVE, which
	// volumes with slave or shared propagation need ([RootPropagation]
	// picks it from Mounts).
	Propagation uintptr
}

// ContainerMounts are the filesystems every container gets, as runc's
// default spec lists them: a /proc of its PID namespace, /sys read-only, /dev
// as a small tmpfs (filled by [MakeDevices]), a private devpts for its
// terminals and a /dev/shm. Parents come before children, or a later mount
// would hide an earlier one.
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

// EnterRoot is the whole sequence a runtime runs to give a process its root
// filesystem, in a child alone in a new mount namespace (and usually a new
// PID namespace, for its /proc):
//
//  1. make every mount private ([MakePrivate]), so nothing propagates back
//     (or a slave, with cfg.Propagation: the host's mounts still come in);
//  2. bind cfg.Dir onto itself ([BindSelf]), so it is a mount point;
//  3. apply cfg.Mounts under it ([MountAll]) and make cfg.Devices
//     ([MakeDevices]), while the host's paths (a volume's source) are still
//     reachable, every target resolved inside the root;
//  4. pivot into it and detach the old root ([PivotRoot]);
//  5. with cfg.ReadOnly, remount / read-only.
//
// It refuses to start in a shared mount namespace, before it changes
// anything. Nothing is undone on failure: the mounts live in the caller's
// namespace, which ends with it. Lesson 03 walks through it step by step.
func EnterRoot(cfg RootConfig, trace Tracer) error {
	if err := requireOwnNamespace(); err != nil {
		return err
	}
	if err := makeRootPropagation("/", cfg.Propagation, trace); err != nil {
		return err
	}
	if err := BindSelf(cfg.Dir, trace); err != nil {
		return err
	}
	if _, err := MountAll(cfg.Dir, cfg.Mounts, trace); err != nil {
		return err
	}
	if len(cfg.Devices) > 0 {
		if err := MakeDevices(cfg.Dir, cfg.Devices, trace); err != nil {
			return err
		}
	}
	if err := PivotRoot(cfg.Dir, trace); err != nil {
		return err
	}
	if cfg.ReadOnly {
		return remountReadOnly("/", trace)
	}
	return nil
}

// RemountReadOnly is `mount -o remount,bind,ro path`: what
// [RootConfig.ReadOnly] does to / once entered, for a runtime that enters
// its root step by step.
func RemountReadOnly(path string, trace Tracer) error { return remountReadOnly(path, trace) }

// remountReadOnly is `mount -o remount,bind,ro path`. A remount replaces all
// of a mount's per-mount flags, so the ones it has (nosuid, nodev, ...) go
// back in with MS_RDONLY, read from statfs(2).
func remountReadOnly(path string, trace Tracer) error {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return fmt.Errorf("statfs %s: %w", path, err)
	}
	flags := uintptr(unix.MS_REMOUNT | unix.MS_BIND | unix.MS_RDONLY)
	for _, f := range []struct {
		st int64
		ms uintptr
	}{
		{unix.ST_NOSUID, unix.MS_NOSUID}, {unix.ST_NODEV, unix.MS_NODEV}, {unix.ST_NOEXEC, unix.MS_NOEXEC},
		{unix.ST_NOATIME, unix.MS_NOATIME}, {unix.ST_NODIRATIME, unix.MS_NODIRATIME}, {unix.ST_RELATIME, unix.MS_RELATIME},
	} {
		if st.Flags&f.st != 0 {
			flags |= f.ms
		}
	}
	if err := unix.Mount("", path, "", flags, ""); err != nil {
		return fmt.Errorf("mount -o remount,bind,ro %s (%s): %w", path, FlagNames(flags), err)
	}
	trace.add(OpMount, path, "mount -o remount,bind,ro %s", path)
	return nil
}
