package layer

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/ocilayout"
	"github.com/unboxlab/unbox/internal/overlay"
	"github.com/unboxlab/unbox/internal/overlay/whiteout"
)

// DiffOptions tune [WriteDiff] and [Commit].
type DiffOptions struct {
	// Exclude are paths as the container sees them ("/etc/hostname",
	// "/data") that are left out of the layer, with everything under
	// them: the init layer's files and volume mount points.
	Exclude []string
	// ModTime is the modification time of every entry; the zero value is
	// the Unix epoch. One time for all makes the layer reproducible, as
	// SOURCE_DATE_EPOCH does for builds.
	ModTime time.Time
}

// InitFiles are the files a runtime writes into a container's init layer
// for that one container, which a commit leaves out (Docker's init layer,
// moby daemon/initlayer).
var InitFiles = []string{"/etc/hostname", "/etc/hosts", "/etc/resolv.conf"}

// Commit writes the changes in upper, an overlay upper dir, to w as a
// gzip-compressed layer tar ([WriteDiff]) and returns its digests: the
// compressed blob's descriptor, for an image manifest, and its diff ID,
// for the image config.
func Commit(w io.Writer, upper string, opts DiffOptions) (ocilayout.Layer, error) {
	return Compress(w, func(tw io.Writer) error { return WriteDiff(tw, upper, opts) })
}

// Compress gzips the tar stream that writeTar writes into w, and returns
// the digests of both: the blob's (compressed) and the diff ID
// (uncompressed). compress/gzip with no name and no time in its header
// makes the same bytes of the same tar.
func Compress(w io.Writer, writeTar func(io.Writer) error) (ocilayout.Layer, error) {
	blob := sha256.New()
	counted := &countWriter{w: io.MultiWriter(w, blob)}
	zw, err := gzip.NewWriterLevel(counted, gzip.DefaultCompression)
	if err != nil {
		return ocilayout.Layer{}, err
	}
	diff := sha256.New()
	if err := writeTar(io.MultiWriter(zw, diff)); err != nil {
		return ocilayout.Layer{}, err
	}
	if err := zw.Close(); err != nil {
		return ocilayout.Layer{}, fmt.Errorf("compress layer: %w", err)
	}
	return ocilayout.Layer{
		Descriptor: ocispec.Descriptor{
			MediaType: ocispec.MediaTypeImageLayerGzip,
			Digest:    digest.NewDigest(digest.SHA256, blob),
			Size:      counted.n,
		},
		DiffID: digest.NewDigest(digest.SHA256, diff),
	}, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// WriteDiff writes upper, an overlay upper dir (or any layer directory in
// overlayfs's disk form), to w as an uncompressed layer tar; see the
// package documentation for what goes in and how.
func WriteDiff(w io.Writer, upper string, opts DiffOptions) error {
	excluded := map[string]bool{}
	for _, e := range opts.Exclude {
		name, err := overlay.CleanName(e)
		if err != nil {
			return fmt.Errorf("exclude %q: %w", e, err)
		}
		excluded[name] = true
	}
	mtime := opts.ModTime
	if mtime.IsZero() {
		mtime = time.Unix(0, 0)
	}
	d := &differ{upper: upper, excluded: excluded, mtime: mtime, links: map[fileID]string{}}
	bw := bufio.NewWriterSize(w, 64<<10)
	d.tw = tar.NewWriter(bw)
	err := filepath.WalkDir(upper, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == upper {
			return nil
		}
		return d.add(p, de)
	})
	if err == nil {
		err = d.tw.Close()
	}
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return fmt.Errorf("layer tar of %s: %w", upper, err)
	}
	return nil
}

type differ struct {
	upper    string
	excluded map[string]bool
	mtime    time.Time
	tw       *tar.Writer
	// links maps a file with more than one link to the name it was first
	// written under: later names are hard links to it.
	links map[fileID]string
}

type fileID struct{ dev, ino uint64 }

// add writes the entry at p (found by the walk) and what it means.
func (d *differ) add(p string, de fs.DirEntry) error {
	rel, err := filepath.Rel(d.upper, p)
	if err != nil {
		return err
	}
	name := filepath.ToSlash(rel)
	if d.excluded[name] {
		if de.IsDir() {
			return filepath.SkipDir
		}
		return nil
	}
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return &os.PathError{Op: "lstat", Path: p, Err: err}
	}
	hdr, err := d.header(p, name, &st)
	if err != nil || hdr == nil {
		return err
	}
	marker, err := overlay.ReadMarker(p)
	if err != nil {
		return err
	}
	hdrs, err := whiteout.ToTar(hdr, marker)
	if err != nil {
		return err
	}
	for _, h := range hdrs {
		if err := d.tw.WriteHeader(h); err != nil {
			return fmt.Errorf("%s: %w", h.Name, err)
		}
	}
	if marker == overlay.NoMarker && hdr.Typeflag == tar.TypeReg && hdr.Size > 0 {
		return d.content(p, hdr.Size)
	}
	return nil
}

