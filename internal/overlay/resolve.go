package overlay

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// The lookup model. overlayfs looks a name up one path component at a time,
// in each layer of the stack, top first (fs/overlayfs/namei.c: ovl_lookup;
// overlayfs.rst, "Directories", "whiteouts and opaque directories"):
//
//   - the first layer that has the name decides what it is;
//   - a whiteout there means the name does not exist;
//   - a non-directory is taken from that layer alone, and hides the name in
//     every layer below it;
//   - a directory is merged with the directories of the same name below
//     it, down to the first opaque one, or to the first layer where the
//     name is a whiteout or a non-directory, which ends the merge;
//   - the roots of the layers are always merged: a layer's root cannot be
//     opaque (the kernel ignores the xattr there).
//
// Symbolic links are non-directories like any other: the model, like
// ovl_lookup, resolves a name, not a path with links in it. It leaves out
// what unbox never turns on: redirect_dir (a renamed directory that points
// at its old name) and metacopy (a file whose data is in a lower layer).
// Meeting either is an error ([ErrUnsupported]), never a wrong answer.

// Origin is where a name of the union comes from. Layers are numbered by
// their position in the stack, top first, as [Layers.Stack] lists them.
type Origin struct {
	// From are the layers the union takes the name from: one for a
	// non-directory, every merged one for a directory, top first. Empty
	// when the name does not exist.
	From []int
	// Dir reports whether the name is a directory.
	Dir bool
	// Hidden are lower layers that hold the name too, but do not show:
	// below a non-directory, an opaque directory or a whiteout.
	Hidden []int
	// WhiteoutIn is the layer whose whiteout deletes the name, or -1.
	WhiteoutIn int
	// OpaqueIn is the layer whose opaque directory ends the merge, or -1.
	OpaqueIn int
}

// Exists reports whether the union has the name.
func (o Origin) Exists() bool { return len(o.From) > 0 }

// ErrUnsupported is the error for an entry that the model, and a commit of
// an upper dir on its own, cannot describe: a directory with
// trusted.overlay.redirect or a file with trusted.overlay.metacopy. They
// appear only where an overlay was mounted with redirect_dir=on or
// metacopy=on, which unbox never does.
var ErrUnsupported = errors.New("a redirect or metacopy entry (redirect_dir=on or metacopy=on), which unbox does not use")

// entry is what one layer holds at a name, as far as lookup cares.
type entry struct {
	exists bool
	dir    bool
	marker Marker // Whiteout, or Opaque for a directory
}

// lookupFunc reports what layer i holds at name (slash-separated, relative
// to the layer's root). The disk implementation is in disk_linux.go; the
// pure tests pass a map.
type lookupFunc func(layer int, name string) (entry, error)

// resolve is [Resolve] over any lookupFunc, for a stack of n layers.
func resolve(n int, name string, look lookupFunc) (Origin, error) {
	comps, err := components(name)
	if err != nil {
		return Origin{}, err
	}
	o := Origin{From: make([]int, n), Dir: true, WhiteoutIn: -1, OpaqueIn: -1}
	for i := range o.From {
		o.From[i] = i
	}
	for k := range comps {
		if !o.Dir {
			// A component under a non-directory or a missing name: the
			// name does not exist. A whiteout of a parent is the reason.
			return Origin{WhiteoutIn: o.WhiteoutIn, OpaqueIn: -1}, nil
		}
		if o, err = lookupIn(o.From, strings.Join(comps[:k+1], "/"), look); err != nil {
			return Origin{}, err
		}
	}
	return o, nil
}

// lookupIn is one step of the lookup: name in the candidate layers (the
// merged directories of its parent, top first).
func lookupIn(candidates []int, name string, look lookupFunc) (Origin, error) {
	o := Origin{WhiteoutIn: -1, OpaqueIn: -1}
	stopped := false
	for _, i := range candidates {
		e, err := look(i, name)
		if err != nil {
			return Origin{}, err
		}
		switch {
		case !e.exists:
		case stopped:
			if e.marker != Whiteout {
				o.Hidden = append(o.Hidden, i)
			}
		case e.marker == Whiteout:
			if len(o.From) == 0 {
				o.WhiteoutIn = i
			}
			stopped = true
		case e.dir:
			o.From, o.Dir = append(o.From, i), true
			if e.marker == Opaque {
				o.OpaqueIn, stopped = i, true
			}
		case len(o.From) == 0:
			o.From, stopped = []int{i}, true
		default:
			// A non-directory below a directory ends the merge.
			o.Hidden = append(o.Hidden, i)
			stopped = true
		}
	}
	return o, nil
}

// listFunc lists the names in directory dir of layer i.
type listFunc func(layer int, dir string) ([]string, error)

// readDir is [ReadDir] over any lookupFunc and listFunc.
func readDir(n int, dir string, look lookupFunc, list listFunc) ([]string, error) {
	o, err := resolve(n, dir, look)
	switch {
	case err != nil:
		return nil, err
	case !o.Exists():
		return nil, fmt.Errorf("%s: no such file or directory in the union", dir)
	case !o.Dir:
		return nil, fmt.Errorf("%s: not a directory in the union", dir)
	}
	comps, _ := components(dir)
	if len(o.From) == 1 {
		// Not merged: the kernel lists the layer's own directory, as it is
		// (overlayfs.rst, "readdir").
		names, err := list(o.From[0], strings.Join(comps, "/"))
		slices.Sort(names)
		return names, err
	}
	var names []string
	seen := map[string]bool{}
	for _, i := range o.From {
		entries, err := list(i, strings.Join(comps, "/"))
		if err != nil {
			return nil, err
		}
		for _, name := range entries {
			if seen[name] {
				continue
			}
			seen[name] = true
			child, err := lookupIn(o.From, strings.Join(append(comps, name), "/"), look)
			if err != nil {
				return nil, err
			}
			if child.Exists() {
				names = append(names, name)
			}
		}
	}
	slices.Sort(names)
	return names, nil
}

// components splits a name relative to the union's root; "", "." and "/"
// are the root itself, with no components.
func components(name string) ([]string, error) {
	var comps []string
	for _, c := range strings.Split(name, "/") {
		switch c {
		case "", ".":
		case "..":
			return nil, fmt.Errorf("%q: a name in the union cannot hold \"..\"", name)
		default:
			comps = append(comps, c)
		}
	}
	return comps, nil
}
