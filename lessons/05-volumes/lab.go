//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/unboxlab/unbox/internal/cgroups"
	"github.com/unboxlab/unbox/internal/mount"
	"github.com/unboxlab/unbox/internal/overlay"
	"github.com/unboxlab/unbox/internal/procfs"
	"github.com/unboxlab/unbox/internal/rootfs"
	"github.com/unboxlab/unbox/internal/volume"
)

// lab is everything the lesson makes, under one directory named for this
// run (kit.UniqueName), which the lesson prints first and removes last:
//
//	<root>/layers/1-base, 2-app        the image: lesson 04's read-only layers
//	<root>/containers/<name>/upper     a container's writable layer, its work dir,
//	<root>/containers/<name>/merged    and the union, mounted on the host
//	<root>/volumes/                    the volume store (volume.Store): <name>/_data
//	<root>/host/                       host directories that containers bind
//
// The store here is the lesson's own; Docker's is /var/lib/docker/volumes,
// the capstone's /var/lib/unbox/volumes.
type lab struct {
	Root  string
	store *volume.Store
	// Layers are the image's, bottom first.
	Layers     []string
	Containers []*container
	// hostMounts are the mounts the lesson made on the host (a submount
	// in a bind source, a shared directory), undone last made first.
	hostMounts []*mount.Mounted
	// cgroups are step 6's, under cgParent, which is this run's own.
	cgroups   []cgroups.Manager
	cgParent  cgroups.Manager
	events    []string // the store's trace since the last print
	pageSize  int
	keptShown bool // sayKept has told the learner where the kept volume is
}

// open creates the lab's root directory, which must not exist yet, and
// its volume store. A lab that has a Root has something to tear down,
// even when open fails.
func (l *lab) open(root string) error {
	if err := os.Mkdir(root, 0o755); err != nil {
		return fmt.Errorf("create the lesson's directory: %w", err)
	}
	l.Root, l.pageSize = root, os.Getpagesize()
	// The real path, as mount traces and the mount table name it.
	real, err := filepath.EvalSymlinks(root)
	if err != nil {
		return err
	}
	l.Root = real
	s, err := volume.Open(l.path("volumes"))
	if err != nil {
		return err
	}
	s.Trace = func(e volume.Event) { l.events = append(l.events, e.Command) }
	l.store = s
	return os.MkdirAll(l.path("host"), 0o755)
}

func (l *lab) path(elem ...string) string {
	return filepath.Join(append([]string{l.Root}, elem...)...)
}

// rel shows the paths in text relative to the lab's root, as a person who
// typed `cd <root>` first would write them.
func (l *lab) rel(text string) string {
	return strings.ReplaceAll(text, l.Root+"/", "")
}

// The image: the root filesystem fixture, and one layer of an application
// with data of its own (step 5 mounts volumes over it) and a large file
// (step 8 rewrites it).
const (
	appDir  = "/var/lib/app"
	bigFile = "/srv/big.bin"
	bigSize = 16 << 20
	appUID  = 1000
)

var dockerfile = `FROM scratch
COPY rootfs/ /
RUN mkdir -p /var/lib/app/data && echo '{"db": "data/app.db"}' > /var/lib/app/config.json \
 && echo seed > /var/lib/app/data/app.db && ln -s data /var/lib/app/current \
 && chown -R 1000:1000 /var/lib/app && chmod 750 /var/lib/app /var/lib/app/data \
 && head -c 16M /dev/urandom > /srv/big.bin`

// buildImage makes the two layers.
func (l *lab) buildImage(ctx context.Context) error {
	base, app := l.path("layers", "1-base"), l.path("layers", "2-app")
	if _, err := rootfs.Build(ctx, base, rootfs.Options{}); err != nil {
		return err
	}
	data := filepath.Join(app, appDir, "data")
	if err := os.MkdirAll(data, 0o750); err != nil {
		return err
	}
	for name, text := range map[string]string{"config.json": `{"db": "data/app.db"}` + "\n", "data/app.db": "seed\n"} {
		if err := os.WriteFile(filepath.Join(app, appDir, name), []byte(text), 0o640); err != nil {
			return err
		}
	}
	if err := os.Symlink("data", filepath.Join(app, appDir, "current")); err != nil {
		return err
	}
	for _, p := range []string{"", "config.json", "data", "data/app.db", "current"} {
		if err := os.Lchown(filepath.Join(app, appDir, p), appUID, appUID); err != nil {
			return err
		}
	}
	for _, p := range []string{"", "data"} {
		if err := os.Chmod(filepath.Join(app, appDir, p), 0o750); err != nil {
			return err
		}
	}
	if err := writeBig(filepath.Join(app, bigFile)); err != nil {
		return err
	}
	l.Layers = []string{base, app}
	return nil
}

