//go:build linux

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/kit"
)

// rootMounts are step 4's two mount(2) calls, as data:
//
//   - mount --make-rprivate /: a new mount namespace starts as a copy of the
//     host's mount table, propagation included. Where / is shared (systemd
//     makes it so), every mount made in the copy would appear on the host as
//     well, and pivot_root(2) refuses to run (EINVAL: "new_root or its parent
//     mount has shared propagation"). So this comes first (mount_namespaces(7)).
//   - mount --rbind rootfs rootfs: pivot_root(2) needs the new root to be a
//     mount point, and a directory bound onto itself is one.
func rootMounts(rootfs string) []kit.Mount {
	return []kit.Mount{
		{Target: "/", Flags: unix.MS_REC | unix.MS_PRIVATE},
		{Source: rootfs, Target: rootfs, Flags: unix.MS_BIND | unix.MS_REC},
	}
}

// pivot is pivot_root(2) with the old root kept at /.oldroot, so that it
// can be looked at: kit.PivotRoot without its last two calls (dropOldRoot).
// pivot_root(new_root, put_old) makes new_root the root of the calling
// process's mount namespace and mounts the old root at put_old, which must
// be under new_root; the working directory is not changed, so cd / follows.
func pivot(newRoot string) error {
	putOld := filepath.Join(newRoot, kit.OldRoot)
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

// pivotHint says what the usual causes of a pivot_root(2) error are.
func pivotHint(err error) string {
	switch {
	case errors.Is(err, unix.EINVAL):
		return " (is the new root a mount point, and is every mount private? see pivot_root(2) and mount_namespaces(7))"
	case errors.Is(err, unix.EBUSY):
		return " (the new root is on the same mount as /: bind-mount it onto itself first)"
	}
	return ""
}

// dropOldRoot unmounts the old root and removes its directory, so that no
// path leads back to the host. MNT_DETACH (umount -l): the old root is busy
// (this very process started from it), so detach it now and let the kernel
// free it when the last user is gone.
func dropOldRoot() error {
	if err := unix.Unmount(kit.OldRoot, unix.MNT_DETACH); err != nil {
		return fmt.Errorf("umount -l %s: %w", kit.OldRoot, err)
	}
	if err := os.Remove(kit.OldRoot); err != nil {
		return fmt.Errorf("rmdir %s: %w", kit.OldRoot, err)
	}
	return nil
}

// liftIfInitramfs is needed only on a machine that runs from its initial
// ramfs, never switching to a real root: there / is the root of the mount
// tree, which
// pivot_root(2) cannot move, so first stack a copy of the tree on / (see
// kit.LiftRoot). It reports whether it did.
func liftIfInitramfs(rootfs string) (bool, error) {
	ramfs, err := kit.RootIsInitramfs()
	if err != nil || !ramfs {
		return false, err
	}
	dir := filepath.Join(rootfs, kit.OldRoot)
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return false, fmt.Errorf("mkdir %s: %w", dir, err)
	}
	return true, kit.LiftRoot(dir)
}

// narrateLift is what step 4 prints when it had to lift the root. The
// transcript test removes exactly these lines when it runs on such a
// machine, so the golden file is the same everywhere.
func narrateLift(s *kit.Session) {
	s.Cmd("mkdir -p .oldroot && mount --rbind / .oldroot && cd .oldroot && mount --move . / && chroot .")
	s.Inside("/ was the initial ramfs, the root of the mount tree, which pivot_root(2) cannot move (see its\n" +
		"NOTES); now a copy of the whole tree is stacked on it, and / has a parent like on any disk-booted host")
}

// enterRoot is the whole of steps 4 and 5 without the narration: what the
// --shell child runs before it execs the shell. The caller is in new mount
// and PID namespaces.
func enterRoot(rootfs string) error {
	ms := rootMounts(rootfs)
	if err := ms[0].Apply(""); err != nil {
		return err
	}
	if err := ms[1].Apply(""); err != nil {
		return err
	}
	if _, err := liftIfInitramfs(rootfs); err != nil {
		return err
	}
	if err := pivot(rootfs); err != nil {
		return err
	}
	if err := dropOldRoot(); err != nil {
		return err
	}
	if _, err := kit.MountAll("/", containerMounts()); err != nil {
		return err
	}
	return kit.MakeDevices("/", kit.SafeDevices)
}
