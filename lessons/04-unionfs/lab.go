//go:build linux

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// lab is everything the lesson makes on disk, under one directory named for
// this run (kit.UniqueName), so a learner can find every layer and so one
// RemoveAll takes it all away:
//
//	<root>/layers/1-base, 2-app, 3-cleanup      the image, read-only, shared
//	<root>/containers/<name>/init               the init layer of one container
//	<root>/containers/<name>/upper, work        its writable layer, overlayfs's scratch dir
//	<root>/containers/<name>/merged             where the union is mounted
//	<root>/volumes/data                         a volume (step 7)
//
// The upper and work dirs must be on a filesystem that overlayfs accepts as
// upper (trusted.* xattrs, d_type in readdir: ext4, xfs, btrfs, tmpfs; not
// NFS, see Documentation/filesystems/overlayfs.rst "Upper and Lower"), which
// is why the root is under the temp directory and [NeedUpperFS] checks it.
type lab struct {
	Root string
	// Layers are the image's layers, bottom first, as built by buildImage.
	Layers []imageLayer
	// Containers are in the order they were made; teardown unmounts them
	// in reverse.
	Containers []*container
	// PageSize bounds the overlay options string (see overlay.Layers.Options).
	PageSize int
}

// newLab creates the lab's root directory, which must not exist yet.
func newLab(root string) (*lab, error) {
	if err := os.Mkdir(root, 0o755); err != nil {
		return nil, fmt.Errorf("create the lesson's directory: %w", err)
	}
	return &lab{Root: root, PageSize: os.Getpagesize()}, nil
}

func (l *lab) path(elem ...string) string {
	return filepath.Join(append([]string{l.Root}, elem...)...)
}

// rel is p relative to the lab's root, for tables that would otherwise
// repeat it on every line.
func (l *lab) rel(p string) string {
	if r, err := filepath.Rel(l.Root, p); err == nil {
		return r
	}
	return p
}

// teardownStep is one thing teardown did, as the command a person would type.
type teardownStep struct {
	Cmd string
	Err error
}

// teardown unmounts every container's overlay, the last mounted first, then
// removes the whole tree: layers, init layers, upper and work dirs. It is
// safe to call twice (the lesson's cleanup calls it again after step 9).
func (l *lab) teardown() ([]teardownStep, error) {
	var done []teardownStep
	var errs []error
	for i := len(l.Containers) - 1; i >= 0; i-- {
		c := l.Containers[i]
		if c.unmount == nil {
			continue
		}
		err := c.unmount()
		c.unmount = nil
		done = append(done, teardownStep{Cmd: "umount " + c.Merged, Err: err})
		if err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		// Removing files through a mount that is still there would delete
		// them in the union, not just our directories: leave it all.
		return done, fmt.Errorf("%w; left %s in place", errors.Join(errs...), l.Root)
	}
	if _, err := os.Lstat(l.Root); err == nil {
		err := os.RemoveAll(l.Root)
		done = append(done, teardownStep{Cmd: "rm -rf " + l.Root, Err: err})
		if err != nil {
			errs = append(errs, fmt.Errorf("rm -rf %s: %w", l.Root, err))
		}
	}
	return done, errors.Join(errs...)
}
