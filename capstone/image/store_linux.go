package image

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/ocilayout"
)

// ErrNotFound is the error, wrapped, for a reference no image answers to.
var ErrNotFound = errors.New("no such image")

// Store is the image store under one directory (see the package
// documentation for its layout).
type Store struct {
	root   string
	layout *ocilayout.Layout
	snaps  string // <root>/snapshots/sha256
}

// Open opens the store under root (/var/lib/unbox), making what is
// missing, and clears what an interrupted unpack or removal left.
func Open(root string) (*Store, error) {
	layout, err := ocilayout.Create(filepath.Join(root, "images"))
	if err != nil {
		return nil, err
	}
	s := &Store{root: root, layout: layout, snaps: filepath.Join(root, "snapshots", string(digest.SHA256))}
	if err := os.MkdirAll(s.snaps, 0o700); err != nil {
		return nil, fmt.Errorf("open image store: %w", err)
	}
	return s, nil
}

// Layout is the store's OCI image layout: a writer (a registry pull, a
// load) writes blobs to it, then names a manifest with Register.
func (s *Store) Layout() *ocilayout.Layout { return s.layout }

// Root is the directory the store was opened on.
func (s *Store) Root() string { return s.root }

// Image is one image of the store: its manifest and config, its ID (the
// config's digest, as Docker's image ID), and its names.
type Image struct {
	ocilayout.Image
	ID    digest.Digest
	Names []string
}

// ShortID is the ID as `unbox images` shows it: 12 hexadecimal digits.
func (img Image) ShortID() string { return ShortID(img.ID) }

// ShortID is d's first 12 hexadecimal digits.
func ShortID(d digest.Digest) string {
	e := d.Encoded()
	if len(e) > 12 {
		return e[:12]
	}
	return e
}

// Created is when the image was made, or the zero time.
func (img Image) Created() time.Time {
	if img.Config.Created == nil {
		return time.Time{}
	}
	return *img.Config.Created
}

// Size is the bytes of its layers as stored (compressed) and its config.
func (img Image) Size() int64 {
	n := img.Manifest.Config.Size
	for _, l := range img.Manifest.Layers {
		n += l.Size
	}
	return n
}

// List is every image, newest first, as `unbox images` lists them.
func (s *Store) List() ([]Image, error) {
	idx, err := s.layout.Index()
	if err != nil {
		return nil, err
	}
	byDigest := map[digest.Digest]*Image{}
	var order []digest.Digest
	for _, d := range idx.Manifests {
		img, ok := byDigest[d.Digest]
		if !ok {
			oi, err := s.layout.ImageOf(d, string(d.Digest))
			if err != nil {
				return nil, err
			}
			oi.Descriptor.Annotations = nil
			img = &Image{Image: oi, ID: oi.Manifest.Config.Digest}
			byDigest[d.Digest] = img
			order = append(order, d.Digest)
		}
		if n := d.Annotations[ocispec.AnnotationRefName]; n != "" && !slices.Contains(img.Names, n) {
			img.Names = append(img.Names, n)
		}
	}
	out := make([]Image, 0, len(order))
	for _, d := range order {
		sort.Strings(byDigest[d].Names)
		out = append(out, *byDigest[d])
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created().After(out[j].Created()) })
	return out, nil
}

// Resolve finds the image ref names, as Docker does: a name (with or
// without its tag: "unbox/busybox" is "unbox/busybox:latest"), a name with a
// manifest digest, "sha256:" and an ID or a prefix of one, or a prefix of
// an ID alone. A prefix that two images share is an error.
func (s *Store) Resolve(ref string) (Image, error) {
	imgs, err := s.List()
	if err != nil {
		return Image{}, err
	}
	if hex, ok := strings.CutPrefix(ref, string(digest.SHA256)+":"); ok {
		return byIDPrefix(imgs, ref, hex)
	}
	if r, err := ParseRef(ref); err == nil {
		for _, img := range imgs {
			if r.Digest != "" && img.Descriptor.Digest == r.Digest && (r.Tag == "" || slices.Contains(img.Names, r.Name+":"+r.Tag)) {
				return img, nil
			}
			if r.Digest == "" && slices.Contains(img.Names, r.String()) {
				return img, nil
			}
		}
	}
	if isHexID(ref) {
		return byIDPrefix(imgs, ref, ref)
	}
	if r, err := ParseRef(ref); err == nil {
		ref = r.String()
	}
	return Image{}, fmt.Errorf("%w: %s", ErrNotFound, ref)
}

func byIDPrefix(imgs []Image, ref, hex string) (Image, error) {
	var found []Image
	for _, img := range imgs {
		if hex != "" && strings.HasPrefix(img.ID.Encoded(), hex) {
			found = append(found, img)
		}
	}
	switch len(found) {
	case 0:
		return Image{}, fmt.Errorf("%w: %s", ErrNotFound, ref)
	case 1:
		return found[0], nil
	}
	return Image{}, fmt.Errorf("image ID prefix %s is ambiguous: %d images start with it; give more digits", ref, len(found))
}

