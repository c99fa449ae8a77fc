//go:build linux

package main

import (
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
	if _, err := kit.LiftIfInitramfs(rootfs); err != nil {
		return err
	}
	if err := kit.PivotRoot(rootfs); err != nil {
		return err
	}
	if err := kit.DropOldRoot(); err != nil {
		return err
	}
	if _, err := kit.MountAll("/", containerMounts()); err != nil {
		return err
	}
	return kit.MakeDevices("/", kit.SafeDevices)
}
