package ocilayout

import (
	"fmt"
	"runtime"
	"slices"

	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Docker's image manifest and config media types (Docker's "Image Manifest
// Version 2, Schema 2"), which most registries still serve: the same JSON as
// image-spec's, under other names. An image pulled in that form is kept
// byte for byte, so that its digest stays the one the registry gave.
const (
	DockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	DockerConfig   = "application/vnd.docker.container.image.v1+json"
)

// Image is one image: its manifest, and the config the manifest names.
type Image struct {
	// Descriptor is the manifest's, as index.json lists it; zero for an
	// image not written yet.
	Descriptor ocispec.Descriptor
	Manifest   ocispec.Manifest
	Config     Config
}

// NewImage is an image of no layers for this machine's platform, with cfg
// as what to run.
func NewImage(cfg ocispec.ImageConfig) Image {
	return Image{
		Manifest: ocispec.Manifest{
			Versioned: specs.Versioned{SchemaVersion: 2},
			MediaType: ocispec.MediaTypeImageManifest,
			Config:    ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig},
			Layers:    []ocispec.Descriptor{},
		},
		Config: Config{Image: ocispec.Image{
			Platform: ocispec.Platform{OS: "linux", Architecture: runtime.GOARCH},
			Config:   cfg,
			RootFS:   ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{}},
		}},
	}
}

// Layers are the image's layers, bottom first, each with its diff ID: the
// order to unpack and stack them in. (A layer the config has no diff ID
// for has none here; [Layout.Image] refuses such an image.)
func (img Image) Layers() []Layer {
	out := make([]Layer, len(img.Manifest.Layers))
	for i, d := range img.Manifest.Layers {
		out[i].Descriptor = d
		if i < len(img.Config.RootFS.DiffIDs) {
			out[i].DiffID = img.Config.RootFS.DiffIDs[i]
		}
	}
	return out
}

// Layer is one layer of an image: the blob (usually compressed) and the
// digest of its uncompressed tar.
type Layer struct {
	Descriptor ocispec.Descriptor
	DiffID     digest.Digest
}

// WithLayer is img with l on top, and a history entry for it: what
// `docker commit` makes. The result is a new image: its Descriptor is zero
// until it is written.
func (img Image) WithLayer(l Layer, h ocispec.History) Image {
	out := img
	out.Descriptor = ocispec.Descriptor{}
	out.Manifest.Layers = append(slices.Clone(img.Manifest.Layers), l.Descriptor)
	out.Config.RootFS.DiffIDs = append(slices.Clone(img.Config.RootFS.DiffIDs), l.DiffID)
	out.Config.History = append(slices.Clone(img.Config.History), h)
	return out
}

// Image reads the image name names: manifest, then config, each checked
// against its digest, and the two checked against each other.
func (l *Layout) Image(name string) (Image, error) {
	desc, err := l.Resolve(name)
	if err != nil {
		return Image{}, err
	}
	return l.ImageOf(desc, name)
}

// ImageOf reads the image whose manifest desc names, as [Layout.Image]
// does; name is what errors call it. An image store that keeps images
// without a name (Docker's <none>:<none>) reads them this way.
func (l *Layout) ImageOf(desc ocispec.Descriptor, name string) (Image, error) {
	img := Image{Descriptor: desc}
	if desc.MediaType != ocispec.MediaTypeImageManifest && desc.MediaType != DockerManifest {
		return img, fmt.Errorf("image %s: %s is a %s; want an image manifest (an index of several platforms is not supported)", name, desc.Digest, desc.MediaType)
	}
	if err := l.ReadJSON(desc, &img.Manifest); err != nil {
		return img, fmt.Errorf("image %s: manifest: %w", name, err)
	}
	if mt := img.Manifest.Config.MediaType; mt != ocispec.MediaTypeImageConfig && mt != DockerConfig {
		return img, fmt.Errorf("image %s: config media type %q; want %s", name, mt, ocispec.MediaTypeImageConfig)
	}
	if err := l.ReadJSON(img.Manifest.Config, &img.Config); err != nil {
		return img, fmt.Errorf("image %s: config: %w", name, err)
	}
	if n, m := len(img.Manifest.Layers), len(img.Config.RootFS.DiffIDs); n != m {
		return img, fmt.Errorf("image %s: the manifest lists %d layers, the config %d diff IDs", name, n, m)
	}
	return img, nil
}

// WriteImage writes img's config and manifest as blobs (its layers must be
// written already) and names the manifest name in index.json. It returns
// the image as written, with its manifest's descriptor.
func (l *Layout) WriteImage(img Image, name string) (Image, error) {
	for _, d := range img.Manifest.Layers {
		p, err := l.BlobPath(d.Digest)
		if err != nil {
			return img, err
		}
		if _, err := statSize(p, d.Size); err != nil {
			return img, fmt.Errorf("write image %s: layer %s: %w", name, d.Digest, err)
		}
	}
	cfg, err := l.WriteJSON(ocispec.MediaTypeImageConfig, img.Config)
	if err != nil {
		return img, fmt.Errorf("write image %s: %w", name, err)
	}
	img.Manifest.Config = cfg
	desc, err := l.WriteJSON(ocispec.MediaTypeImageManifest, img.Manifest)
	if err != nil {
		return img, fmt.Errorf("write image %s: %w", name, err)
	}
	if err := l.Tag(name, desc); err != nil {
		return img, err
	}
	img.Descriptor = desc
	img.Descriptor.Annotations = map[string]string{ocispec.AnnotationRefName: name}
	return img, nil
}
