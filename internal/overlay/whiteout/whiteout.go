// Package whiteout converts the markers of an overlay layer between their
// disk form, in a layer or upper directory, and their tar form, in an OCI
// layer tar (OCI image-spec, layer.md, "Whiteouts"):
//
//   - a whiteout is an empty file named Prefix+<name>, in the directory of
//     the name it deletes: etc/.wh.motd deletes etc/motd;
//   - an opaque directory is the directory's own entry and an empty file
//     OpaqueName in it: var/cache/app/.wh..wh..opq hides every entry of
//     var/cache/app in the layers below, whatever its position in the tar,
//     but none of the entries of the same layer.
//
// A whiteout applies only to the layers below its own: a layer that both
// holds a name and deletes it keeps the name. Since every name starting
// with .wh. is a marker, no file system an image describes can hold such a
// name.
//
// [ToTar] is the commit direction (an upper dir written as a layer tar:
// docker commit, lesson 07); [FromTar] the unpack direction (a layer tar
// written as a layer directory: the image store). The disk form itself,
// and all of overlayfs, is package overlay; see its documentation for the
// whole cycle with a worked example.
//
// This is a package of its own because archive/tar needs os/user, which on
// Linux pulls in cgo and makes every program that imports it dynamically
// linked; a program that mounts overlays (and re-executes itself inside a
// root filesystem that has no dynamic loader, as the lessons and a runtime
// do) need not pay for the tar format.
package whiteout

import (
	"archive/tar"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/unboxlab/unbox/internal/overlay"
)

// The names of the tar form.
const (
	// Prefix starts the name of a whiteout: .wh.<name> deletes <name>.
	Prefix = ".wh."
	// MetaPrefix starts AuFS's own bookkeeping names, which the OCI format
	// reserves: only OpaqueName is a marker.
	MetaPrefix = ".wh..wh."
	// OpaqueName, inside a directory, makes it opaque.
	OpaqueName = ".wh..wh..opq"
)

// ErrAUFSMeta is what [FromTar] says of an entry under a MetaPrefix name
// other than OpaqueName: AuFS's hard-link and orphan directories
// (.wh..wh.plnk, .wh..wh.orph, .wh..wh.aufs), which layers written on AuFS
// may hold. An extractor skips such entries, as Docker does.
var ErrAUFSMeta = errors.New("AuFS metadata, not part of the layer")

// ToTar turns one entry of an upper dir or a layer dir (the disk form) into
// its entries in a layer tar (the tar form): the commit direction, as
// `docker commit` and lesson 07 write it.
//
// hdr is the entry's header as tar.FileInfoHeader makes it, with Name set
// to its path relative to the layer's root (a directory's ending in "/");
// m is what [overlay.ReadMarker] says of the same entry. ToTar returns
//
//   - for a whiteout: one empty regular file, .wh.<name>, in the same
//     directory, with the owner and times of hdr;
//   - for an opaque directory: hdr, then an empty regular file
//     <dir>/.wh..wh..opq, so that the marker comes right after its
//     directory and before anything in it;
//   - otherwise: hdr.
//
// hdr is not changed: the headers returned are copies, from which every
// overlayfs xattr ([overlay.IsOverlayXattr]) has been removed, since those
// belong to this mount (origin, impure, the opaque mark itself), not to the
// image. A name that starts with .wh. anywhere in the path cannot be
// represented (readers would take it for a marker) and is an error.
func ToTar(hdr *tar.Header, m overlay.Marker) ([]*tar.Header, error) {
	name, err := overlay.CleanName(hdr.Name)
	if err != nil {
		return nil, err
	}
	for _, c := range strings.Split(name, "/") {
		if strings.HasPrefix(c, Prefix) {
			return nil, fmt.Errorf("layer entry %q: a name starting with %s cannot be in a layer tar, where it would read as a whiteout (OCI image-spec, layer.md)", hdr.Name, Prefix)
		}
	}
	h := *hdr
	h.PAXRecords = withoutOverlayXattrs(hdr.PAXRecords, paxXattr)
	//lint:ignore SA1019 tar.Writer still writes the deprecated Xattrs field, so it is cleaned as well.
	h.Xattrs = withoutOverlayXattrs(hdr.Xattrs, "")
	trimmed := strings.TrimSuffix(hdr.Name, "/")
	switch m {
	case overlay.NoMarker:
		return []*tar.Header{&h}, nil
	case overlay.Whiteout:
		if name == "." {
			return nil, fmt.Errorf("layer entry %q: the root of a layer cannot be a whiteout", hdr.Name)
		}
		// Keep the name's own spelling of its directory ("./etc/").
		i := strings.LastIndex(trimmed, "/") + 1
		// Docker writes whiteouts with mode 0600; the mode means nothing.
		return []*tar.Header{marker(&h, trimmed[:i]+Prefix+trimmed[i:], 0o600)}, nil
	case overlay.Opaque:
		if hdr.Typeflag != tar.TypeDir {
			return nil, fmt.Errorf("layer entry %q: opaque, but not a directory (type %q)", hdr.Name, hdr.Typeflag)
		}
		opq := OpaqueName
		if name != "." {
			opq = trimmed + "/" + OpaqueName
		}
		return []*tar.Header{&h, marker(&h, opq, h.Mode&0o777)}, nil
	}
	return nil, fmt.Errorf("layer entry %q: unknown marker %v", hdr.Name, m)
}

