//go:build linux && !solution

package main

// The exercises of the README, to fill in. Check one with
// `go run -exec sudo ./lessons/04-unionfs check N`: it runs your code on a
// lab like the lesson's and asks the kernel's overlayfs what it makes of
// the result. (A TODO(exercise N) marks where you write, not unfinished
// work: the lesson runs without them.)

import (
	"io"

	"github.com/unboxlab/unbox/internal/kit"
)

// commitLayer writes the upper dir of a container as an image layer: a tar
// stream, as `docker commit` and lesson 07 do.
//
// TODO(exercise 1): walk upper (filepath.WalkDir; skip upper itself), and
// for each entry make a header with tar.FileInfoHeader (names relative to
// upper, slash-separated, directories ending in "/"), ask
// overlay.ReadMarker what it is to overlayfs, let whiteout.ToTar turn the
// header into the tar's form (a whiteout becomes .wh.<name>, an opaque
// directory gains a .wh..wh..opq entry), and write every header it returns,
// with the file's content after a regular file's header.
func commitLayer(upper string, w io.Writer) error {
	return kit.TODO(1)
}

// writeDeletions writes, in the empty layer directory dir, a layer that
// deletes /etc/passwd and replaces /srv/www with an empty directory, in
// the form overlayfs reads from a lower layer, by hand: what layer 3 of the
// lesson holds, written by overlay.WriteMarker there.
//
// TODO(exercise 2): a whiteout is a character device with device number
// 0/0 (unix.Mknod with unix.S_IFCHR and unix.Mkdev(0, 0)); an opaque
// directory is a directory with the xattr trusted.overlay.opaque set to
// "y" (unix.Setxattr). Make the parent directories first.
func writeDeletions(dir string) error {
	return kit.TODO(2)
}

// shortLowerdir makes the lowerdir= value for layers (top first) short, as
// Docker's overlay2 does: a directory l/ in root with one short symlink per
// layer, and a value of l/<name>:l/<name>... that the kernel resolves from
// root, the working directory of the process that mounts.
//
// TODO(exercise 3): for each layer, make root/l/<short> a symlink to the
// layer's directory (os.Symlink; a short name such as "A", "B"... will do),
// and return the names joined with ":", each as "l/<short>".
func shortLowerdir(root string, layers []string) (string, error) {
	return "", kit.TODO(3)
}
