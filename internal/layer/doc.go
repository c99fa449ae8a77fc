// Package layer turns a container's changes into an image layer and an
// image layer back into a directory: the two directions of OCI image-spec's
// layer.md ("Image Layer Filesystem Changeset").
//
// # Commit: an upper dir becomes a layer tar
//
// Everything a container changed is in its overlay upper dir (package
// overlay), in overlayfs's disk form: new and copied-up files, character
// devices 0/0 for deleted names, directories marked opaque when they were
// replaced. [WriteDiff] walks that directory and writes it as a layer tar,
// the markers spelled as the image format spells them (.wh.<name> and
// .wh..wh..opq, through package overlay/whiteout); [Commit] compresses it
// with gzip and returns the two digests an image needs: the blob's digest,
// which the manifest lists, and the diff ID, the digest of the
// uncompressed tar, which the image config lists (config.md, "rootfs").
//
// The same change gives the same bytes, and so the same digests: entries in
// lexical order, parents first; every time set to one value (the Unix epoch
// unless [DiffOptions.ModTime] says otherwise); numeric owners without
// names (nothing is looked up in the host's /etc/passwd); the xattrs of the
// files themselves, sorted, less overlayfs's own and the host's SELinux
// label. Paths the caller excludes are left out with everything under them:
// the init layer's /etc/hostname, /etc/hosts and /etc/resolv.conf, which a
// runtime writes for one container, and the mount points of its volumes.
//
// # Extraction: a layer tar becomes a directory
//
// [Extract] is a security boundary: a layer is written by whoever built the
// image, and each of its names is a path to write to. So every path is
// resolved inside the target directory as if it were / (openat2(2)
// RESOLVE_IN_ROOT, through github.com/cyphar/filepath-securejoin's
// pathrs-lite, as runc and containerd resolve them), whatever the tar says:
//
//   - a ".." component is an error; an absolute name is taken as relative
//     to the layer's root, as Docker and containerd take it;
//   - a symbolic link, absolute or climbing with "..", is followed inside
//     the directory: an entry written "through" a link to /etc lands in
//     <dir>/etc. The last component is never followed: an entry replaces a
//     link of its name instead of writing to where it points;
//   - a hard link names a file inside the directory, found the same way,
//     and the file must exist there (be earlier in the layer);
//   - device nodes are refused unless [ExtractOptions.AllowDevices]; a
//     setuid or setgid bit is set only when the entry has it (owners are set
//     before modes, since chown(2) clears the bits, and the mode is set
//     exactly, so a setgid parent's bit is not inherited);
//   - the uncompressed bytes and the number of entries are limited
//     ([ExtractOptions.MaxBytes], MaxEntries): a small gzip stream can hold
//     gigabytes of zeros.
//
// Whiteouts and opaque markers are written in overlayfs's disk form
// (overlay.WriteMarker), so the directory is a lower layer as it stands.
//
// # Linking
//
// archive/tar imports os/user, which with cgo links the C library: a
// program that imports this package is dynamically linked where cgo is
// enabled. That is why the package is not part of internal/overlay. It
// does not matter to the programs that use it: none of them runs its own
// binary inside a container's root (lesson 07's container is started from
// the host before pivot_root, and exec goes through internal/nsenter,
// which runs no Go code inside the container), and this package never calls
// into os/user.
//
// Taught by lesson 07 (commit); used by the capstone's image store (pulling
// and loading images, unbox commit and unbox build).
package layer
