package volume

import (
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/unboxlab/unbox/internal/mount"
)

// Attached is what [Store.Attach] prepared for one container.
type Attached struct {
	// Mounts are the specs' mounts, in the specs' order, with the host
	// directory of each: apply them under the container's root
	// (mount.MountAll, or mount.RootConfig's Mounts).
	Mounts []mount.Mount
	// Volumes are the store's volumes the specs use, in the same order
	// (binds have none).
	Volumes []Volume
	// Created names the volumes made for this container.
	Created []string
	// Copied are the volumes filled from the image, with what was copied.
	Copied map[string]CopyStats
}

// Attach prepares the -v specs of the container user, whose root
// filesystem is mounted at root, as `docker run` does before it starts the
// container:
//
//  1. every bind source must exist (Docker's -v would create a missing one
//     on the host, which turns a typo into an empty directory), and no two
//     specs may share a target;
//  2. a named volume is made on first use, an anonymous one is made new;
//     each records user ([Store.Use]);
//  3. a volume mounted for the first time is filled with what the image
//     holds at its target ([Store.CopyUp]), unless the spec says nocopy.
//
// Everything is checked before anything is made, and it all happens under
// the store's lock. If a step fails, what it made and recorded is undone:
// the error leaves the store as it was.
func (s *Store) Attach(user, root string, specs []Spec) (*Attached, error) {
	if err := CheckSpecs(specs); err != nil {
		return nil, err
	}
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	a := &Attached{Copied: map[string]CopyStats{}}
	var used []string
	undo := func(err error) (*Attached, error) {
		errs := []error{err}
		for _, name := range used {
			errs = append(errs, s.release(name, user))
		}
		for _, name := range a.Created {
			errs = append(errs, s.remove(name))
		}
		return nil, errors.Join(errs...)
	}
	for _, sp := range specs {
		if sp.Kind == Bind {
			a.Mounts = append(a.Mounts, sp.Mounts(sp.Source)...)
			continue
		}
		v, created, err := s.create(sp.Source, CreateOptions{Anonymous: sp.Kind == Anonymous})
		if err != nil {
			return undo(fmt.Errorf("%s: %w", sp, err))
		}
		if created {
			a.Created = append(a.Created, v.Name)
		}
		if err := s.use(v.Name, user); err != nil {
			return undo(fmt.Errorf("%s: %w", sp, err))
		}
		used = append(used, v.Name)
		if sp.NoCopy {
			err = s.noCopyUp(v.Name)
		} else {
			var stats CopyStats
			var copied bool
			if stats, copied, err = s.copyUp(v.Name, root, sp.Target); copied {
				a.Copied[v.Name] = stats
			}
		}
		if err != nil {
			return undo(fmt.Errorf("%s: %w", sp, err))
		}
		if v, err = s.read(v.Name); err != nil {
			return undo(fmt.Errorf("%s: %w", sp, err))
		}
		a.Volumes = append(a.Volumes, v)
		a.Mounts = append(a.Mounts, sp.Mounts(v.Mountpoint)...)
	}
	return a, nil
}

// CheckSpecs is step 1 of [Store.Attach], which a caller may run before
// it makes anything else for the container (its root filesystem): every
// bind source exists, and no two specs share a target.
func CheckSpecs(specs []Spec) error {
	targets := map[string]string{}
	for _, sp := range specs {
		if other, ok := targets[sp.Target]; ok {
			return fmt.Errorf("%s: %s is the target of %s too", sp, sp.Target, other)
		}
		targets[sp.Target] = sp.String()
		if sp.Kind == Bind {
			if _, err := os.Stat(sp.Source); err != nil {
				return fmt.Errorf("%s: bind source %s: %w (create it first: unbox does not make host directories)",
					sp, sp.Source, errors.Unwrap(err))
			}
		}
	}
	return nil
}

// Detach is what removing the container user does to its volumes (docker
// rm): each stops recording user; with removeAnonymous (docker rm -v, run
// --rm) its anonymous volumes that no other container uses are removed.
// Named volumes are never removed here. It returns the names removed.
func (s *Store) Detach(user string, removeAnonymous bool) ([]string, error) {
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	vs, err := s.list()
	errs := []error{err}
	var removed []string
	for _, v := range vs {
		if !slices.Contains(v.Users, user) {
			continue
		}
		if err := s.release(v.Name, user); err != nil {
			errs = append(errs, err)
			continue
		}
		if removeAnonymous && v.Anonymous && len(v.Users) == 1 {
			if err := s.remove(v.Name); err != nil {
				errs = append(errs, err)
				continue
			}
			removed = append(removed, v.Name)
		}
	}
	return removed, errors.Join(errs...)
}
