//go:build linux && !solution

package main

// The exercises of the README, to fill in. Check one with
// `go run -exec sudo ./lessons/03-rootfs-chroot check N`: it runs your code
// in a container and reads back what the kernel did. (A TODO(exercise N)
// marks where you write, not unfinished work: the lesson runs without
// them.)

import (
	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/mount"
)

// etcMounts returns the mounts that give a container the /etc/hostname and
// /etc/hosts the runtime wrote for it in hostDir (hostDir/hostname,
// hostDir/hosts), as Docker does: bind mounts of host files, added to
// mount.ContainerMounts() and applied under the root before pivot_root.
//
// TODO(exercise 1): return one mount.Mount per file: Source the host file,
// Target the path inside the container, Flags unix.MS_BIND. Mounts are data
// here (internal/mount applies them, and creates a missing target file).
func etcMounts(hostDir string) ([]mount.Mount, error) {
	return nil, kit.TODO(1)
}

// maskPaths hides kernel files a container has no business reading, as the
// OCI spec's maskedPaths do (runc's maskPath): it runs inside the
// container, after pivot_root, with /proc and /sys mounted. paths are the
// ones that exist here: files (/proc/kcore, /proc/keys, ...) and
// directories (/proc/acpi, /sys/firmware, ...).
//
// TODO(exercise 2): over a file, bind-mount /dev/null (reads give nothing);
// over a directory, mount an empty read-only tmpfs. mount.MountAll("/",
// ...) applies a list of mount.Mount.
func maskPaths(paths []string) error {
	return kit.TODO(2)
}

// dropMknod takes CAP_MKNOD away from this process for good, as Podman's
// default capability set does: no more device nodes, whatever a container
// root tries. It runs inside the container, on the thread that will go on
// (capabilities belong to a thread until exec(2)).
//
// TODO(exercise 3): drop CAP_MKNOD from the bounding set
// (unix.Prctl(unix.PR_CAPBSET_DROP, unix.CAP_MKNOD, 0, 0, 0)), then clear
// its bit in the effective, permitted and inheritable sets: unix.Capget,
// then unix.Capset with a unix.CapUserHeader of version
// unix.LINUX_CAPABILITY_VERSION_3 (capabilities(7), capset(2)).
func dropMknod() error {
	return kit.TODO(3)
}
