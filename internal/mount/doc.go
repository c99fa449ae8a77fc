// Package mount gives a container its filesystems: mounts as data
// ([Mount], a mount(2) call you can print, compare and test without root),
// applied in one place ([MountAll]), undone in reverse ([Mounted.Unmount]),
// and the one sequence that makes a directory a container's / ([EnterRoot]).
//
// # Targets are resolved inside the root
//
// A root filesystem comes from an image, and an image is data someone else
// wrote. If its /dev is a symlink to ../../../../tmp/x or to /tmp/x, a
// runtime that joins paths with filepath.Join and calls mount(2) on the
// result mounts onto the host's /tmp/x. So every target, device node and
// link is resolved inside the root, as if the root were /: the package opens
// it with an O_PATH descriptor (openat2(2) RESOLVE_IN_ROOT, through
// github.com/cyphar/filepath-securejoin's pathrs-lite, which runc uses too),
// creates what is missing from that descriptor down, and mounts onto
// /proc/self/fd/N, which the kernel resolves to exactly the file that was
// opened: nothing can swap a symlink in between. Filesystems of type proc and
// sysfs go further and refuse any symlink in their target's path, as runc
// does: a container must not choose where its /proc lands.
//
// # Entering a root
//
// [EnterRoot] is what a runtime does between clone(2) and exec(2), in the
// container's new mount namespace: make every mount private (so nothing
// propagates back to the host), bind the root onto itself (pivot_root(2)
// needs a mount point), apply the container's mounts and device nodes under
// it, then pivot:
//
//	cd root; pivot_root . .; umount -l .; cd /
//
// pivot_root(".", ".") stacks the old root on top of the new one, and
// umount2(".", MNT_DETACH) takes it off (pivot_root(2), NOTES): no directory
// is needed for the old root, so a read-only root works. [PivotRoot] refuses
// to run in a mount namespace that other processes share, such as the
// host's: pivot_root moves the root of every process in the namespace.
//
// # Volumes
//
// A volume is a mount like the others, made after the container's own: a
// host directory bound recursively ([Bind]: `mount --rbind`, then the
// read-only remount of :ro, then the propagation mode of -v), or a tmpfs
// ([ParseTmpfs], which checks `--tmpfs DST:OPTS` before anything is
// mounted). A volume that must go on receiving the host's mounts (rslave,
// rshared) needs the container's / made a slave tree rather than private
// first: [RootConfig].Propagation, chosen by [RootPropagation]. Package
// volume parses -v and keeps the named and anonymous volumes' directories.
//
// An optional [Tracer] hears each step the package takes, as the shell
// command a person would type; lessons print it instead of strings of their
// own that could drift from the code; a step's Call names the system call
// it made, with its flags.
//
// Taught by: lesson 03 (chroot, pivot_root, /proc, /sys, /dev); lessons 04
// and 05 mount overlays and volumes with it. Used by the capstone's runtime
// for the container's / ([EnterRoot] in `unbox-runtime create`), masked and
// read-only paths, --read-only, -v and --tmpfs.
package mount
