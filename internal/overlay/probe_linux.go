package overlay

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Probe finds out whether overlayfs works with its upper and work dirs in
// dir, the way a runtime will use it, as containerd's overlay snapshotter
// does before it trusts a directory (overlayutils.Supported): by mounting a
// small union there. The mount also makes the kernel load the overlay
// module where it is one. Through the union it then deletes a file and
// replaces a directory, and checks that the kernel wrote a whiteout and an
// opaque directory into the upper dir, as [ReadMarker] reads them.
//
// It needs root. The error says which part failed; a dir on NFS or on
// overlayfs itself (/tmp inside a container) fails the mount.
//
// This is the one mount(2) call of the package: everything else describes
// mounts for the caller to make. A probe must see the kernel's own answer,
// and it undoes its mount before it returns.
func Probe(dir string) (err error) {
	tmp, err := os.MkdirTemp(dir, "unbox-overlay-probe-")
	if err != nil {
		return fmt.Errorf("overlay probe: %w", err)
	}
	defer func() { err = errors.Join(err, os.RemoveAll(tmp)) }()
	p := func(elem ...string) string { return filepath.Join(append([]string{tmp}, elem...)...) }
	for _, d := range []string{"lower/d", "upper", "work", "merged"} {
		if err := os.MkdirAll(p(d), 0o755); err != nil {
			return fmt.Errorf("overlay probe: %w", err)
		}
	}
	if err := os.WriteFile(p("lower", "f"), nil, 0o644); err != nil {
		return fmt.Errorf("overlay probe: %w", err)
	}
	l := Layers{Lower: []string{p("lower")}, Upper: p("upper"), Work: p("work")}
	opts, err := l.Options(os.Getpagesize())
	if err != nil {
		return err
	}
	if err := unix.Mount(FSType, p("merged"), FSType, 0, opts); err != nil {
		var fs unix.Statfs_t
		_ = unix.Statfs(dir, &fs)
		return fmt.Errorf("mount -t overlay with its upperdir in %s (%s): %w%s", dir, fsName(int64(fs.Type)), err, MountHint(err))
	}
	defer func() {
		if uerr := unix.Unmount(p("merged"), 0); uerr != nil {
			err = errors.Join(err, fmt.Errorf("overlay probe: umount %s: %w", p("merged"), uerr),
				unix.Unmount(p("merged"), unix.MNT_DETACH))
		}
	}()
	if err := os.Remove(p("merged", "f")); err != nil {
		return fmt.Errorf("overlay probe: delete through the union (a whiteout): %w", err)
	}
	if err := os.Remove(p("merged", "d")); err != nil {
		return fmt.Errorf("overlay probe: rmdir through the union: %w", err)
	}
	if err := os.Mkdir(p("merged", "d"), 0o755); err != nil {
		return fmt.Errorf("overlay probe: mkdir through the union (an opaque directory): %w", err)
	}
	for _, want := range []struct {
		name   string
		marker Marker
	}{{"f", Whiteout}, {"d", Opaque}} {
		got, err := ReadMarker(p("upper", want.name))
		if err != nil {
			return fmt.Errorf("overlay probe: %w", err)
		}
		if got != want.marker {
			return fmt.Errorf("overlay probe: the kernel left a %v at upper/%s where this package expects a %v", got, want.name, want.marker)
		}
	}
	return nil
}

// fsName names the filesystem types that cannot hold an upper dir, and
// gives the magic number (statfs(2)) of any other.
func fsName(magic int64) string {
	switch magic {
	case unix.OVERLAYFS_SUPER_MAGIC:
		return "an overlayfs, which cannot be the upper of another"
	case unix.NFS_SUPER_MAGIC:
		return "NFS, whose xattrs and d_type overlayfs cannot use"
	}
	return fmt.Sprintf("a filesystem of type %#x", magic)
}
