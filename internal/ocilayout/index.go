package ocilayout

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"
)

// Index reads index.json: the layout's named manifests.
func (l *Layout) Index() (ocispec.Index, error) {
	var idx ocispec.Index
	b, err := os.ReadFile(l.path(ocispec.ImageIndexFile))
	if err != nil {
		return idx, fmt.Errorf("read image index: %w", err)
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		return idx, fmt.Errorf("read image index %s: %w", l.path(ocispec.ImageIndexFile), err)
	}
	if idx.SchemaVersion != 2 {
		return idx, fmt.Errorf("read image index %s: schemaVersion %d; want 2", l.path(ocispec.ImageIndexFile), idx.SchemaVersion)
	}
	return idx, nil
}

func (l *Layout) writeIndex(idx ocispec.Index) error {
	b, err := json.Marshal(idx)
	if err != nil {
		return err
	}
	return writeFileAtomic(l.path(ocispec.ImageIndexFile), b)
}

// Tag names desc (a manifest) name in index.json, replacing what the name
// named before: the annotation org.opencontainers.image.ref.name that
// skopeo, umoci and podman read as the tag.
func (l *Layout) Tag(name string, desc ocispec.Descriptor) error {
	if name == "" || strings.ContainsAny(name, "\n\x00") {
		return fmt.Errorf("tag %q: want a name without newlines", name)
	}
	unlock, err := l.lock()
	if err != nil {
		return err
	}
	defer unlock()
	idx, err := l.Index()
	if err != nil {
		return err
	}
	kept := idx.Manifests[:0]
	for _, m := range idx.Manifests {
		if m.Annotations[ocispec.AnnotationRefName] != name {
			kept = append(kept, m)
		}
	}
	d := desc
	d.Annotations = map[string]string{ocispec.AnnotationRefName: name}
	for k, v := range desc.Annotations {
		if k != ocispec.AnnotationRefName {
			d.Annotations[k] = v
		}
	}
	idx.Manifests = append(kept, d)
	if err := l.writeIndex(idx); err != nil {
		return fmt.Errorf("tag %s: %w", name, err)
	}
	return nil
}

// UpdateIndex changes index.json under the layout's lock: fn gets the index
// as it is and changes it in place; the result replaces the file
// atomically, unless fn fails. An image store uses it for what Tag alone
// cannot do: remove a name, or keep a manifest listed without one.
func (l *Layout) UpdateIndex(fn func(idx *ocispec.Index) error) error {
	unlock, err := l.lock()
	if err != nil {
		return err
	}
	defer unlock()
	idx, err := l.Index()
	if err != nil {
		return err
	}
	if err := fn(&idx); err != nil {
		return err
	}
	if idx.Manifests == nil {
		idx.Manifests = []ocispec.Descriptor{}
	}
	return l.writeIndex(idx)
}

// Resolve returns the descriptor index.json names name.
func (l *Layout) Resolve(name string) (ocispec.Descriptor, error) {
	idx, err := l.Index()
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	var names []string
	for _, m := range idx.Manifests {
		n := m.Annotations[ocispec.AnnotationRefName]
		if n == name {
			return m, nil
		}
		names = append(names, n)
	}
	return ocispec.Descriptor{}, fmt.Errorf("image %q is not in %s (it has %s)", name, l.dir, strings.Join(names, ", "))
}

// lock takes an exclusive flock(2) of the layout directory, for a change
// of index.json.
func (l *Layout) lock() (func(), error) {
	f, err := os.Open(l.dir)
	if err != nil {
		return nil, fmt.Errorf("lock image layout: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock image layout %s: %w", l.dir, err)
	}
	return func() { f.Close() }, nil
}