// writeBig writes bigSize bytes that are not zero (a file of zeros could
// be stored sparse, and copy it would be no work).
func writeBig(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	chunk := make([]byte, 1<<20)
	for i := range chunk {
		chunk[i] = byte(i*7 + 1)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	for range bigSize / len(chunk) {
		if _, err := f.Write(chunk); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}

// union is a container's overlay of the image, as lesson 04 mounts it.
func (l *lab) union(c *container) (mount.Mount, error) {
	lower := slices.Clone(l.Layers)
	slices.Reverse(lower) // lowerdir lists the top first
	layers := overlay.Layers{Lower: lower, Upper: c.Upper, Work: c.Work}
	opts, err := layers.Options(l.pageSize)
	if err != nil {
		return mount.Mount{}, err
	}
	return mount.Mount{Source: overlay.FSType, Target: c.Merged, Type: overlay.FSType, Data: opts}, nil
}

// mountOnHost mounts ms on the host (under root "/"), to be undone by the
// lab's teardown, and returns what the mount package did.
func (l *lab) mountOnHost(ms ...mount.Mount) ([]mount.Step, error) {
	var trace []mount.Step
	done, err := mount.MountAll("/", ms, func(s mount.Step) { trace = append(trace, s) })
	if err != nil {
		return trace, err
	}
	l.hostMounts = append(l.hostMounts, done)
	return trace, nil
}

// takeEvents returns what the store did since the last call.
func (l *lab) takeEvents() []string {
	ev := l.events
	l.events = nil
	return ev
}

// teardown stops every container and removes it, undoes the host mounts,
// removes the cgroup, and removes the whole tree but the volume kept, if
// one is. Safe to call twice: step 9 calls it, and the session's clean up
// again, after a failure or Ctrl-C.
func (l *lab) teardown(keep string) ([]string, error) {
	var done []string
	var errs []error
	for i := len(l.Containers) - 1; i >= 0; i-- {
		c := l.Containers[i]
		_, err := l.remove(c, true)
		done = append(done, "docker rm -fv "+c.Name)
		errs = append(errs, err)
	}
	for i := len(l.hostMounts) - 1; i >= 0; i-- {
		for _, p := range slices.Backward(l.hostMounts[i].Points()) {
			done = append(done, "umount "+p)
		}
		errs = append(errs, l.hostMounts[i].Unmount())
	}
	l.hostMounts = nil
	if l.cgParent != nil {
		// Destroy removes the cgroups below the parent too, deepest first:
		// step 6's one, $CG.
		errs = append(errs, l.cgParent.Destroy())
		done = append(done, "rmdir $CG $(dirname $CG)")
		l.cgParent, l.cgroups = nil, nil
	}
	if err := errors.Join(errs...); err != nil {
		// Removing files under a mount still there would delete what is
		// mounted, not our directories: leave it all, and say so.
		return done, fmt.Errorf("%w; left %s in place", err, l.Root)
	}
	if left := mountsUnder(l.Root); len(left) > 0 {
		return done, fmt.Errorf("still mounted: %s; left %s in place", strings.Join(left, ", "), l.Root)
	}
	if _, err := os.Lstat(l.Root); err != nil {
		return done, nil
	}
	if keep == "" {
		done = append(done, "rm -rf "+l.Root)
		return done, os.RemoveAll(l.Root)
	}
	return done, l.removeAllBut(keep, &done)
}

// sayKept tells where the kept volume is, and how to remove it.
func (l *lab) sayKept(w io.Writer, name string) {
	l.keptShown = true
	fmt.Fprintf(w, "\n  Kept, as asked (--%s): the volume %s, at %s\n"+
		"  Everything else is removed. When you are done with it: sudo rm -rf %s\n",
		keepFlag, name, filepath.Join(l.store.Path(name), "_data"), l.Root)
}

// removeAllBut removes the lab but the volume keep (and the store's lock
// beside it).
func (l *lab) removeAllBut(keep string, done *[]string) error {
	if l.store == nil {
		return os.RemoveAll(l.Root)
	}
	var errs []error
	if vs, err := l.store.List(); err == nil {
		for _, v := range vs {
			if v.Name != keep {
				errs = append(errs, l.store.Remove(v.Name))
			}
		}
	} else {
		errs = append(errs, err)
	}
	entries, err := os.ReadDir(l.Root)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Name() != "volumes" {
			*done = append(*done, "rm -rf "+l.path(e.Name()))
			errs = append(errs, os.RemoveAll(l.path(e.Name())))
		}
	}
	return errors.Join(errs...)
}

// mountsUnder lists the mount points at dir or below it, on the host.
func mountsUnder(dir string) []string {
	ms, err := procfs.ReadMountinfo("self")
	if err != nil {
		return nil
	}
	var out []string
	for _, m := range procfs.Mounts(ms).Under(dir) {
		out = append(out, m.Point)
	}
	return out
}
