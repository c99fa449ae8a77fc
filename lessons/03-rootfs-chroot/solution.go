//go:build linux && solution

package main

// The reference solutions of the README's exercises, built only with
// `-tags solution`: `go run -tags solution -exec sudo
// ./lessons/03-rootfs-chroot check N` passes for every N, which CI proves
// (kittest.CheckExercises). Try yours first: exercises.go.

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/mount"
)

// etcMounts is exercise 1.
func etcMounts(hostDir string) ([]mount.Mount, error) {
	var ms []mount.Mount
	for _, name := range []string{"hostname", "hosts"} {
		ms = append(ms, mount.Mount{Source: filepath.Join(hostDir, name), Target: "/etc/" + name, Flags: unix.MS_BIND})
	}
	return ms, nil
}

// maskPaths is exercise 2.
func maskPaths(paths []string) error {
	var ms []mount.Mount
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return err
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

// dropMknod is exercise 3.
func dropMknod() error {
	if err := unix.Prctl(unix.PR_CAPBSET_DROP, unix.CAP_MKNOD, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_CAPBSET_DROP, CAP_MKNOD): %w", err)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData // version 3: two 32-bit words per set
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capget: %w", err)
	}
	word, bit := unix.CAP_MKNOD/32, uint32(1)<<(unix.CAP_MKNOD%32)
	data[word].Effective &^= bit
	data[word].Permitted &^= bit
	data[word].Inheritable &^= bit
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	return nil
}
