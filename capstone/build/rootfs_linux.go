package build

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/capstone/image"
	"github.com/unboxlab/unbox/internal/overlay"
	"github.com/unboxlab/unbox/internal/statefile"
)

// stepRoot is an image mounted for a step that writes files without a
// container (COPY, ADD, WORKDIR), or read by COPY --from: lesson 04's
// overlay, the image's snapshots below a fresh upper directory, whose
// contents after the step are the step's layer.
//
//	<root>/build/tmp/step-*/{upper,work,merged}   flock(2)ed while in use
type stepRoot struct {
	dir    string
	Merged string
	Upper  string
	unlock func()
}

// mountStep mounts img (its layers, top first; an empty directory for an
// image of none, as FROM scratch is) with a new upper directory.
func mountStep(ctx context.Context, store *image.Store, tmp string, img image.Image) (*stepRoot, error) {
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(tmp, "step-")
	if err != nil {
		return nil, err
	}
	unlock, err := statefile.Lock(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s := &stepRoot{dir: dir, Merged: filepath.Join(dir, "merged"), Upper: filepath.Join(dir, "upper"), unlock: unlock}
	fail := func(err error) (*stepRoot, error) {
		s.Close()
		return nil, err
	}
	lower, err := store.Snapshots(ctx, img)
	if err != nil {
		return fail(err)
	}
	if len(lower) == 0 {
		lower = []string{filepath.Join(dir, "empty")}
	}
	l := overlay.Layers{Lower: lower, Upper: s.Upper, Work: filepath.Join(dir, "work")}
	for _, d := range []string{l.Upper, l.Work, s.Merged, filepath.Join(dir, "empty")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return fail(err)
		}
	}
	opts, err := l.Options(os.Getpagesize())
	if err != nil {
		return fail(err)
	}
	if err := unix.Mount(overlay.FSType, s.Merged, overlay.FSType, 0, opts); err != nil {
		return fail(fmt.Errorf("mount -t overlay overlay -o %s %s: %w%s", opts, s.Merged, err, overlay.MountHint(err)))
	}
	return s, nil
}

// Close unmounts the step's root and removes its directories.
func (s *stepRoot) Close() error {
	err := unmount(s.Merged)
	if rerr := os.RemoveAll(s.dir); err == nil {
		err = rerr
	}
	s.unlock()
	return err
}

// unmount takes the overlay off target if it is there: lazily
// (MNT_DETACH) if something still holds it.
func unmount(target string) error {
	err := unix.Unmount(target, 0)
	if errors.Is(err, unix.EBUSY) {
		err = unix.Unmount(target, unix.MNT_DETACH)
	}
	if err == nil || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
		return nil
	}
	return fmt.Errorf("umount %s: %w", target, err)
}

// sweepSteps removes what a build killed half-way left in tmp: step
// roots no build holds (their lock is free), unmounted first.
func sweepSteps(tmp string) {
	ents, _ := os.ReadDir(tmp)
	for _, e := range ents {
		dir := filepath.Join(tmp, e.Name())
		unlock, err := statefile.TryLock(dir)
		if err != nil {
			continue
		}
		_ = unmount(filepath.Join(dir, "merged"))
		_ = os.RemoveAll(dir)
		unlock()
	}
}
