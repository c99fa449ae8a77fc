package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/layer"
	"github.com/unboxlab/unbox/internal/overlay"
)

// A container's root file system is lesson 04's stack: the image's
// snapshots (shared, read-only), the container's init layer (its
// /etc/hostname, /etc/hosts and /etc/resolv.conf, rewritten before each
// start and never committed), and its upper dir, which takes every change.
//
//	mount -t overlay overlay -o lowerdir=<init>:<top>:...:<bottom>,upperdir=<upper>,workdir=<work> <rootfs>
//
// The monitor mounts it before each start and unmounts it after the
// container exits, so a stopped container holds no mount.

// layersIn is the container's overlay as data, its directories in dir
// (the container's, or the one it is made in); without an upper dir (ro)
// it is a read-only view of the image and the init layer.
func layersIn(dir string, c *Container, ro bool) overlay.Layers {
	l := overlay.Layers{Lower: append([]string{filepath.Join(dir, "init")}, splitLower(c.GraphDriver.Data["ImageLowerDir"])...)}
	if !ro {
		l.Upper, l.Work = filepath.Join(dir, "upper"), filepath.Join(dir, "work")
	}
	return l
}

func splitLower(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ":")
}

// mountRootfs mounts the container's overlay at its rootfs directory.
func (e *Engine) mountRootfs(c *Container) error {
	l := layersIn(e.dir(c.ID), c, false)
	for _, d := range []string{l.Upper, l.Work, e.rootfs(c.ID)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	return mountOverlay(e.rootfs(c.ID), l, false)
}

// mountOverlay mounts l at target.
func mountOverlay(target string, l overlay.Layers, ro bool) error {
	opts, err := l.Options(os.Getpagesize())
	if err != nil {
		return err
	}
	flags := uintptr(0)
	if ro {
		flags = unix.MS_RDONLY
	}
	if err := unix.Mount(overlay.FSType, target, overlay.FSType, flags, opts); err != nil {
		return fmt.Errorf("mount -t overlay overlay -o %s %s: %w%s", opts, target, err, overlay.MountHint(err))
	}
	return nil
}

// unmount takes the overlay off its rootfs directory, if it is on it: a
// plain unmount, then a lazy one (MNT_DETACH) if something still holds
// it, as a mount namespace that copied it may.
func unmount(target string) error {
	err := unix.Unmount(target, 0)
	switch {
	case err == nil, errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOENT):
		return nil
	case errors.Is(err, unix.EBUSY):
		if err := unix.Unmount(target, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("umount -l %s: %w", target, err)
		}
		return nil
	}
	return fmt.Errorf("umount %s: %w", target, err)
}

// writeInitLayer writes the init layer's files for one start.
func (e *Engine) writeInitLayer(c *Container, n NetworkSetup) error {
	etc := filepath.Join(e.dir(c.ID), "init", "etc")
	if err := os.MkdirAll(etc, 0o755); err != nil {
		return err
	}
	files := map[string][]byte{"hostname": []byte(c.Config.Hostname + "\n"), "hosts": n.Hosts, "resolv.conf": n.ResolvConf}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(etc, name), b, 0o644); err != nil {
			return fmt.Errorf("init layer: %w", err)
		}
	}
	return nil
}

// commitExclude are the paths a commit leaves out: the init layer's
// files and the container's mount points.
func commitExclude(c *Container) []string {
	ex := append([]string(nil), layer.InitFiles...)
	for _, m := range c.Mounts {
		ex = append(ex, m.Destination)
	}
	return ex
}
