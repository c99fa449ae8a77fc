package overlay

import (
	"fmt"
	"path"
	"strings"
)

// A layer records what it deleted with markers, since a lower layer cannot
// be changed (overlayfs.rst, "whiteouts and opaque directories"; OCI
// image-spec layer.md, "Whiteouts"). Each marker has two forms:
//
//	                    disk form (a layer dir, an upper dir)        tar form (a layer tar)
//	deleted name        character device 0/0 at the name             empty file .wh.<name> beside it
//	replaced directory  directory with trusted.overlay.opaque="y"    the directory, and .wh..wh..opq in it
//
// The disk form is overlayfs's own: the kernel writes it into an upper dir
// when a container deletes a name (fs/overlayfs/dir.c: ovl_whiteout) or
// replaces a directory, and reads it in every layer. The tar form is the
// one AuFS used on disk, which the OCI image format kept. An image store
// turns the tar form into the disk form when it unpacks a layer
// (whiteout.FromTar, [WriteMarker]); a commit turns an upper dir's disk form
// into the tar form ([ReadMarker], whiteout.ToTar).

// Marker is what an entry of a layer means to overlayfs beyond its own
// content.
type Marker int

const (
	// NoMarker is an ordinary entry: a file, directory, link or device.
	NoMarker Marker = iota
	// Whiteout deletes the name from every layer below.
	Whiteout
	// Opaque is a directory that hides the directories of the same name in
	// the layers below: none of their entries show through.
	Opaque
)

// The xattrs overlayfs keeps its markers in. Only the trusted.* namespace is
// used: writing it needs CAP_SYS_ADMIN, so an unprivileged user cannot forge
// a marker in a layer. (An overlay mounted with -o userxattr, as rootless
// containers do, uses user.overlay.* instead; unbox does not.)
const (
	// XattrPrefix starts every xattr overlayfs reads or writes: opaque,
	// whiteout, redirect, metacopy, origin, impure, ...
	XattrPrefix = "trusted.overlay."
	// OpaqueXattr marks an opaque directory with the value "y". The value
	// "x" means something else: the directory is not opaque, but holds
	// xattr whiteouts (see [ReadMarker]).
	OpaqueXattr = XattrPrefix + "opaque"
	// WhiteoutXattr marks an empty regular file as a whiteout, the form
	// Linux 6.7 added for layers that are themselves stored on an overlay.
	WhiteoutXattr = XattrPrefix + "whiteout"

	redirectXattr = XattrPrefix + "redirect"
	metacopyXattr = XattrPrefix + "metacopy"
)

// IsOverlayXattr reports whether name is one of overlayfs's own xattrs, in
// the trusted.overlay.* or the user.overlay.* namespace. They describe one
// overlay mount's bookkeeping, never an image: a layer tar must not carry
// them in either direction (whiteout.ToTar, whiteout.FromTar).
func IsOverlayXattr(name string) bool {
	return strings.HasPrefix(name, XattrPrefix) || strings.HasPrefix(name, "user.overlay.")
}

func (m Marker) String() string {
	switch m {
	case NoMarker:
		return "no marker"
	case Whiteout:
		return "whiteout"
	case Opaque:
		return "opaque directory"
	}
	return fmt.Sprintf("Marker(%d)", int(m))
}

// Command is the shell command that writes m in disk form at path, as
// [WriteMarker] does: a lesson prints it, so that the command shown and the
// system call made cannot drift apart.
func (m Marker) Command(path string) string {
	switch m {
	case Whiteout:
		return "mknod " + path + " c 0 0"
	case Opaque:
		return "setfattr -n " + OpaqueXattr + " -v y " + path
	}
	return ""
}

// CleanName is name, a path in a layer as a tar entry or a caller gives it,
// as a clean slash-separated path relative to the layer's root: no leading
// "/" or "./", no trailing "/", "." for the root itself. A ".." component
// is an error, not something to clamp: a layer that names one is malformed
// or hostile, and whoever writes it out should stop.
func CleanName(name string) (string, error) {
	if strings.IndexByte(name, 0) >= 0 {
		return "", fmt.Errorf("layer entry %q: holds a NUL byte", name)
	}
	for _, c := range strings.Split(name, "/") {
		if c == ".." {
			return "", fmt.Errorf("layer entry %q: a \"..\" component would leave the layer", name)
		}
	}
	p := strings.TrimPrefix(path.Clean("/"+name), "/")
	if p == "" {
		p = "."
	}
	return p, nil
}
