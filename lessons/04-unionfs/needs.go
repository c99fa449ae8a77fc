//go:build linux

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/kit"
)

// NeedUpperFS is a temp directory that overlayfs accepts as an upper dir,
// where the lesson keeps its layers. Not every filesystem is: the upper
// needs trusted.* xattrs and d_type (overlayfs.rst, "Upper and Lower"), so
// NFS is out, and so is overlayfs itself, which is what /tmp is when the
// lesson runs inside a container. The check mounts a small union there and
// makes one whiteout and one opaque directory through it, as the lesson
// will. Without root it cannot tell, and the root need says so already.
var NeedUpperFS = kit.Need{
	Name:  "overlay upper dir in " + os.TempDir(),
	Check: func() error { upperOnce.Do(func() { upperErr = probeUpperFS(os.TempDir()) }); return upperErr },
	Fix: "point TMPDIR at a directory on ext4, xfs, btrfs or tmpfs: " +
		"go run -exec 'sudo TMPDIR=/var/tmp' ./lessons/04-unionfs",
}

var (
	upperOnce sync.Once
	upperErr  error
)

func probeUpperFS(tmp string) (err error) {
	if os.Geteuid() != 0 {
		return nil
	}
	dir, err := os.MkdirTemp(tmp, "unbox-upper-probe-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	p := func(elem ...string) string { return filepath.Join(append([]string{dir}, elem...)...) }
	for _, d := range []string{"lower/d", "upper", "work", "merged"} {
		if err := os.MkdirAll(p(d), 0o755); err != nil {
			return err
		}
	}
	if err := os.WriteFile(p("lower", "f"), nil, 0o644); err != nil {
		return err
	}
	opts, err := Overlay{Lower: []string{p("lower")}, Upper: p("upper"), Work: p("work")}.Options(os.Getpagesize())
	if err != nil {
		return err
	}
	if err := unix.Mount("overlay", p("merged"), "overlay", 0, opts); err != nil {
		var fs unix.Statfs_t
		_ = unix.Statfs(tmp, &fs)
		return fmt.Errorf("mount -t overlay with upperdir on %s (filesystem magic %#x): %w", tmp, fs.Type, err)
	}
	defer func() {
		if uerr := unix.Unmount(p("merged"), 0); uerr != nil {
			err = errors.Join(err, unix.Unmount(p("merged"), unix.MNT_DETACH))
		}
	}()
	if err := os.Remove(p("merged", "f")); err != nil {
		return fmt.Errorf("delete through the union (a whiteout): %w", err)
	}
	if err := os.Remove(p("merged", "d")); err != nil {
		return fmt.Errorf("rmdir through the union: %w", err)
	}
	if err := os.Mkdir(p("merged", "d"), 0o755); err != nil {
		return fmt.Errorf("mkdir through the union (an opaque directory): %w", err)
	}
	return nil
}
