//go:build linux

package main

import (
	"os"
	"sync"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/overlay"
)

// NeedUpperFS is a temp directory that overlayfs accepts as an upper dir,
// where the lesson keeps its layers. Not every filesystem is: the upper
// needs trusted.* xattrs and d_type (overlayfs.rst, "Upper and Lower"), so
// NFS is out, and so is overlayfs itself, which is what /tmp is when the
// lesson runs inside a container. The check (overlay.Probe) mounts a small
// union there and makes one whiteout and one opaque directory through it,
// as the lesson will. Without root it cannot tell, and the root need says
// so already.
var NeedUpperFS = kit.Need{
	Name:  "overlay upper dir in " + os.TempDir(),
	Check: func() error { upperOnce.Do(func() { upperErr = probeUpperFS(os.TempDir()) }); return upperErr },
	Fix: "point TMPDIR at a directory on ext4, xfs, btrfs or tmpfs: " +
		"go run -exec 'sudo TMPDIR=/var/tmp' ./lessons/04-unionfs",
}

var (
	upperOnce sync.Once
	upperErr  error
)

// probeUpperFS is overlay.Probe, which needs root: without it the root need
// reports the problem already.
func probeUpperFS(tmp string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	return overlay.Probe(tmp)
}
