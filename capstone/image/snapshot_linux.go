package image

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	digest "github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/layer"
	"github.com/unboxlab/unbox/internal/ocilayout"
)

// SnapshotDir is where the layer with diff ID d is unpacked.
func (s *Store) SnapshotDir(d digest.Digest) string {
	return filepath.Join(s.snaps, d.Encoded())
}

// Snapshots unpacks the layers of img that are not unpacked yet and
// returns every layer's directory, top first: overlay.Layers.Lower for a
// container of img. A layer is unpacked once, under the store's unpack
// lock, into a new directory that is renamed into place only when it holds
// the whole layer and matches its diff ID (layer.Unpack), so a snapshot is
// complete or absent, and a process killed in the middle leaves only a
// temporary directory that the next unpack clears.
func (s *Store) Snapshots(ctx context.Context, img Image) ([]string, error) {
	layers := img.Layers()
	dirs := make([]string, len(layers))
	var missing []ocilayout.Layer
	for i, l := range layers {
		if err := l.DiffID.Validate(); err != nil {
			return nil, fmt.Errorf("image %s: layer %d: diff ID: %w", img.ShortID(), i, err)
		}
		dirs[len(layers)-1-i] = s.SnapshotDir(l.DiffID)
		if _, err := os.Lstat(s.SnapshotDir(l.DiffID)); err != nil {
			missing = append(missing, l)
		}
	}
	if len(missing) == 0 {
		return dirs, nil
	}
	unlock, err := s.flock(".unpack.lock", unix.LOCK_EX)
	if err != nil {
		return nil, err
	}
	defer unlock()
	s.clearUnpacks()
	for _, l := range missing {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if _, err := layer.Unpack(s.layout, l, s.SnapshotDir(l.DiffID), layer.ExtractOptions{}); err != nil {
			return nil, fmt.Errorf("image %s: %w", img.ShortID(), err)
		}
	}
	return dirs, nil
}

// clearUnpacks removes what an unpack killed half-way left: temporary
// directories beside the snapshots. The caller holds the unpack lock, so
// no unpack is running.
func (s *Store) clearUnpacks() {
	ents, _ := os.ReadDir(s.snaps)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			_ = os.RemoveAll(filepath.Join(s.snaps, e.Name()))
		}
	}
}
