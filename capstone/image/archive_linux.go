package image

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/unboxlab/unbox/internal/ocilayout"
)

// The formats of Save, named as podman's `save --format` names them.
const (
	// FormatDocker is what `docker save` writes since Docker 25: an OCI
	// image layout (oci-layout, index.json, blobs/sha256/…) with Docker's
	// manifest.json beside it, so that both kinds of reader load it:
	// `docker load`, `podman load`, skopeo's docker-archive: and
	// oci-archive:, containerd's import.
	FormatDocker = "docker-archive"
	// FormatOCI is the OCI image layout alone (podman's oci-archive).
	FormatOCI = "oci-archive"
)

// containerdNameAnnotation is where Docker 25 and containerd put an image's
// full name in an index.json; org.opencontainers.image.ref.name may hold
// a tag alone there, as umoci and skopeo write it.
const containerdNameAnnotation = "io.containerd.image.name"

// dockerManifestEntry is one image of Docker's manifest.json.
type dockerManifestEntry struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// Save writes the images refs name as one tar archive to w (`docker save`):
// format FormatDocker or FormatOCI. An image given by name is saved under
// that name; one given by ID under all its names.
func (s *Store) Save(ctx context.Context, w io.Writer, refs []string, format string) error {
	if format == "" {
		format = FormatDocker
	}
	if format != FormatDocker && format != FormatOCI {
		return fmt.Errorf("save: unknown format %q (want %s or %s)", format, FormatDocker, FormatOCI)
	}
	type saved struct {
		img   Image
		names []string
	}
	var imgs []*saved
	for _, ref := range refs {
		img, err := s.Get(ctx, ref)
		if err != nil {
			return fmt.Errorf("save: %w", err)
		}
		names := img.Names
		if r, err := ParseRef(ref); err == nil && r.Digest == "" && slices.Contains(img.Names, r.String()) {
			names = []string{r.String()}
		}
		i := slices.IndexFunc(imgs, func(x *saved) bool { return x.img.Descriptor.Digest == img.Descriptor.Digest })
		if i < 0 {
			imgs = append(imgs, &saved{img: img})
			i = len(imgs) - 1
		}
		for _, n := range names {
			if !slices.Contains(imgs[i].names, n) {
				imgs[i].names = append(imgs[i].names, n)
			}
		}
	}
	tw := tar.NewWriter(w)
	written := map[digest.Digest]bool{}
	blob := func(d ocispec.Descriptor) error {
		if written[d.Digest] {
			return nil
		}
		written[d.Digest] = true
		r, err := s.layout.OpenBlob(d) // checked as it is read
		if err != nil {
			return err
		}
		defer r.Close()
		if err := tw.WriteHeader(archiveHeader(blobPath(d.Digest), d.Size)); err != nil {
			return err
		}
		_, err = io.Copy(tw, r)
		return err
	}
	file := func(p string, b []byte) error {
		if err := tw.WriteHeader(archiveHeader(p, int64(len(b)))); err != nil {
			return err
		}
		_, err := tw.Write(b)
		return err
	}
	for _, d := range []string{"blobs/", "blobs/sha256/"} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755, ModTime: time.Unix(0, 0)}); err != nil {
			return fmt.Errorf("save: %w", err)
		}
	}
	index := ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{}}
	var manifest []dockerManifestEntry
	for _, sv := range imgs {
		img := sv.img
		for _, d := range append([]ocispec.Descriptor{img.Descriptor, img.Manifest.Config}, img.Manifest.Layers...) {
			if err := blob(d); err != nil {
				return fmt.Errorf("save %s: %w", img.ShortID(), err)
			}
		}
		entry := dockerManifestEntry{Config: blobPath(img.Manifest.Config.Digest), RepoTags: []string{}}
		for _, l := range img.Manifest.Layers {
			entry.Layers = append(entry.Layers, blobPath(l.Digest))
		}
		desc := ocispec.Descriptor{MediaType: img.Descriptor.MediaType, Digest: img.Descriptor.Digest, Size: img.Descriptor.Size}
		if len(sv.names) == 0 {
			index.Manifests = append(index.Manifests, desc)
		}
		for _, n := range sv.names {
			entry.RepoTags = append(entry.RepoTags, n)
			full := n
			if r, err := RemoteRef(n); err == nil {
				full = CanonicalName(r)
			}
			d := desc
			d.Annotations = map[string]string{ocispec.AnnotationRefName: full, containerdNameAnnotation: full}
			index.Manifests = append(index.Manifests, d)
		}
		manifest = append(manifest, entry)
	}
	layoutFile, _ := json.Marshal(ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion})
	indexFile, err := json.Marshal(index)
	if err != nil {
		return err
	}
	files := [][2]any{{ocispec.ImageLayoutFile, layoutFile}, {ocispec.ImageIndexFile, indexFile}}
	if format == FormatDocker {
		b, err := json.Marshal(manifest)
		if err != nil {
			return err
		}
		files = append(files, [2]any{"manifest.json", b})
	}
	for _, f := range files {
		if err := file(f[0].(string), f[1].([]byte)); err != nil {
			return fmt.Errorf("save: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("save: %w", err)
	}
	return nil
}

func blobPath(d digest.Digest) string {
	return path.Join(ocispec.ImageBlobsDir, string(d.Algorithm()), d.Encoded())
}

// archiveHeader is a file's header in a saved archive: the same bytes for
// the same images, whenever they are saved.
func archiveHeader(name string, size int64) *tar.Header {
	return &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: 0o444, ModTime: time.Unix(0, 0), Format: tar.FormatPAX}
}

