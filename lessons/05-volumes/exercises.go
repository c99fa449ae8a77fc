//go:build linux && !solution

package main

// The exercises of the README, to fill in. Check one with
// `go run -exec sudo ./lessons/05-volumes check N`: it runs your code on
// directories of its own and asks the kernel what it made of them (the
// mount table, a write, the inodes). (A TODO(exercise N) marks where you
// write, not unfinished work: the lesson runs without them.)

import (
	"github.com/unboxlab/unbox/internal/kit"
)

// bindReadOnly is -v source:target:ro by hand: a bind mount of the
// directory source at target, read-only, while source stays writable.
//
// TODO(exercise 1): unix.Mount(source, target, "", unix.MS_BIND, "")
// makes the bind mount; mount(2) ignores MS_RDONLY in that call ("Creating
// a bind mount"), so a second call sets it: unix.Mount("", target, "",
// unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, "").
func bindReadOnly(source, target string) error {
	return kit.TODO(1)
}

// populateVolume fills a new, empty volume (the directory volume) with the
// files of the image directory it is mounted over (image), as Docker does
// the first time a new volume is mounted over a directory of the image:
// the same tree, with owners, modes and symlinks kept, and the volume's
// own directory given the image directory's owner and mode.
//
// TODO(exercise 2): walk image (filepath.WalkDir); for each entry make the
// same thing under volume: os.Mkdir for a directory, a copy of the bytes
// for a file, os.Symlink to the same os.Readlink for a symlink. Then
// os.Lchown to the entry's uid and gid (from fi.Sys().(*syscall.Stat_t))
// and, but for a symlink, os.Chmod to its mode (chown clears set-uid bits,
// so chmod comes last).
func populateVolume(image, volume string) error {
	return kit.TODO(2)
}

// bindSlave is -v source:target:rslave by hand: a bind mount of source at
// target that receives the mounts made under source later, on the host,
// and sends none of its own back.
//
// TODO(exercise 3): a recursive bind (unix.MS_BIND|unix.MS_REC) of
// source at target, then a change of its propagation to slave,
// recursively: unix.Mount("", target, "", unix.MS_SLAVE|unix.MS_REC, "")
// (mount_namespaces(7), "MS_SLAVE").
func bindSlave(source, target string) error {
	return kit.TODO(3)
}