// header is the tar header of the entry at p, made from lstat(2) alone (no
// owner names, no access or change times), or nil for a socket, which an
// image cannot hold (Docker leaves them out too).
func (d *differ) header(p, name string, st *unix.Stat_t) (*tar.Header, error) {
	hdr := &tar.Header{
		Name:    name,
		Mode:    int64(st.Mode & 0o7777),
		Uid:     int(st.Uid),
		Gid:     int(st.Gid),
		ModTime: d.mtime,
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		hdr.Typeflag, hdr.Size = tar.TypeReg, st.Size
		if st.Nlink > 1 {
			id := fileID{uint64(st.Dev), st.Ino}
			if first, ok := d.links[id]; ok {
				hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
			} else {
				d.links[id] = name
			}
		}
	case unix.S_IFDIR:
		hdr.Typeflag, hdr.Name = tar.TypeDir, name+"/"
	case unix.S_IFLNK:
		target, err := os.Readlink(p)
		if err != nil {
			return nil, err
		}
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, target
	case unix.S_IFCHR, unix.S_IFBLK:
		hdr.Typeflag = tar.TypeChar
		if st.Mode&unix.S_IFMT == unix.S_IFBLK {
			hdr.Typeflag = tar.TypeBlock
		}
		hdr.Devmajor, hdr.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
	case unix.S_IFIFO:
		hdr.Typeflag = tar.TypeFifo
	default:
		return nil, nil
	}
	xattrs, err := readXattrs(p)
	if err != nil {
		return nil, err
	}
	for k, v := range xattrs {
		if hdr.PAXRecords == nil {
			hdr.PAXRecords = map[string]string{}
		}
		hdr.PAXRecords[paxXattr+k] = v
	}
	return hdr, nil
}

// paxXattr starts the PAX records that hold xattrs (the SCHILY.xattr.
// convention that GNU tar, Docker and containerd write).
const paxXattr = "SCHILY.xattr."

// readXattrs returns the xattrs of p itself that belong in an image: not
// overlayfs's own (origin, impure, the opaque mark: whiteout.ToTar spells
// the marks), and not security.selinux, which is the label the host's
// policy gave the file, not part of the image.
func readXattrs(p string) (map[string]string, error) {
	buf := make([]byte, 1024)
	var n int
	for {
		var err error
		n, err = unix.Llistxattr(p, buf)
		if errors.Is(err, unix.ERANGE) {
			buf = make([]byte, 2*len(buf))
			continue
		}
		if errors.Is(err, unix.ENOTSUP) {
			return nil, nil
		}
		if err != nil {
			return nil, &os.PathError{Op: "llistxattr", Path: p, Err: err}
		}
		break
	}
	var out map[string]string
	for _, name := range bytes.Split(buf[:n], []byte{0}) {
		k := string(name)
		if k == "" || overlay.IsOverlayXattr(k) || k == "security.selinux" {
			continue
		}
		v, err := getxattr(p, k)
		if err != nil {
			return nil, err
		}
		if out == nil {
			out = map[string]string{}
		}
		out[k] = v
	}
	return out, nil
}

func getxattr(p, name string) (string, error) {
	buf := make([]byte, 256)
	for {
		n, err := unix.Lgetxattr(p, name, buf)
		if errors.Is(err, unix.ERANGE) {
			buf = make([]byte, 2*len(buf))
			continue
		}
		if err != nil {
			return "", &os.PathError{Op: "lgetxattr " + name, Path: p, Err: err}
		}
		return string(buf[:n]), nil
	}
}

// content copies the regular file at p into the tar; a file that changes
// size under the walk is an error, not a corrupt layer.
func (d *differ) content(p string, size int64) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := io.Copy(d.tw, f)
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	if n != size {
		return fmt.Errorf("%s: changed while it was read (%d bytes, then %d): stop the container before committing it", p, size, n)
	}
	return nil
}

// Store compresses the tar stream writeTar writes ([Compress]) straight
// into a blob of layout, and returns the layer: how a commit lands in an
// image store.
func Store(layout *ocilayout.Layout, writeTar func(io.Writer) error) (ocilayout.Layer, error) {
	pr, pw := io.Pipe()
	done := make(chan struct{})
	var l ocilayout.Layer
	var werr error
	go func() {
		defer close(done)
		l, werr = Compress(pw, writeTar)
		pw.CloseWithError(werr)
	}()
	desc, err := layout.WriteBlob(pr, ocispec.MediaTypeImageLayerGzip)
	pr.CloseWithError(err) // a writer still writing stops
	<-done
	if werr != nil {
		return ocilayout.Layer{}, werr
	}
	if err != nil {
		return ocilayout.Layer{}, err
	}
	if desc.Digest != l.Descriptor.Digest || desc.Size != l.Descriptor.Size {
		return ocilayout.Layer{}, fmt.Errorf("store layer: wrote %s (%d bytes), compressed %s (%d bytes)",
			desc.Digest, desc.Size, l.Descriptor.Digest, l.Descriptor.Size)
	}
	return l, nil
}
