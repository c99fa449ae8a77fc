package container

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/mount"
	"github.com/unboxlab/unbox/internal/procfs"
)

// The container's root filesystem, built in the init, in its new mount
// namespace, with internal/mount's pieces: the steps of mount.EnterRoot
// with room between them for the hooks, the spec's propagation and
// --no-pivot. Every target is resolved inside the root (mount's package
// doc says why); runc's order is kept.

// prepareRoot is everything before pivot_root: the propagation of /, the
// root made a mount point, the mounts, the device nodes.
func prepareRoot(req *initRequest) error {
	cfg := req.Config
	// Nothing mounted below may propagate back to the host: / becomes a
	// slave (the default: the host's new mounts still reach us) or
	// private, or, asked for rshared (a pod with a Bidirectional volume),
	// stays in the host's peer groups as runc does: then the mount the
	// root is in goes private (runc's rootfsParentMountPrivate), so that
	// the container's own mounts, made under it, stay in the container,
	// while a volume bound from a shared mount is the host mount's peer
	// and what the container mounts in it reaches the host.
	if _, err := mount.MountAll("/", []mount.Mount{{Target: "/", Flags: cfg.RootPropagation}}, nil); err != nil {
		return err
	}
	if cfg.RootPropagation&unix.MS_SHARED != 0 {
		if err := makeMountPrivate(cfg.Rootfs); err != nil {
			return err
		}
	}
	if err := mount.BindSelf(cfg.Rootfs, nil); err != nil {
		return err
	}
	if _, err := mount.MountAll(cfg.Rootfs, req.Mounts, nil); err != nil {
		return err
	}
	if err := mount.MakeLinks(cfg.Rootfs, req.Links, nil); err != nil {
		return err
	}
	if err := setTopFlags(cfg.Rootfs, cfg.Mounts); err != nil {
		return err
	}
	if !req.MakeDevices {
		return nil
	}
	if req.BindDevices {
		var binds []mount.Mount
		for _, d := range cfg.Devices {
			binds = append(binds, mount.Mount{Source: d.Path, Target: d.Path, Flags: unix.MS_BIND})
		}
		if _, err := mount.MountAll(cfg.Rootfs, binds, nil); err != nil {
			return err
		}
		return mount.MakeDevices(cfg.Rootfs, nil, nil)
	}
	return mount.MakeDevices(cfg.Rootfs, cfg.Devices, nil)
}

// setTopFlags gives each mount with TopFlags those flags, on that mount
// alone: a volume read-only at its top, the mounts inside it (a tmpfs the
// host mounted there) as they are. mount_setattr(2) without AT_RECURSIVE,
// on the target opened inside the root (openat2(2), RESOLVE_IN_ROOT).
func setTopFlags(rootfs string, ms []Mount) error {
	var root *os.File
	defer func() {
		if root != nil {
			root.Close()
		}
	}()
	for _, m := range ms {
		if m.TopFlags == 0 {
			continue
		}
		if root == nil {
			var err error
			if root, err = os.OpenFile(rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
				return err
			}
		}
		fd, err := unix.Openat2(int(root.Fd()), strings.TrimPrefix(m.Target, "/"), &unix.OpenHow{
			Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
		})
		if err != nil {
			return fmt.Errorf("open %s in the root: %w", m.Target, err)
		}
		var attr unix.MountAttr
		for _, f := range []struct {
			ms   uintptr
			attr uint64
		}{{unix.MS_RDONLY, unix.MOUNT_ATTR_RDONLY}, {unix.MS_NOSUID, unix.MOUNT_ATTR_NOSUID},
			{unix.MS_NODEV, unix.MOUNT_ATTR_NODEV}, {unix.MS_NOEXEC, unix.MOUNT_ATTR_NOEXEC}} {
			if m.TopFlags&f.ms != 0 {
				attr.Attr_set |= f.attr
			}
		}
		err = unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, &attr)
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("mount_setattr %s on %s, this mount alone: %w", mount.FlagNames(m.TopFlags), m.Target, err)
		}
	}
	return nil
}

// enterRoot makes the prepared root the process's /: pivot_root(2), or
// with --no-pivot a move onto / and chroot(2) (for a root on the initial
// ramfs, which pivot_root cannot leave).
func enterRoot(cfg *Config, fresh bool) error {
	pivot := mount.PivotRoot
	if fresh {
		pivot = mount.PivotRootFresh
	}
	if cfg.RootPropagation&unix.MS_SHARED != 0 {
		pivot = pivotShared
	}
	if !cfg.NoPivot {
		if err := pivot(cfg.Rootfs, nil); err != nil {
			return err
		}
	} else {
		if err := unix.Chdir(cfg.Rootfs); err != nil {
			return fmt.Errorf("cd %s: %w", cfg.Rootfs, err)
		}
		if err := unix.Mount(cfg.Rootfs, "/", "", unix.MS_MOVE, ""); err != nil {
			return fmt.Errorf("mount --move %s / (--no-pivot): %w", cfg.Rootfs, err)
		}
		if err := unix.Chroot("."); err != nil {
			return fmt.Errorf("chroot . (--no-pivot): %w", err)
		}
		if err := unix.Chdir("/"); err != nil {
			return fmt.Errorf("cd /: %w", err)
		}
	}
	if cfg.RootPropagation&unix.MS_SHARED != 0 {
		if err := unix.Mount("", "/", "", cfg.RootPropagation, ""); err != nil {
			return fmt.Errorf("mount --make-%sshared / (%s): %w", recursive(cfg.RootPropagation), mount.FlagNames(cfg.RootPropagation), err)
		}
	}
	return nil
}