// Limits of Load on what it keeps in memory (index.json, manifest.json,
// a docker-archive's small files) and on the number of entries: an
// archive is input from anywhere.
const (
	loadMaxMemory  = 64 << 20
	loadMaxEntries = 100_000
)

// Loaded is one image Load added, with the names it was given.
type Loaded struct {
	Image Image
	Names []string
}

// Load reads an archive of images (`docker load`): an OCI image layout
// (`podman save --format oci-archive`, skopeo's and umoci's layouts,
// tarred; a nested index resolves to this machine's platform), or Docker's
// docker-archive (manifest.json: `docker save` of any version, `skopeo
// copy … docker-archive:`); plain or gzip-compressed. The archive is
// hostile input: nothing in it names a path on this machine. Each file
// under blobs/sha256/ is stored as a blob only if its content's digest is
// its name; other files are read by name from memory; layers are unpacked
// by the layer extraction, as a pull's are, before an image gets its name.
func (s *Store) Load(ctx context.Context, r io.Reader) ([]Loaded, error) {
	release, err := s.Hold()
	if err != nil {
		return nil, err
	}
	defer release()
	in, err := decompressed(r)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	a, err := s.readArchive(tar.NewReader(in))
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	var todo []Loaded
	switch {
	case a.small[ocispec.ImageIndexFile] != nil:
		todo, err = s.loadOCI(a)
	case a.small["manifest.json"] != nil:
		todo, err = s.loadDocker(a)
	default:
		err = errors.New("not an image archive: it has neither index.json (an OCI layout) nor manifest.json (docker-archive)")
	}
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	var out []Loaded
	for _, l := range todo {
		if err := s.unpack(ctx, l.Image, nil); err != nil {
			return out, fmt.Errorf("load: %w", err)
		}
		names := l.Names
		if len(names) == 0 {
			names = []string{""}
		}
		for _, n := range names {
			img, err := s.Register(n, l.Image.Descriptor)
			if err != nil {
				return out, fmt.Errorf("load: %w", err)
			}
			l.Image = img
		}
		out = append(out, l)
	}
	return out, nil
}

// archive is what readArchive found: the blobs it stored, by path, and
// the small files it kept.
type archive struct {
	blobs map[string]ocispec.Descriptor
	small map[string][]byte
	links map[string]string // a link's path → the path it names
}

