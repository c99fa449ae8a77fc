//go:build linux

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/unboxlab/unbox/internal/cgroups"
	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/nsenter"
	"github.com/unboxlab/unbox/internal/ocilayout"
)

// lab is everything the lesson makes, under one directory named for this
// run (kit.UniqueName), plus one cgroup:
//
//	<root>/image/                     an OCI image layout: blobs, index.json
//	<root>/snapshots/<diff ID>/       each layer unpacked, once, read-only
//	<root>/containers/<name>/init     a container's init layer
//	<root>/containers/<name>/upper    its writable layer, overlayfs's work dir,
//	<root>/containers/<name>/work     and the union, its root filesystem
//	<root>/containers/<name>/merged
//	<root>/volumes/data               a volume, bound at /data
//	/sys/fs/cgroup/.../unbox-lesson07-<pid>/<name>    each container's cgroup
//
// teardown stops what runs, unmounts, removes the cgroups and the tree,
// in that order, and is safe to call twice.
type lab struct {
	Root   string
	Layout *ocilayout.Layout
	// Cgroups is the cgroup filesystem, and parent the lesson's own
	// cgroup, which holds the containers' (see internal/cgroups on
	// choosing a parent).
	Cgroups *cgroups.Host
	parent  cgroups.Manager

	Containers []*container
	// execs are the processes the lesson exec'd; each is waited for at the
	// end, before the container it is in goes.
	execs []*nsenter.Proc
}

// newLab creates the lab's root directory, which must not exist yet, and
// an empty image layout in it.
func newLab(root string) (*lab, error) {
	if err := os.Mkdir(root, 0o755); err != nil {
		return nil, fmt.Errorf("create the lesson's directory: %w", err)
	}
	l := &lab{Root: root}
	var err error
	if l.Layout, err = ocilayout.Create(l.path("image")); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *lab) path(elem ...string) string {
	return filepath.Join(append([]string{l.Root}, elem...)...)
}

// rel is p relative to the lab's root, for lines that would otherwise
// repeat it.
func (l *lab) rel(p string) string {
	if r, err := filepath.Rel(l.Root, p); err == nil {
		return r
	}
	return p
}

// host opens the cgroup filesystem and makes the lesson's parent cgroup,
// once.
func (l *lab) host() (*cgroups.Host, error) {
	if l.Cgroups != nil {
		return l.Cgroups, nil
	}
	h, err := cgroups.OpenHost(cgroups.DefaultRoot)
	if err != nil {
		return nil, err
	}
	parent, err := h.New(cgroups.Config{Parent: "/", Name: kit.UniqueName("lesson07"), Controllers: controllers})
	if err != nil {
		return nil, err
	}
	l.Cgroups, l.parent = h, parent
	return h, nil
}

// controllers are the containers' cgroup controllers: pids is enough to
// show where a process is, and is there in every cgroup layout.
var controllers = []string{"pids"}

// teardown stops every container, the last started first (their exec'd
// processes with them), unmounts their unions, removes the cgroups, then
// the tree. If an unmount fails it removes no files: removing them through
// a live union would delete them in the union.
func (l *lab) teardown() error {
	var errs []error
	for i := len(l.Containers) - 1; i >= 0; i-- {
		if err := l.Containers[i].stop(l); err != nil {
			errs = append(errs, err)
		}
	}
	for i := len(l.Containers) - 1; i >= 0; i-- {
		if err := l.Containers[i].unmountRoot(); err != nil {
			errs = append(errs, err)
		}
	}
	if l.parent != nil {
		if err := l.parent.Destroy(); err != nil {
			errs = append(errs, err)
		}
		l.parent = nil
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w; left %s in place", errors.Join(errs...), l.Root)
	}
	if err := os.RemoveAll(l.Root); err != nil {
		return fmt.Errorf("rm -rf %s: %w", l.Root, err)
	}
	return nil
}