// makeMountPrivate makes the mount dir is in private (that mount alone):
// the one statx(2) names, found in the mount table by its ID.
func makeMountPrivate(dir string) error {
	var st unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, dir, 0, unix.STATX_MNT_ID, &st); err != nil {
		return fmt.Errorf("statx %s: %w", dir, err)
	}
	ms, err := procfs.ReadMountinfo("self")
	if err != nil {
		return err
	}
	for _, m := range ms {
		if uint64(m.ID) == st.Mnt_id {
			if err := unix.Mount("", m.Point, "", unix.MS_PRIVATE, ""); err != nil {
				return fmt.Errorf("mount --make-private %s (the mount %s is in): %w", m.Point, dir, err)
			}
			return nil
		}
	}
	return fmt.Errorf("the mount %s is in (ID %d) is not in /proc/self/mountinfo", dir, st.Mnt_id)
}

// pivotShared is mount.PivotRoot for a root whose mounts are in the host's
// peer groups (rshared): before the old root is detached, it becomes a
// slave, all the way down, so that the detach unmounts nothing in the
// host's namespace through propagation (runc's pivotRoot does the same).
// The old root is named by a descriptor opened before: after pivot_root,
// a lookup of "." would find the new root under it, which must stay
// shared.
func pivotShared(dir string, _ mount.Tracer) error {
	oldRoot, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open /: %w", err)
	}
	defer unix.Close(oldRoot)
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open new root %s: %w", dir, err)
	}
	defer unix.Close(fd)
	if err := unix.Fchdir(fd); err != nil {
		return fmt.Errorf("cd %s: %w", dir, err)
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root . . (in %s): %w", dir, err)
	}
	if err := unix.Fchdir(oldRoot); err != nil {
		return fmt.Errorf("cd to the old root: %w", err)
	}
	if err := unix.Mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("mount --make-rslave . (the old root, after pivot_root): %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("umount -l . (the old root, after pivot_root): %w", err)
	}
	return unix.Chdir("/")
}

func recursive(flags uintptr) string {
	if flags&unix.MS_REC != 0 {
		return "r"
	}
	return ""
}

// finishRoot is what comes after pivot_root, inside: sysctls, the hostname,
// masked and read-only paths.
func finishRoot(cfg *Config) error {
	// Sysctls first: /proc/sys is usually among the read-only paths.
	for k, v := range cfg.Sysctl {
		p := "/proc/sys/" + strings.ReplaceAll(k, ".", "/")
		if err := os.WriteFile(p, []byte(v), 0); err != nil {
			return fmt.Errorf("sysctl %s=%s: %w", k, v, err)
		}
	}
	if cfg.Hostname != "" {
		if err := unix.Sethostname([]byte(cfg.Hostname)); err != nil {
			return fmt.Errorf("sethostname %s: %w", cfg.Hostname, err)
		}
	}
	if cfg.Domainname != "" {
		if err := unix.Setdomainname([]byte(cfg.Domainname)); err != nil {
			return fmt.Errorf("setdomainname %s: %w", cfg.Domainname, err)
		}
	}
	if err := maskPaths(cfg.MaskedPaths); err != nil {
		return err
	}
	return readonlyPaths(cfg.ReadonlyPaths)
}

// maskPaths hides each path: /dev/null bound over a file, an empty
// read-only tmpfs over a directory (runc's maskPath). A path that is not
// there needs no mask.
func maskPaths(paths []string) error {
	var ms []mount.Mount
	for _, p := range paths {
		fi, err := os.Stat(p)
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ENOTDIR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("mask %s: %w", p, err)
		}
		if fi.IsDir() {
			ms = append(ms, mount.Mount{Source: "tmpfs", Target: p, Type: "tmpfs", Flags: unix.MS_RDONLY})
		} else {
			ms = append(ms, mount.Mount{Source: "/dev/null", Target: p, Flags: unix.MS_BIND})
		}
	}
	_, err := mount.MountAll("/", ms, nil)
	return err
}

// readonlyPaths binds each path onto itself read-only, all the way down.
func readonlyPaths(paths []string) error {
	var ms []mount.Mount
	for _, p := range paths {
		if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
			continue
		}
		ms = append(ms, mount.Mount{Source: p, Target: p, Flags: unix.MS_BIND | unix.MS_REC | unix.MS_RDONLY})
	}
	_, err := mount.MountAll("/", ms, nil)
	return err
}

// expandMounts turns the config's mounts into the list the init applies,
// and says whether /dev is the host's (then no nodes are made).
func expandMounts(cfg *Config, cgroupMount func(Mount) ([]mount.Mount, error)) (ms []mount.Mount, devFromHost bool, err error) {
	for _, m := range cfg.Mounts {
		if m.Cgroup {
			more, err := cgroupMount(m)
			if err != nil {
				return nil, false, fmt.Errorf("cgroup mount at %s: %w", m.Target, err)
			}
			ms = append(ms, more...)
			continue
		}
		if filepath.Clean(m.Target) == "/dev" && m.Flags&unix.MS_BIND != 0 {
			devFromHost = true
		}
		ms = append(ms, m.Mount)
		if m.Propagation != 0 {
			ms = append(ms, mount.Mount{Target: m.Target, Flags: m.Propagation})
		}
	}
	return ms, devFromHost, nil
}
