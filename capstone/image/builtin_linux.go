package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/layer"
	"github.com/unboxlab/unbox/internal/ocilayout"
	"github.com/unboxlab/unbox/internal/rootfs"
	fixture "github.com/unboxlab/unbox/internal/rootfs/layer"
)

// Builtin is the name of the image made on this machine, with no network,
// from the root filesystem fixture (internal/rootfs: a static busybox, or
// the host's own tools).
const Builtin = "unbox/busybox:latest"

// DefaultPath is the PATH of the built-in image, Docker's default.
const DefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Get resolves ref (Resolve), and makes the built-in image if ref names
// it and it is not there yet: its first use on a machine, or the first
// after `unbox rmi unbox/busybox`.
func (s *Store) Get(ctx context.Context, ref string) (Image, error) {
	img, err := s.Resolve(ref)
	if err == nil || !errors.Is(err, ErrNotFound) {
		return img, err
	}
	if r, perr := ParseRef(ref); perr != nil || r.String() != Builtin {
		return img, err
	}
	return s.MakeBuiltin(ctx)
}

// MakeBuiltin makes unbox/busybox: the fixture as one layer, written as
// a reproducible tar (the same programs give the same layer digest and the
// same image ID on every machine), created at the Unix epoch for the same
// reason, running sh. It is made once, under a lock, however many
// commands ask at the same time.
func (s *Store) MakeBuiltin(ctx context.Context) (Image, error) {
	unlock, err := s.flock(".builtin.lock", unix.LOCK_EX)
	if err != nil {
		return Image{}, err
	}
	defer unlock()
	if img, err := s.Resolve(Builtin); err == nil {
		return img, nil
	}
	release, err := s.Hold()
	if err != nil {
		return Image{}, err
	}
	defer release()
	var source rootfs.Source
	l, err := layer.Store(s.layout, func(w io.Writer) error {
		var err error
		source, err = fixture.Tar(ctx, w, rootfs.Options{CacheDir: filepath.Join(s.root, "cache", "rootfs")})
		return err
	})
	if err != nil {
		return Image{}, fmt.Errorf("make the built-in image %s: %w", Builtin, err)
	}
	epoch := time.Unix(0, 0).UTC()
	img := ocilayout.NewImage(ocispec.ImageConfig{Env: []string{DefaultPath}, Cmd: []string{"sh"}})
	img.Config.Created = &epoch
	img = img.WithLayer(l, ocispec.History{
		Created:   &epoch,
		CreatedBy: fmt.Sprintf("unbox: the root filesystem fixture (%s), made on this machine", source),
	})
	return s.Put(img, Builtin)
}
