package mount

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/procfs"
)

// Mounted is what [MountAll] mounted, in order, so that [Mounted.Unmount]
// can take it off in reverse.
type Mounted struct {
	root  string
	done  []mounted
	trace Tracer
}

type mounted struct {
	path string // where it went, resolved inside the root
	id   int    // its mount ID, or 0 where there was no /proc to read it
}

func (m *Mounted) add(path string) {
	m.done = append(m.done, mounted{path: path, id: mountID(path)})
}

// Points lists where the mounts went, in the order they were made.
func (m *Mounted) Points() []string {
	var out []string
	for _, d := range m.done {
		out = append(out, d.path)
	}
	return out
}

// LazyUnmountError says that some mounts were still busy and were only
// detached (umount -l, MNT_DETACH): they are gone from the mount table, but
// their filesystems live on until the last process using them lets go. It
// is returned, not hidden, because a busy mount means something still holds
// it: a process, an open file, a working directory.
type LazyUnmountError struct {
	Paths []string
}

func (e *LazyUnmountError) Error() string {
	return fmt.Sprintf("still busy, detached lazily (umount -l): %s", strings.Join(e.Paths, ", "))
}

// Unwrap makes errors.Is(err, unix.EBUSY) true.
func (e *LazyUnmountError) Unwrap() error { return unix.EBUSY }

// Unmount undoes the mounts in reverse order, each with the mounts that were
// made on or under it since (a recursive bind brings its submounts along),
// deepest first: a mount with another on top of it cannot come off. A busy
// mount is detached lazily and named in a *LazyUnmountError; other failures
// are returned as they are. Calling it again does nothing.
func (m *Mounted) Unmount() error {
	if m == nil || len(m.done) == 0 {
		return nil
	}
	r, err := openRoot(m.root)
	if err != nil {
		return err
	}
	defer r.Close()
	var errs []error
	lazy := &LazyUnmountError{}
	for i := len(m.done) - 1; i >= 0; i-- {
		// Read afresh each time: the unmounts before changed it.
		table, _ := procfs.ReadMountinfo("self")
		for _, path := range m.done[i].withSubmounts(table) {
			detached, err := r.unmount(path, m.trace)
			if err != nil {
				errs = append(errs, err)
			} else if detached {
				lazy.Paths = append(lazy.Paths, path)
			}
		}
	}
	m.done = nil
	if len(lazy.Paths) > 0 {
		errs = append(errs, lazy)
	}
	return errors.Join(errs...)
}

// withSubmounts lists the mount points to unmount for d, in order: every
// mount descended from d (a mount's parent is the mount it sits on), last
// made first, then d itself. Where its ID or the table is unknown, only d.
func (d mounted) withSubmounts(table []procfs.Mount) []string {
	if d.id == 0 || table == nil {
		return []string{d.path}
	}
	ours := map[int]bool{d.id: true}
	var under []string
	found := false
	// The table lists a mount after the mount it sits on.
	for _, mt := range table {
		if mt.ID == d.id {
			found = true
		}
		if mt.ID != d.id && ours[mt.Parent] {
			ours[mt.ID] = true
			under = append(under, mt.Point)
		}
	}
	if !found {
		return nil // gone already
	}
	out := make([]string, 0, len(under)+1)
	for i := len(under) - 1; i >= 0; i-- {
		out = append(out, under[i])
	}
	return append(out, d.path)
}

// unmount takes off the mount on top at path, a path inside the root that
// must hold no symlink (the kernel listed it so): its parent directory is
// opened inside the root, through ordinary directories only, and the mount
// is named through that descriptor. If it is busy, it is detached lazily
// and unmount reports it.
func (r *root) unmount(path string, trace Tracer) (detached bool, err error) {
	rel := r.rel(path)
	if rel == "" || rel == "." {
		return false, fmt.Errorf("umount %s: not inside %s", path, r.dir)
	}
	// The kernel listed the path, so a symlink in it now means someone
	// changed the tree since: walk refuses it.
	parent, err := r.walk(filepath.Dir(rel), false, nil)
	if err != nil {
		return false, fmt.Errorf("umount %s: %w", path, err)
	}
	defer parent.Close()
	name := filepath.Base(rel)
	err = onFile(parent, name, func(p string) error { return unix.Unmount(p, unix.UMOUNT_NOFOLLOW) })
	switch {
	case err == nil:
		trace.add(OpUnmount, path, "umount %s", path)
		return false, nil
	case errors.Is(err, unix.EINVAL):
		return false, nil // not mounted any more: nothing to undo
	case errors.Is(err, unix.EBUSY):
		if err := onFile(parent, name, func(p string) error { return unix.Unmount(p, unix.UMOUNT_NOFOLLOW|unix.MNT_DETACH) }); err != nil {
			return false, fmt.Errorf("umount -l %s: %w", path, err)
		}
		trace.add(OpUnmount, path, "umount -l %s", path)
		return true, nil
	}
	return false, fmt.Errorf("umount %s: %w", path, err)
}