// marker is an empty regular file called name, owned and timed as from.
func marker(from *tar.Header, name string, mode int64) *tar.Header {
	return &tar.Header{
		Typeflag: tar.TypeReg, Name: name, Mode: mode,
		Uid: from.Uid, Gid: from.Gid, Uname: from.Uname, Gname: from.Gname,
		ModTime: from.ModTime, AccessTime: from.AccessTime, ChangeTime: from.ChangeTime,
		Format: from.Format,
	}
}

// FromTar reads one header of a layer tar (the tar form) for an extractor
// that writes the layer's disk form: the unpack direction, as an image
// store does it. It returns the path the entry is about, relative to the
// layer's root and slash-separated ("etc/motd", "." for the root), and its
// marker:
//
//   - NoMarker: an ordinary entry at that path, to extract as it is;
//   - Whiteout: .wh.<name>; the path is the deleted name, where the
//     extractor writes the disk form with [overlay.WriteMarker] instead of
//     the entry;
//   - Opaque: .wh..wh..opq; the path is its directory, marked the same way.
//
// An entry under another .wh..wh. name is [ErrAUFSMeta], to skip. A name
// that climbs out of the layer (".." components) or lies under a marker
// name is an error: the layer is malformed or hostile.
//
// FromTar deletes overlayfs's own xattrs ([overlay.IsOverlayXattr]) from
// hdr, in place: a layer carrying trusted.overlay.* xattrs could otherwise forge
// whiteouts, opaque directories or redirects to other files in the layers
// below (overlayfs.rst, "Metadata only copy up", on crafted REDIRECT and
// METACOPY xattrs).
func FromTar(hdr *tar.Header) (string, overlay.Marker, error) {
	name, err := overlay.CleanName(hdr.Name)
	if err != nil {
		return "", overlay.NoMarker, err
	}
	hdr.PAXRecords = withoutOverlayXattrs(hdr.PAXRecords, paxXattr)
	//lint:ignore SA1019 tar.Reader still fills the deprecated Xattrs field, and an extractor may read it.
	hdr.Xattrs = withoutOverlayXattrs(hdr.Xattrs, "")
	dir, base := path.Split(name)
	for _, c := range strings.Split(dir, "/") {
		switch {
		case strings.HasPrefix(c, MetaPrefix) && c != OpaqueName:
			return "", overlay.NoMarker, fmt.Errorf("layer entry %q: %w", hdr.Name, ErrAUFSMeta)
		case strings.HasPrefix(c, Prefix):
			return "", overlay.NoMarker, fmt.Errorf("layer entry %q: lies under the marker %q", hdr.Name, c)
		}
	}
	parent := path.Clean(dir) // "." at the root
	switch {
	case base == OpaqueName:
		return parent, overlay.Opaque, checkMarkerType(hdr)
	case strings.HasPrefix(base, MetaPrefix):
		return "", overlay.NoMarker, fmt.Errorf("layer entry %q: %w", hdr.Name, ErrAUFSMeta)
	case strings.HasPrefix(base, Prefix):
		target := strings.TrimPrefix(base, Prefix)
		if target == "" || target == "." || target == ".." {
			return "", overlay.NoMarker, fmt.Errorf("layer entry %q: a whiteout of %q names nothing in the layer", hdr.Name, target)
		}
		return path.Join(parent, target), overlay.Whiteout, checkMarkerType(hdr)
	}
	return name, overlay.NoMarker, nil
}

// checkMarkerType refuses a marker that is a directory: its entries would
// follow it, under a name that cannot exist.
func checkMarkerType(hdr *tar.Header) error {
	if hdr.Typeflag == tar.TypeDir {
		return fmt.Errorf("layer entry %q: a marker must be a file, not a directory", hdr.Name)
	}
	return nil
}

// paxXattr starts the PAX records in which archive/tar keeps xattrs.
const paxXattr = "SCHILY.xattr."

// withoutOverlayXattrs returns m without the entries whose key is prefix
// followed by one of overlayfs's xattrs: a new map if there is something to
// remove, else m itself.
func withoutOverlayXattrs(m map[string]string, prefix string) map[string]string {
	drop := func(k string) bool {
		return strings.HasPrefix(k, prefix) && overlay.IsOverlayXattr(strings.TrimPrefix(k, prefix))
	}
	n := 0
	for k := range m {
		if drop(k) {
			n++
		}
	}
	if n == 0 {
		return m
	}
	out := make(map[string]string, len(m)-n)
	for k, v := range m {
		if !drop(k) {
			out[k] = v
		}
	}
	return out
}
