package image

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"time"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/unboxlab/unbox/internal/layer"
	"github.com/unboxlab/unbox/internal/ocilayout"
)

// CommitOptions describe the image a commit makes.
type CommitOptions struct {
	// Ref names the image; "" leaves it without a name.
	Ref string
	// Config replaces the parent's config (what to run) when not nil:
	// `commit --change`, a builder's CMD or ENV.
	Config *ocispec.ImageConfig
	// CreatedBy, Comment and Author go into the layer's history entry
	// (`unbox history`), as Docker records them.
	CreatedBy, Comment, Author string
	// Exclude are paths left out of the layer with everything under them:
	// the init layer's files and the container's volume mount points
	// (layer.DiffOptions).
	Exclude []string
	// Created is the image's creation time; zero is now.
	Created time.Time
	// Healthcheck, when not nil, replaces the parent's HEALTHCHECK (a
	// container made with --health-*, as `docker commit` keeps it).
	Healthcheck *dockerspec.HealthcheckConfig
}

// Commit makes a new image of parent with the changes in upper, a
// container's overlay upper directory, as one more layer (layer.Commit),
// the way `docker commit` and each RUN of `docker build` do.
func (s *Store) Commit(parent Image, upper string, o CommitOptions) (Image, error) {
	release, err := s.Hold()
	if err != nil {
		return Image{}, err
	}
	defer release()
	l, err := layer.Store(s.layout, func(w io.Writer) error {
		return layer.WriteDiff(w, upper, layer.DiffOptions{Exclude: o.Exclude})
	})
	if err != nil {
		return Image{}, fmt.Errorf("commit: %w", err)
	}
	created := o.Created
	if created.IsZero() {
		created = time.Now().UTC()
	}
	img := parent.Image.WithLayer(l, ocispec.History{
		Created: &created, CreatedBy: o.CreatedBy, Comment: o.Comment, Author: o.Author,
	})
	img.Config.Created = &created
	img.Config.Author = o.Author
	if o.Config != nil {
		img.Config.Config = *o.Config
	}
	if o.Healthcheck != nil {
		img.Config.Ext.Healthcheck = o.Healthcheck
	}
	return s.Put(img, o.Ref)
}

// ImportOptions describe the image an import makes.
type ImportOptions struct {
	Ref     string
	Config  ocispec.ImageConfig
	Comment string
	// Source is what the history says it came from ("-" for stdin).
	Source string
}

// Import makes a one-layer image of a file system tarball (`docker
// import`): r is a tar stream, plain or gzip-compressed. The stream is
// read as a tar on its way into the store, so that what is not one is an
// error here rather than when a container is made of it; its entries are
// checked again, as hostile, when the layer is unpacked.
func (s *Store) Import(r io.Reader, o ImportOptions) (Image, error) {
	release, err := s.Hold()
	if err != nil {
		return Image{}, err
	}
	defer release()
	in, err := decompressed(r)
	if err != nil {
		return Image{}, fmt.Errorf("import: %w", err)
	}
	l, err := layer.Store(s.layout, func(w io.Writer) error { return copyTar(w, in) })
	if err != nil {
		return Image{}, fmt.Errorf("import: %w", err)
	}
	now := time.Now().UTC()
	img := ocilayout.NewImage(o.Config)
	img.Config.Created = &now
	img = img.WithLayer(l, ocispec.History{Created: &now, CreatedBy: "unbox image import " + o.Source, Comment: o.Comment})
	return s.Put(img, o.Ref)
}

// decompressed is r, gunzipped if it starts with gzip's magic number.
func decompressed(r io.Reader) (io.Reader, error) {
	br := bufio.NewReader(r)
	magic, err := br.Peek(2)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		return gzip.NewReader(br)
	}
	return br, nil
}

// copyTar copies a tar stream to w, reading it as a tar as it goes: an
// input that is not one fails.
func copyTar(w io.Writer, r io.Reader) error {
	tr := tar.NewReader(io.TeeReader(r, w))
	n := 0
	for {
		_, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("not a tar archive (entry %d): %w", n+1, err)
		}
		n++
	}
	if n == 0 {
		return errors.New("the tar archive is empty")
	}
	// The end-of-archive blocks and any padding after them.
	_, err := io.Copy(io.Discard, io.TeeReader(r, w))
	return err
}