// readArchive reads every entry of tr once: files under blobs/sha256/
// into the layout, checked against their names; other files that are
// small into memory; large ones (a docker-archive's layer.tar) into the
// layout too, by their digest.
func (s *Store) readArchive(tr *tar.Reader) (*archive, error) {
	a := &archive{blobs: map[string]ocispec.Descriptor{}, small: map[string][]byte{}, links: map[string]string{}}
	var memory int64
	for n := 0; ; n++ {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return a, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read the archive: %w", err)
		}
		if n >= loadMaxEntries {
			return nil, fmt.Errorf("the archive has more than %d entries", loadMaxEntries)
		}
		p := archivePath(hdr.Name)
		switch hdr.Typeflag {
		case tar.TypeSymlink:
			a.links[p] = archivePath(path.Join(path.Dir(p), hdr.Linkname))
			continue
		case tar.TypeLink:
			a.links[p] = archivePath(hdr.Linkname)
			continue
		case tar.TypeReg, 0: // 0: old tar writers' regular file (TypeRegA)
		default:
			continue
		}
		dir, base := path.Split(p)
		if dir == "blobs/sha256/" || hdr.Size > ocilayout.MaxJSONSize {
			desc, err := s.layout.WriteBlob(tr, "")
			if err != nil {
				return nil, fmt.Errorf("%s: %w", p, err)
			}
			if dir == "blobs/sha256/" && desc.Digest.Encoded() != base {
				return nil, fmt.Errorf("%s: its content's digest is %s: the archive is corrupt", p, desc.Digest)
			}
			a.blobs[p] = desc
			continue
		}
		if memory += hdr.Size; memory > loadMaxMemory {
			return nil, fmt.Errorf("the archive's small files add up to more than %d bytes", loadMaxMemory)
		}
		b, err := io.ReadAll(io.LimitReader(tr, hdr.Size))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		a.small[p] = b
	}
}

// archivePath is an entry's name as a key: cleaned, relative, without
// "./"; it is never used as a path on this machine.
func archivePath(p string) string {
	return strings.TrimPrefix(path.Clean("/"+p), "/")
}

// resolve follows links to the file p names, a few at most.
func (a *archive) resolve(p string) string {
	p = archivePath(p)
	for range 8 {
		t, ok := a.links[p]
		if !ok {
			break
		}
		p = t
	}
	return p
}

// archiveBlob is the descriptor of the file p as a blob of the layout, stored now
// if it was a small file.
func (s *Store) archiveBlob(a *archive, p, mediaType string) (ocispec.Descriptor, error) {
	p = a.resolve(p)
	if d, ok := a.blobs[p]; ok {
		d.MediaType = mediaType
		return d, nil
	}
	b, ok := a.small[p]
	if !ok {
		return ocispec.Descriptor{}, fmt.Errorf("the archive has no file %s", p)
	}
	d, err := s.layout.WriteBlob(bytes.NewReader(b), mediaType)
	if err == nil {
		a.blobs[p] = d
	}
	return d, err
}

// loadOCI reads an OCI layout's index.json: the images it names.
func (s *Store) loadOCI(a *archive) ([]Loaded, error) {
	var idx ocispec.Index
	if err := json.Unmarshal(a.small[ocispec.ImageIndexFile], &idx); err != nil {
		return nil, fmt.Errorf("index.json: %w", err)
	}
	var dm []dockerManifestEntry
	if b := a.small["manifest.json"]; b != nil {
		_ = json.Unmarshal(b, &dm) // names only, for an index without them
	}
	var out []Loaded
	for _, d := range idx.Manifests {
		desc, err := s.platformManifest(d, 0)
		if err != nil {
			return nil, err
		}
		oi, err := s.layout.ImageOf(desc, string(desc.Digest))
		if err != nil {
			return nil, err
		}
		for _, l := range oi.Manifest.Layers {
			if err := s.hasBlob(l); err != nil {
				return nil, err
			}
		}
		var names []string
		if n := archiveName(d.Annotations); n != "" {
			names = append(names, n)
		} else {
			for _, e := range dm {
				if a.resolve(e.Config) == blobPath(oi.Manifest.Config.Digest) {
					names = append(names, e.RepoTags...)
				}
			}
		}
		i := slices.IndexFunc(out, func(l Loaded) bool { return l.Image.Descriptor.Digest == desc.Digest })
		if i < 0 {
			out = append(out, Loaded{Image: Image{Image: oi, ID: oi.Manifest.Config.Digest}})
			i = len(out) - 1
		}
		for _, n := range names {
			if !slices.Contains(out[i].Names, n) {
				out[i].Names = append(out[i].Names, n)
			}
		}
	}
	if len(out) == 0 {
		return nil, errors.New("index.json lists no image")
	}
	return out, nil
}