// Put writes img's config and manifest (its layers must be in the layout
// already) and names it ref, or leaves it without a name when ref is "".
// It is the last step of every writer: Commit, Import, the built-in image,
// and a builder's steps that change only the config.
func (s *Store) Put(img ocilayout.Image, ref string) (Image, error) {
	if ref != "" {
		r, err := ParseRef(ref)
		if err != nil {
			return Image{}, err
		}
		ref = r.String()
	}
	for _, d := range img.Manifest.Layers {
		if err := s.hasBlob(d); err != nil {
			return Image{}, err
		}
	}
	cfg, err := s.layout.WriteJSON(ocispec.MediaTypeImageConfig, img.Config)
	if err != nil {
		return Image{}, err
	}
	img.Manifest.Config = cfg
	desc, err := s.layout.WriteJSON(ocispec.MediaTypeImageManifest, img.Manifest)
	if err != nil {
		return Image{}, err
	}
	return s.Register(ref, desc)
}

// Register names the manifest desc ref ("" for no name), once its config
// and layers are in the layout: how a registry pull or a load that wrote
// the blobs itself adds its image. A name that named another image moves;
// that image stays, without the name, unless it has others.
func (s *Store) Register(ref string, desc ocispec.Descriptor) (Image, error) {
	if ref != "" {
		r, err := ParseRef(ref)
		if err != nil {
			return Image{}, err
		}
		ref = r.String()
	}
	desc = ocispec.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size}
	oi, err := s.layout.ImageOf(desc, ref)
	if err != nil {
		return Image{}, err
	}
	for _, d := range oi.Manifest.Layers {
		if err := s.hasBlob(d); err != nil {
			return Image{}, err
		}
	}
	err = s.layout.UpdateIndex(func(idx *ocispec.Index) error {
		idx.Manifests = nameInIndex(idx.Manifests, ref, desc)
		return nil
	})
	if err != nil {
		return Image{}, fmt.Errorf("name image %s: %w", ref, err)
	}
	if ref == "" {
		return s.Resolve(string(oi.Manifest.Config.Digest))
	}
	return s.Resolve(ref)
}

// nameInIndex is index.json's manifests with ref naming desc: an entry
// that named another manifest with ref goes, and that manifest stays listed
// without a name if nothing else lists it (Docker's <none>:<none>); an
// entry of desc without a name goes once desc has one.
func nameInIndex(ms []ocispec.Descriptor, ref string, desc ocispec.Descriptor) []ocispec.Descriptor {
	var displaced []digest.Digest
	var out []ocispec.Descriptor
	present := false
	for _, m := range ms {
		n := m.Annotations[ocispec.AnnotationRefName]
		switch {
		case ref != "" && n == ref && m.Digest != desc.Digest:
			displaced = append(displaced, m.Digest)
			continue
		case m.Digest == desc.Digest && n == "" && ref != "":
			continue
		case m.Digest == desc.Digest && (n == ref || ref == ""):
			present = true
		}
		out = append(out, m)
	}
	if !present {
		d := desc
		if ref != "" {
			d.Annotations = map[string]string{ocispec.AnnotationRefName: ref}
		}
		out = append(out, d)
	}
	for _, dg := range displaced {
		if !slices.ContainsFunc(out, func(m ocispec.Descriptor) bool { return m.Digest == dg }) {
			out = append(out, ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: dg, Size: sizeOf(ms, dg)})
		}
	}
	return out
}

func sizeOf(ms []ocispec.Descriptor, d digest.Digest) int64 {
	for _, m := range ms {
		if m.Digest == d {
			return m.Size
		}
	}
	return 0
}

// Tag names the image src resolves to ref as well (`unbox tag`); the
// built-in image is made if src names it and it is not made yet.
func (s *Store) Tag(src, ref string) (Image, error) {
	img, err := s.Get(context.Background(), src)
	if err != nil {
		return Image{}, err
	}
	return s.Register(ref, img.Descriptor)
}

func (s *Store) hasBlob(d ocispec.Descriptor) error {
	p, err := s.layout.BlobPath(d.Digest)
	if err != nil {
		return err
	}
	fi, err := os.Stat(p)
	if err != nil {
		return fmt.Errorf("blob %s is not in the store: %w", d.Digest, err)
	}
	if fi.Size() != d.Size {
		return fmt.Errorf("blob %s: %d bytes in the store; its descriptor says %d", d.Digest, fi.Size(), d.Size)
	}
	return nil
}

// Hold keeps Prune and Remove from collecting blobs and snapshots until
// release is called: a shared flock(2), which their collection takes
// exclusively. A writer holds it from its first blob until its manifest
// has a name (or its container records the image).
func (s *Store) Hold() (release func(), err error) {
	return s.flock(".gc.lock", unix.LOCK_SH)
}

// flock takes a lock on a file of the snapshots directory.
func (s *Store) flock(name string, how int) (func(), error) {
	f, err := os.OpenFile(filepath.Join(filepath.Dir(s.snaps), name), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock the image store: %w", err)
	}
	for {
		err = unix.Flock(int(f.Fd()), how)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock the image store %s: %w", f.Name(), err)
	}
	return func() { f.Close() }, nil
}
