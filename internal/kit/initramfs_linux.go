package kit

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// A machine that runs from its initial ramfs (an initramfs that never
// switch_root's to a real root, as some minimal VMs and appliances do) has
// a root that
// pivot_root(2) cannot move: the kernel requires the current root to be a
// mount with a parent, and the initial ramfs ("rootfs") is the root of the
// mount tree, in every mount namespace copied from it. pivot_root then fails
// with EINVAL (pivot_root(2), ERRORS and NOTES), however private and
// however bind-mounted the new root is. [RootIsInitramfs] detects this, and
// [LiftRoot] makes / a mount with a parent so that [PivotRoot] works.

// RootIsInitramfs reports whether the calling process's root is the root
// mount of its mount namespace, the one mount pivot_root(2) refuses to
// move. That is the case on a machine running from its initial ramfs. In
// /proc/self/mountinfo (proc(5)) such a mount is its own parent.
func RootIsInitramfs() (bool, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false, fmt.Errorf("read mount table: %w", err)
	}
	defer f.Close()
	return hasOwnParent(f)
}

// hasOwnParent reports whether a mountinfo text lists a mount that is its
// own parent. Only mounts reachable from the reader's root are listed, so
// this is true exactly when the reader's root is the namespace's root mount.
func hasOwnParent(r io.Reader) (bool, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		// 25 25 0:2 / / rw - rootfs rootfs rw
		f := strings.Fields(sc.Text())
		if len(f) > 1 && f[0] == f[1] {
			return true, nil
		}
	}
	return false, sc.Err()
}

// LiftRoot is what switch_root does, kept reversible: in a private mount
// namespace, it stacks a copy of the whole mount tree on top of / and makes
// it the calling process's root, so that / becomes a mount with a parent
// and pivot_root(2) can move it:
//
//	mount --rbind / dir && cd dir && mount --move . / && chroot .
//
// dir must be an empty directory; it is empty again afterwards (the copy
// moved away from it), so it can serve as pivot_root's put_old. Only the
// calling process's namespace changes.
func LiftRoot(dir string) error {
	if err := unix.Mount("/", dir, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("mount --rbind / %s: %w", dir, err)
	}
	if err := unix.Chdir(dir); err != nil {
		return fmt.Errorf("cd %s: %w", dir, err)
	}
	if err := unix.Mount(".", "/", "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("mount --move . / (in %s): %w", dir, err)
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("chroot . (in %s): %w", dir, err)
	}
	return unix.Chdir("/")
}

// LiftIfInitramfs lifts the root with [LiftRoot], into newRoot's [OldRoot]
// directory (which pivot_root uses next), when the root is the initial
// ramfs, and reports whether it did. Everywhere else it does nothing. Call
// it in a private mount namespace, before pivoting into newRoot.
func LiftIfInitramfs(newRoot string) (bool, error) {
	ramfs, err := RootIsInitramfs()
	if err != nil || !ramfs {
		return false, err
	}
	dir := filepath.Join(newRoot, OldRoot)
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return false, fmt.Errorf("mkdir %s: %w", dir, err)
	}
	return true, LiftRoot(dir)
}
