// Package rootfs builds the small root filesystem that lessons, tests and the
// capstone's built-in image unbox/busybox start containers in. A container
// image is, at the bottom, a directory with a shell and a few tools, and no
// network is allowed to fetch one, so it is made from what the host has:
//
//   - [Busybox]: a statically linked busybox (Debian's busybox-static), one
//     file plus a symlink per applet, as in the busybox Docker image;
//   - [Host]: the host's own shell and core tools, each copied with the
//     program interpreter and shared libraries it loads (read from the ELF
//     files themselves, as ldd would report them), in a merged-/usr layout.
//
// The tree is planned as data (every path and where it comes from), built
// once into a cache keyed by a hash of that plan and of the host files it
// copies, and handed out as a private copy ([Build]), or read in place
// ([Cached]) by package layer, which writes it as an uncompressed,
// reproducible tar stream for an image layer.
//
// Taught by: lesson 03 ("a root filesystem is just a directory"); lesson 04
// uses it as the base layer. Used by the capstone as the layer of its
// built-in image, unbox/busybox. Package rootfstest builds hostile variants
// (symlinks that lead to the host) for the tests of anything that enters one.
package rootfs