// archiveName is the name an index.json entry gives its image: the full
// name containerd and Docker write, or org.opencontainers.image.ref.name
// when it is a name and not a tag alone (skopeo and umoci write "latest"
// there; such an image loads without a name, as Docker loads it).
func archiveName(ann map[string]string) string {
	for _, n := range []string{ann[containerdNameAnnotation], ann[ocispec.AnnotationRefName]} {
		if n == "" || !strings.ContainsAny(n, "/:") {
			continue
		}
		if r, err := ParseRef(n); err == nil && r.Digest == "" {
			return r.String()
		}
	}
	return ""
}

// platformManifest is d, or for an image index the manifest in it for
// this machine's platform (or its only one).
func (s *Store) platformManifest(d ocispec.Descriptor, depth int) (ocispec.Descriptor, error) {
	if d.MediaType != ocispec.MediaTypeImageIndex && d.MediaType != "application/vnd.docker.distribution.manifest.list.v2+json" {
		return d, nil
	}
	if depth > 4 {
		return d, errors.New("image indexes nested too deep")
	}
	var idx ocispec.Index
	if err := s.layout.ReadJSON(d, &idx); err != nil {
		return d, err
	}
	want := DefaultPlatform()
	for _, m := range idx.Manifests {
		if m.Platform != nil && m.Platform.OS == want.OS && m.Platform.Architecture == want.Architecture || len(idx.Manifests) == 1 {
			return s.platformManifest(m, depth+1)
		}
	}
	return d, fmt.Errorf("image index %s has no image for %s", d.Digest, want)
}

// loadDocker reads Docker's manifest.json: per image, a config file, its
// names, and its layer tars (plain or compressed), bottom first. The
// store keeps each as an OCI image of those blobs.
func (s *Store) loadDocker(a *archive) ([]Loaded, error) {
	var dm []dockerManifestEntry
	if err := json.Unmarshal(a.small["manifest.json"], &dm); err != nil {
		return nil, fmt.Errorf("manifest.json: %w", err)
	}
	if len(dm) == 0 {
		return nil, errors.New("manifest.json lists no image")
	}
	var out []Loaded
	for _, e := range dm {
		cfgDesc, err := s.archiveBlob(a, e.Config, ocispec.MediaTypeImageConfig)
		if err != nil {
			return nil, err
		}
		var cfg ocilayout.Config
		if err := s.layout.ReadJSON(cfgDesc, &cfg); err != nil {
			return nil, err
		}
		if len(cfg.RootFS.DiffIDs) != len(e.Layers) {
			return nil, fmt.Errorf("manifest.json: %d layers; the config %s lists %d diff IDs", len(e.Layers), e.Config, len(cfg.RootFS.DiffIDs))
		}
		img := ocilayout.NewImage(ocispec.ImageConfig{})
		img.Config = cfg
		for _, lp := range e.Layers {
			d, err := s.archiveBlob(a, lp, ocispec.MediaTypeImageLayer)
			if err != nil {
				return nil, err
			}
			if gz, err := s.isGzip(d); err != nil {
				return nil, err
			} else if gz {
				d.MediaType = ocispec.MediaTypeImageLayerGzip
			}
			img.Manifest.Layers = append(img.Manifest.Layers, d)
		}
		img.Manifest.Config = cfgDesc
		desc, err := s.layout.WriteJSON(ocispec.MediaTypeImageManifest, img.Manifest)
		if err != nil {
			return nil, err
		}
		img.Descriptor = desc
		var names []string
		for _, t := range e.RepoTags {
			r, err := ParseRef(t)
			if err != nil {
				return nil, fmt.Errorf("manifest.json: %w", err)
			}
			names = append(names, r.String())
		}
		out = append(out, Loaded{Image: Image{Image: img, ID: cfgDesc.Digest}, Names: names})
	}
	return out, nil
}

// isGzip reports whether the blob d starts with gzip's magic number.
func (s *Store) isGzip(d ocispec.Descriptor) (bool, error) {
	p, err := s.layout.BlobPath(d.Digest)
	if err != nil {
		return false, err
	}
	magic := make([]byte, 2)
	f, err := os.Open(p)
	if err != nil {
		return false, err
	}
	defer f.Close()
	n, _ := io.ReadFull(f, magic)
	return n == 2 && magic[0] == 0x1f && magic[1] == 0x8b, nil
}
