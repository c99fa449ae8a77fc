package image

import (
	digest "github.com/opencontainers/go-digest"
)

// Usage is what `unbox system df` reports for images.
type Usage struct {
	Images, Active int
	// Size is the bytes of every blob and snapshot of the store;
	// Reclaimable those of the images no container uses, less what they
	// share with one that is used.
	Size, Reclaimable int64
}

// DiskUsage measures the store. inUse says which images containers use.
func (s *Store) DiskUsage(inUse InUse) (Usage, error) {
	imgs, err := s.List()
	if err != nil {
		return Usage{}, err
	}
	var u Usage
	used := map[digest.Digest]bool{}   // blobs and snapshots of used images
	count := map[digest.Digest]int64{} // every blob and snapshot, once
	for _, img := range imgs {
		active := len(inUse(img.ID)) > 0
		u.Images++
		if active {
			u.Active++
		}
		add := func(d digest.Digest, size func() int64) {
			if _, ok := count[d]; !ok {
				count[d] = size()
			}
			if active {
				used[d] = true
			}
		}
		add(img.Descriptor.Digest, func() int64 { return img.Descriptor.Size })
		add(img.Manifest.Config.Digest, func() int64 { return img.Manifest.Config.Size })
		for _, l := range img.Layers() {
			add(l.Descriptor.Digest, func() int64 { return l.Descriptor.Size })
			// A snapshot counts under its diff ID, marked so that it
			// cannot collide with a blob's digest.
			add("snapshot:"+l.DiffID, func() int64 { return du(s.SnapshotDir(l.DiffID)) })
		}
	}
	for d, n := range count {
		u.Size += n
		if !used[d] {
			u.Reclaimable += n
		}
	}
	return u, nil
}
