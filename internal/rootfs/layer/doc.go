// Package layer writes the root filesystem fixture as an image layer: an
// uncompressed, reproducible tar stream. It is apart from package rootfs
// because archive/tar imports os/user, which links the C library where cgo
// is available: a program that imports it is no longer static, and the
// lessons' binaries must be, since they re-exec themselves inside a
// container's root, where there is no dynamic loader.
//
// Used by the capstone for its built-in image, unbox/busybox.
package layer
