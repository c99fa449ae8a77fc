package image

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"
)

// InUse says which containers use the image with ID id (their names), so
// that it is not removed under them. The engine answers from its records,
// while the store holds its collection lock.
type InUse func(id digest.Digest) []string

// Removal is one line of what rmi and prune report: a name untagged, or
// an image deleted.
type Removal struct {
	Untagged string
	Deleted  digest.Digest
}

func (r Removal) String() string {
	if r.Untagged != "" {
		return "Untagged: " + r.Untagged
	}
	return "Deleted: " + string(r.Deleted)
}

// ConflictError refuses to remove an image, in Docker's words.
type ConflictError struct{ Msg string }

func (e *ConflictError) Error() string { return "conflict: " + e.Msg }

// Remove is `unbox rmi`: given a name of an image that has others, it
// removes that name; otherwise the image goes with all its names, and its
// blobs and snapshots that no other image holds. An image with several
// names, given by ID, needs force; an image a container uses is never
// deleted (force removes its names only, and it stays, as <none>, until
// the container goes).
func (s *Store) Remove(ref string, force bool, inUse InUse) ([]Removal, error) {
	img, err := s.Resolve(ref)
	if err != nil {
		return nil, err
	}
	byName := ""
	if r, err := ParseRef(ref); err == nil && slices.Contains(img.Names, r.String()) {
		byName = r.String()
	}
	users := inUse(img.ID)
	switch {
	case byName != "" && len(img.Names) > 1:
		return s.untag(img, []string{byName})
	case byName == "" && len(img.Names) > 1 && !force:
		return nil, &ConflictError{fmt.Sprintf("unable to delete %s (must be forced) - image is referenced in multiple repositories", img.ShortID())}
	case len(users) > 0 && !force:
		what := "image " + img.ShortID()
		if byName != "" {
			what = "repository reference " + byName
		}
		return nil, &ConflictError{fmt.Sprintf("unable to remove %s (must be forced) - container %s is using its referenced image %s", what, users[0], img.ShortID())}
	case len(users) > 0:
		return s.untag(img, img.Names)
	}
	unlock, err := s.flock(".gc.lock", unix.LOCK_EX)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if len(inUse(img.ID)) > 0 { // a container made meanwhile
		return s.untag(img, img.Names)
	}
	var out []Removal
	for _, n := range img.Names {
		out = append(out, Removal{Untagged: n})
	}
	err = s.layout.UpdateIndex(func(idx *ocispec.Index) error {
		idx.Manifests = slices.DeleteFunc(idx.Manifests, func(m ocispec.Descriptor) bool { return m.Digest == img.Descriptor.Digest })
		return nil
	})
	if err != nil {
		return nil, err
	}
	out = append(out, Removal{Deleted: img.ID})
	_, err = s.collect()
	return out, err
}

// untag removes names from the index; the image stays listed without a
// name if it had no other.
func (s *Store) untag(img Image, names []string) ([]Removal, error) {
	var out []Removal
	err := s.layout.UpdateIndex(func(idx *ocispec.Index) error {
		var kept []ocispec.Descriptor
		for _, m := range idx.Manifests {
			if n := m.Annotations[ocispec.AnnotationRefName]; n != "" && slices.Contains(names, n) {
				out = append(out, Removal{Untagged: n})
				continue
			}
			kept = append(kept, m)
		}
		if !slices.ContainsFunc(kept, func(m ocispec.Descriptor) bool { return m.Digest == img.Descriptor.Digest }) {
			kept = append(kept, ocispec.Descriptor{MediaType: img.Descriptor.MediaType, Digest: img.Descriptor.Digest, Size: img.Descriptor.Size})
		}
		idx.Manifests = kept
		return nil
	})
	return out, err
}

// Prune is `unbox image prune`: it deletes the images without a name
// (with all, every image) that no container uses, then what only they
// held. It returns what it deleted and the bytes freed.
func (s *Store) Prune(all bool, inUse InUse) ([]Removal, int64, error) {
	unlock, err := s.flock(".gc.lock", unix.LOCK_EX)
	if err != nil {
		return nil, 0, err
	}
	defer unlock()
	imgs, err := s.List()
	if err != nil {
		return nil, 0, err
	}
	var out []Removal
	gone := map[digest.Digest]bool{}
	for _, img := range imgs {
		if (len(img.Names) > 0 && !all) || len(inUse(img.ID)) > 0 {
			continue
		}
		for _, n := range img.Names {
			out = append(out, Removal{Untagged: n})
		}
		out = append(out, Removal{Deleted: img.ID})
		gone[img.Descriptor.Digest] = true
	}
	if len(gone) > 0 {
		err = s.layout.UpdateIndex(func(idx *ocispec.Index) error {
			idx.Manifests = slices.DeleteFunc(idx.Manifests, func(m ocispec.Descriptor) bool { return gone[m.Digest] })
			return nil
		})
		if err != nil {
			return nil, 0, err
		}
	}
	freed, err := s.collect()
	return out, freed, err
}

// collect removes the blobs no listed manifest refers to and the
// snapshots of layers no listed image holds, and returns the bytes freed.
// The caller holds the collection lock exclusively, so no writer is
// between its first blob and its name (Hold).
func (s *Store) collect() (int64, error) {
	idx, err := s.layout.Index()
	if err != nil {
		return 0, err
	}
	blobs := map[digest.Digest]bool{}
	diffs := map[string]bool{}
	for _, m := range idx.Manifests {
		blobs[m.Digest] = true
		oi, err := s.layout.ImageOf(m, string(m.Digest))
		if err != nil {
			return 0, fmt.Errorf("collect unused blobs: %w (nothing was removed)", err)
		}
		blobs[oi.Manifest.Config.Digest] = true
		for _, l := range oi.Layers() {
			blobs[l.Descriptor.Digest] = true
			diffs[l.DiffID.Encoded()] = true
		}
	}
	var freed int64
	blobDir := filepath.Join(s.layout.Dir(), ocispec.ImageBlobsDir, string(digest.SHA256))
	ents, err := os.ReadDir(blobDir)
	if err != nil {
		return 0, err
	}
	for _, e := range ents {
		if blobs[digest.NewDigestFromEncoded(digest.SHA256, e.Name())] {
			continue
		}
		p := filepath.Join(blobDir, e.Name())
		if fi, err := e.Info(); err == nil {
			freed += fi.Size()
		}
		if err := os.Remove(p); err != nil {
			return freed, err
		}
	}
	ents, err = os.ReadDir(s.snaps)
	if err != nil {
		return freed, err
	}
	for _, e := range ents {
		if diffs[e.Name()] || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		p := filepath.Join(s.snaps, e.Name())
		freed += du(p)
		// Renamed away first, so that the snapshot is gone at once, and
		// a removal cut short leaves a dot-name the next unpack clears.
		trash := filepath.Join(s.snaps, ".trash-"+e.Name())
		if err := os.Rename(p, trash); err != nil {
			return freed, err
		}
		if err := os.RemoveAll(trash); err != nil {
			return freed, err
		}
	}
	return freed, nil
}

// du is the bytes of the regular files under dir (hard links counted
// once), as `du -sb` would count them.
func du(dir string) int64 {
	var n int64
	seen := map[uint64]bool{}
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		var st unix.Stat_t
		if unix.Lstat(p, &st) == nil && !seen[st.Ino] {
			seen[st.Ino] = true
			n += st.Size
		}
		return nil
	})
	return n
}
