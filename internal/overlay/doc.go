// Package overlay is how unbox stacks image layers with overlayfs
// (Documentation/filesystems/overlayfs.rst): the mount options that stack
// them, the model of how a name is looked up through the stack, and the
// markers a layer uses to delete what a layer below it holds, in the two
// forms a layer takes: a directory on disk, and a tar in an image (OCI
// image-spec, layer.md).
//
// # Layers are directories, the union is one mount
//
// An image is a stack of read-only layers. Each is a directory holding what
// one build step changed: whole files, and markers for what it deleted. A
// container adds one writable layer on top, and overlayfs shows the stack
// as one tree:
//
//	mount -t overlay -o lowerdir=/l/app:/l/base,upperdir=/c/upper,workdir=/c/work overlay /c/merged
//
// lowerdir lists the read-only layers top first; upperdir takes every
// change; workdir is overlayfs's scratch space, an empty directory on the
// upper's filesystem. [Layers] is that mount as data, and [Layers.Options]
// the string mount(2) takes, with the two traps handled before any system
// call: paths holding the option separators (`\`, `:`, `,`), and the one
// page of options mount(2) reads. This package does not apply mounts: the
// caller makes a mount of type [FSType] with those options where it applies
// its others ([Probe], which must see the kernel's own answer, is the one
// exception). [Mounted] reads the layers of a mounted overlay back from
// /proc/<pid>/mountinfo.
//
// # Lookup, copy-up and markers
//
// A name is looked up in each layer, top first: the first layer that has it
// decides, directories merge down to an opaque one, and a whiteout deletes
// the name for every layer below ([Resolve], [ReadDir]; the tests hold
// both against the kernel). A write to a file of a lower layer copies the
// whole file up into the upper dir first; lower layers are never written.
// A deletion cannot remove anything from a lower layer, so the kernel
// writes a marker into the upper dir instead:
//
//	rm /c/merged/etc/motd                       upper/etc/motd: character device 0/0, a whiteout
//	rm -rf /c/merged/srv && mkdir /c/merged/srv upper/srv/: trusted.overlay.opaque="y", an opaque directory
//
// In a layer tar the same markers are spelled as AuFS spelled them, as
// names: etc/.wh.motd, and srv/.wh..wh..opq after srv/. [ReadMarker] and
// [WriteMarker] read and write the disk form; package whiteout
// (internal/overlay/whiteout) converts between the two forms, in a package
// of its own because archive/tar pulls in os/user and with it cgo: a program
// that only mounts overlays stays statically linked, which matters to the
// lessons and the runtime, since they re-execute themselves inside root
// filesystems that have no dynamic loader.
//
// # A worked example: from an image to a commit, and back
//
// An image store unpacks each layer tar of an image into a directory of its
// own. For every tar header, whiteout.FromTar says which path it is about
// and whether it is a marker; an ordinary entry is extracted (inside the
// layer directory, never through a link out of it), a marker is written in
// disk form:
//
//	for hdr in layer.tar:
//	    name, marker, err := whiteout.FromTar(hdr)  // "etc/.wh.motd" -> "etc/motd", Whiteout
//	    if marker != overlay.NoMarker {
//	        overlay.WriteMarker(root, name, marker)  // mknod etc/motd c 0 0
//	        continue
//	    }
//	    extract(root, name, hdr)
//
// A container on the image gets a stack of its own, sharing the image's
// directories, with the runtime's init layer between the image and the
// upper dir (its /etc/hostname, /etc/hosts, /etc/resolv.conf, which must
// never end up in an image):
//
//	l := overlay.Layers{
//	    Lower: []string{"/c/init", "/l/3", "/l/2", "/l/1"},   // top first
//	    Upper: "/c/upper", Work: "/c/work",
//	}
//	opts, err := l.Options(os.Getpagesize())              // mount -t overlay -o <opts> overlay /c/merged
//
// The container runs; every change it makes lands in /c/upper, in disk
// form. Committing it (docker commit, docker build's RUN) turns that one
// directory into a new layer tar: walk it, make each entry's header with
// tar.FileInfoHeader, and let whiteout.ToTar spell the markers:
//
//	upper/etc/app.conf     file             ->  etc/app.conf
//	upper/etc/motd         char 0/0         ->  etc/.wh.motd
//	upper/srv/             opaque           ->  srv/, srv/.wh..wh..opq
//
// Unpacked by the image store as above, the tar becomes a directory that is
// the same upper dir again, now a read-only layer for the next container.
//
// # What the package leaves out
//
// unbox mounts with the kernel's defaults, which make neither redirects
// (redirect_dir) nor metadata-only copy-ups (metacopy); entries of those
// kinds are [ErrUnsupported] wherever they are met. Data-only lower layers
// and userxattr mounts (user.overlay.* instead of trusted.overlay.*, for
// rootless containers) are not used either. Reading trusted.* xattrs needs
// CAP_SYS_ADMIN: without it, an opaque directory looks like any other.
//
// # Where unbox uses it
//
// Lesson 04 (union filesystems) teaches it: it builds three layers and an
// init layer, mounts them, and shows copy-up, whiteouts and opaque
// directories in both forms. The capstone uses it for the image store's
// snapshots (unpacking layer tars, mounting a container's stack), for the
// init layer of every container, and for lesson 07's commit (an upper dir
// written as a layer tar).
package overlay
