package overlay

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// Change is one thing an upper dir changes in the union below it, as
// `docker diff` prints it: "A /srv/new", "C /etc", "D /etc/motd".
type Change struct {
	// Kind is 'A' (added: no layer below shows the name), 'C' (changed:
	// one does, and the upper dir has its own copy: a file written, or a
	// directory copied up because something in it changed) or 'D'
	// (deleted: a whiteout, or a name an opaque directory hides).
	Kind byte
	// Path is the name from the union's root, with a leading "/".
	Path string
}

func (c Change) String() string { return string(c.Kind) + " " + c.Path }

// Changes lists what upper, an overlay upper dir, changes in the union of
// lower (the layers below it, top first), sorted by path as docker diff
// sorts them. It reads the directories, with the lookup rules of
// [Resolve]: nothing needs to be mounted, and nothing is written.
//
// A whiteout over a name no layer below has deletes nothing, and is not
// listed; an opaque directory over a lower one lists the lower union's
// names it hides as deleted, and its own entries as added. Names in
// exclude ("/etc/hostname", a volume's mount point) are left out with
// everything under them, as a commit leaves them out.
func Changes(upper string, lower []string, exclude []string) ([]Change, error) {
	excluded := map[string]bool{}
	for _, e := range exclude {
		name, err := CleanName(e)
		if err != nil {
			return nil, fmt.Errorf("exclude %q: %w", e, err)
		}
		excluded[name] = true
	}
	w := changeWalk{upper: upper, lower: lower, excluded: excluded}
	if err := w.dir(".", true); err != nil {
		return nil, err
	}
	slices.SortFunc(w.out, func(a, b Change) int { return strings.Compare(a.Path, b.Path) })
	return w.out, nil
}

type changeWalk struct {
	upper    string
	lower    []string
	excluded map[string]bool
	out      []Change
}

func (w *changeWalk) add(kind byte, name string) {
	w.out = append(w.out, Change{Kind: kind, Path: "/" + name})
}

// dir lists the changes under dir, an upper directory; merged says
// whether the layers below show through it (false under an added or an
// opaque directory, where every name is the upper dir's alone).
func (w *changeWalk) dir(dir string, merged bool) error {
	entries, err := os.ReadDir(filepath.Join(w.upper, filepath.FromSlash(dir)))
	if err != nil {
		return err
	}
	for _, de := range entries {
		name := path.Join(dir, de.Name())
		if w.excluded[name] {
			continue
		}
		marker, err := ReadMarker(filepath.Join(w.upper, filepath.FromSlash(name)))
		if err != nil {
			return err
		}
		below := Origin{}
		if merged {
			if below, err = Resolve(w.lower, name); err != nil {
				return err
			}
		}
		switch {
		case marker == Whiteout:
			if below.Exists() {
				w.add('D', name)
			}
			continue
		case below.Exists():
			w.add('C', name)
		default:
			w.add('A', name)
		}
		if !de.IsDir() {
			continue
		}
		if marker == Opaque && below.Dir {
			if err := w.hidden(name); err != nil {
				return err
			}
		}
		if err := w.dir(name, below.Dir && marker != Opaque); err != nil {
			return err
		}
	}
	return nil
}

// hidden lists as deleted the names of the lower union's directory dir
// that the opaque directory over it hides and does not hold itself.
func (w *changeWalk) hidden(dir string) error {
	names, err := ReadDir(w.lower, dir)
	if err != nil {
		return err
	}
	for _, n := range names {
		name := path.Join(dir, n)
		if w.excluded[name] {
			continue
		}
		if _, err := os.Lstat(filepath.Join(w.upper, filepath.FromSlash(name))); os.IsNotExist(err) {
			w.add('D', name)
		}
	}
	return nil
}
