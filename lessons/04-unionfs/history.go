//go:build linux

package main

import "github.com/unboxlab/unbox/internal/kit"

// unionHistory is step 8's table: the union filesystems containers have
// used, and how each marks a deletion.
var unionHistory = [][]string{
	{"UnionFS", "never merged", ".wh.<name> files", "live CDs"},
	{"AuFS", "never merged:\npatched kernels", ".wh.<name>,\n.wh..wh..opq files", "Docker's first driver\n(aufs)"},
	{"overlayfs", "Linux 3.18 (2014),\nmany lowers 4.0", "0/0 device,\ntrusted.overlay.opaque", "Docker overlay2,\ncontainerd, Podman"},
}

func stepHistory(s *kit.Session) error {
	rows := make([][]string, len(unionHistory))
	for i, r := range unionHistory {
		rows[i] = []string{r[0], s.T(r[1]), s.T(r[2]), s.T(r[3])}
	}
	s.Table([]string{"filesystem", "in mainline Linux", "deletion marker", "used by"}, rows)
	s.Note("Docker began on AuFS, which was never merged into Linux: distributions had to patch it in, and\n" +
		"Docker removed its aufs driver in version 24 (2023). overlayfs was merged in 3.18 and is small\n" +
		"and maintained with the VFS; Docker's overlay2 driver and containerd's overlay snapshotter use\n" +
		"it. AuFS's whiteout names live on in the image format: every layer tar still says .wh.<name>.")
	return nil
}
