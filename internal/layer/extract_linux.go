package layer

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"path/filepath"
	"time"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	digest "github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/ocilayout"
	"github.com/unboxlab/unbox/internal/overlay"
	"github.com/unboxlab/unbox/internal/overlay/whiteout"
)

// The limits [Extract] applies when ExtractOptions leaves them at zero:
// far above any real layer, far below what a decompression bomb unpacks to.
const (
	DefaultMaxBytes   int64 = 16 << 30 // 16 GiB uncompressed
	DefaultMaxEntries       = 1 << 20  // a million entries
)

// ExtractOptions tune [Extract].
type ExtractOptions struct {
	// MaxBytes limits the uncompressed size of the layer (the tar stream
	// itself), MaxEntries its number of entries; zero means
	// DefaultMaxBytes and DefaultMaxEntries.
	MaxBytes   int64
	MaxEntries int
	// AllowDevices lets character and block device entries be created
	// (privileged extraction, as for a --privileged build); without it
	// they are an error.
	AllowDevices bool
	// NoChown leaves every entry owned by the extracting user, for an
	// extraction without root (the owners in the tar are then ignored).
	NoChown bool
}

// ErrLimit is the error of [Extract] for a layer over one of its limits.
var ErrLimit = errors.New("layer exceeds the extraction limit")

// Stats is what [Extract] read.
type Stats struct {
	Entries int
	// Bytes is the size of the uncompressed tar stream.
	Bytes int64
	// DiffID is the digest of the uncompressed tar stream: an image store
	// compares it with the image config's rootfs.diff_ids.
	DiffID digest.Digest
}

// Extract unpacks the layer tar r (uncompressed, or compressed with gzip,
// which it detects) into dir, an existing directory, every path resolved
// inside dir (see the package documentation). On error, dir holds part of
// the layer: extract into a new directory and remove it on failure.
func Extract(r io.Reader, dir string, opts ExtractOptions) (Stats, error) {
	if opts.MaxBytes == 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.MaxEntries == 0 {
		opts.MaxEntries = DefaultMaxEntries
	}
	stream, err := decompress(r)
	if err != nil {
		return Stats{}, fmt.Errorf("extract layer into %s: %w", dir, err)
	}
	counted := &limitedReader{r: stream, max: opts.MaxBytes, h: sha256.New()}
	rootFD, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return Stats{}, fmt.Errorf("extract layer: open %s: %w", dir, err)
	}
	x := &extractor{dir: dir, root: os.NewFile(uintptr(rootFD), dir), opts: opts}
	defer x.root.Close()
	st, err := x.run(tar.NewReader(counted))
	if err == nil {
		// The digest covers the whole stream, the end-of-archive blocks
		// and padding after the last entry too.
		if _, err = io.Copy(io.Discard, counted); err == nil {
			err = x.finish()
		}
	}
	st.Bytes = counted.n
	if err != nil {
		return st, fmt.Errorf("extract layer into %s: %w", dir, err)
	}
	st.DiffID = digest.NewDigest(digest.SHA256, counted.h)
	return st, nil
}

// decompress returns the tar stream in r: r itself, or gunzipped. A zstd
// layer (image-spec's other compression) is refused by name.
func decompress(r io.Reader) (io.Reader, error) {
	br := bufio.NewReader(r)
	magic, _ := br.Peek(4)
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		return gzip.NewReader(br)
	case bytes.Equal(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return nil, errors.New("zstd-compressed layer: not supported (gzip or uncompressed only)")
	}
	return br, nil
}

// limitedReader counts and hashes what it reads, and fails past max.
type limitedReader struct {
	r   io.Reader
	max int64
	n   int64
	h   hash.Hash
}

func (l *limitedReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.n += int64(n)
	l.h.Write(p[:n])
	if l.n > l.max {
		return n, fmt.Errorf("%w: more than %d bytes uncompressed (ExtractOptions.MaxBytes): a decompression bomb?", ErrLimit, l.max)
	}
	return n, err
}

type extractor struct {
	dir  string
	root *os.File // O_PATH: every lookup starts here
	opts ExtractOptions
	// dirs get their mode and times after everything in them is written:
	// creating an entry changes its directory's mtime, and a read-only
	// directory would refuse the entry.
	dirs []*tar.Header
}

func (x *extractor) run(tr *tar.Reader) (Stats, error) {
	var st Stats
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return st, nil
		}
		if err != nil {
			return st, fmt.Errorf("read tar: %w", err)
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		if st.Entries++; st.Entries > x.opts.MaxEntries {
			return st, fmt.Errorf("%w: more than %d entries (ExtractOptions.MaxEntries)", ErrLimit, x.opts.MaxEntries)
		}
		if err := x.entry(hdr, tr); err != nil {
			return st, fmt.Errorf("layer entry %q: %w", hdr.Name, err)
		}
	}
}

// entry writes one entry: a marker in disk form, or the entry itself.
func (x *extractor) entry(hdr *tar.Header, content io.Reader) error {
	name, marker, err := whiteout.FromTar(hdr)
	if errors.Is(err, whiteout.ErrAUFSMeta) {
		return nil // AuFS's own bookkeeping, skipped as Docker does
	}
	if err != nil {
		return unwrapName(err, hdr.Name)
	}
	if marker != overlay.NoMarker {
		return x.marker(name, marker)
	}
	if name == "." {
		if hdr.Typeflag != tar.TypeDir {
			return fmt.Errorf("the root of a layer must be a directory, not type %q", hdr.Typeflag)
		}
		x.dirs = append(x.dirs, rooted(hdr, "."))
		return x.owner(int(x.root.Fd()), "", hdr)
	}
	parent, err := pathrs.MkdirAllHandle(x.root, path.Dir(name), 0o755)
	if err != nil {
		return fmt.Errorf("its directory %s: %w", path.Dir(name), err)
	}
	defer parent.Close()
	pfd, base := int(parent.Fd()), path.Base(name)
	if err := x.clear(parent, base, hdr.Typeflag == tar.TypeDir); err != nil {
		return err
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := unix.Mkdirat(pfd, base, 0o700); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("mkdir: %w", err)
		}
		x.dirs = append(x.dirs, rooted(hdr, name))
		if err := x.owner(pfd, base, hdr); err != nil {
			return err
		}
		return x.xattrs(pfd, base, hdr)
	case tar.TypeReg: // archive/tar reports the old TypeRegA as TypeReg
		if err := x.file(pfd, base, hdr, content); err != nil {
			return err
		}
	case tar.TypeSymlink:
		// The target is data: it is resolved inside the root whenever
		// something is looked up through the link, never here.
		if err := unix.Symlinkat(hdr.Linkname, pfd, base); err != nil {
			return fmt.Errorf("symlink to %s: %w", hdr.Linkname, err)
		}
		if err := x.owner(pfd, base, hdr); err != nil {
			return err
		}
		return x.times(pfd, base, hdr)
	case tar.TypeLink:
		return x.hardlink(pfd, base, hdr)
	case tar.TypeChar, tar.TypeBlock:
		if !x.opts.AllowDevices {
			return fmt.Errorf("a device node (%c %d:%d): extracting devices needs ExtractOptions.AllowDevices (privileged extraction)",
				hdr.Typeflag, hdr.Devmajor, hdr.Devminor)
		}
		mode := uint32(unix.S_IFCHR)
		if hdr.Typeflag == tar.TypeBlock {
			mode = unix.S_IFBLK
		}
		if err := unix.Mknodat(pfd, base, mode|0o600, int(unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor)))); err != nil {
			return fmt.Errorf("mknod: %w", err)
		}
	case tar.TypeFifo:
		if err := unix.Mknodat(pfd, base, unix.S_IFIFO|0o600, 0); err != nil {
			return fmt.Errorf("mkfifo: %w", err)
		}
	default:
		return fmt.Errorf("entry type %q is not supported", hdr.Typeflag)
	}
	return x.attributes(pfd, base, hdr)
}

// rooted is hdr for a directory at name, kept for finish.
func rooted(hdr *tar.Header, name string) *tar.Header {
	h := *hdr
	h.Name = name
	return &h
}

// unwrapName drops the name from an error that repeats it: the caller
// says which entry failed.
func unwrapName(err error, name string) error {
	prefix := fmt.Sprintf("layer entry %q: ", name)
	if msg := err.Error(); len(msg) > len(prefix) && msg[:len(prefix)] == prefix {
		return errors.New(msg[len(prefix):])
	}
	return err
}

// clear makes room for an entry called base in parent: whatever is there
// goes, unless both are directories (an entry for a directory that exists
// only updates it). A link there is removed, never followed.
func (x *extractor) clear(parent *os.File, base string, isDir bool) error {
	var st unix.Stat_t
	err := unix.Fstatat(int(parent.Fd()), base, &st, unix.AT_SYMLINK_NOFOLLOW)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("lstat: %w", err)
	}
	if isDir && st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return nil
	}
	if err := unix.Unlinkat(int(parent.Fd()), base, 0); err == nil || !errors.Is(err, unix.EISDIR) {
		return err
	}
	r, err := os.OpenRoot(fmt.Sprintf("/proc/self/fd/%d", parent.Fd()))
	if err != nil {
		return err
	}
	defer r.Close()
	return r.RemoveAll(base)
}

// file writes a regular file's content, no more than the header says.
func (x *extractor) file(pfd int, base string, hdr *tar.Header, content io.Reader) error {
	fd, err := unix.Openat(pfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	f := os.NewFile(uintptr(fd), base)
	defer f.Close()
	if _, err := io.CopyN(f, content, hdr.Size); err != nil {
		return fmt.Errorf("write %d bytes: %w", hdr.Size, err)
	}
	return f.Close()
}

// hardlink links base to the file the entry names, inside the root.
func (x *extractor) hardlink(pfd int, base string, hdr *tar.Header) error {
	target, err := overlay.CleanName(hdr.Linkname)
	if err != nil {
		return fmt.Errorf("hard link: %w", unwrapName(err, hdr.Linkname))
	}
	if target == "." {
		return errors.New("hard link to the layer's root")
	}
	dir, err := pathrs.OpenatInRoot(x.root, path.Dir(target))
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
		return fmt.Errorf("hard link to %s: not in this layer (the target must be earlier in the same layer)", hdr.Linkname)
	}
	if err != nil {
		return fmt.Errorf("hard link to %s: %w", hdr.Linkname, err)
	}
	defer dir.Close()
	if err := unix.Linkat(int(dir.Fd()), path.Base(target), pfd, base, 0); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("hard link to %s: not in this layer (the target must be earlier in the same layer)", hdr.Linkname)
		}
		return fmt.Errorf("hard link to %s: %w", hdr.Linkname, err)
	}
	return nil
}

// attributes sets what a file, device or FIFO carries: owner, then mode
// (chown(2) clears setuid and setgid), xattrs, times.
func (x *extractor) attributes(pfd int, base string, hdr *tar.Header) error {
	if err := x.owner(pfd, base, hdr); err != nil {
		return err
	}
	if err := unix.Fchmodat(pfd, base, uint32(hdr.Mode&0o7777), 0); err != nil {
		return fmt.Errorf("chmod %o: %w", hdr.Mode&0o7777, err)
	}
	if err := x.xattrs(pfd, base, hdr); err != nil {
		return err
	}
	return x.times(pfd, base, hdr)
}

func (x *extractor) owner(pfd int, base string, hdr *tar.Header) error {
	if x.opts.NoChown {
		return nil
	}
	flags := unix.AT_SYMLINK_NOFOLLOW
	if base == "" {
		flags |= unix.AT_EMPTY_PATH
	}
	if err := unix.Fchownat(pfd, base, hdr.Uid, hdr.Gid, flags); err != nil {
		return fmt.Errorf("chown %d:%d: %w", hdr.Uid, hdr.Gid, err)
	}
	return nil
}

// xattrs sets the entry's xattrs on the entry itself, never on what a link
// points to. overlayfs's own were removed by whiteout.FromTar.
func (x *extractor) xattrs(pfd int, base string, hdr *tar.Header) error {
	for k, v := range hdr.PAXRecords {
		name, ok := cutPrefix(k, paxXattr)
		if !ok {
			continue
		}
		p := fmt.Sprintf("/proc/self/fd/%d/%s", pfd, base)
		if err := unix.Lsetxattr(p, name, []byte(v), 0); err != nil {
			return fmt.Errorf("setxattr %s: %w", name, err)
		}
	}
	return nil
}

func cutPrefix(s, prefix string) (string, bool) {
	if len(s) > len(prefix) && s[:len(prefix)] == prefix {
		return s[len(prefix):], true
	}
	return "", false
}

func (x *extractor) times(pfd int, base string, hdr *tar.Header) error {
	atime := hdr.AccessTime
	if atime.IsZero() {
		atime = hdr.ModTime
	}
	ts := []unix.Timespec{timespec(atime), timespec(hdr.ModTime)}
	flags := unix.AT_SYMLINK_NOFOLLOW
	if base == "" {
		base, flags = ".", 0
	}
	if err := unix.UtimesNanoAt(pfd, base, ts, flags); err != nil {
		return fmt.Errorf("set times: %w", err)
	}
	return nil
}

func timespec(t time.Time) unix.Timespec {
	if t.IsZero() {
		t = time.Unix(0, 0)
	}
	return unix.NsecToTimespec(t.UnixNano())
}

// marker writes a whiteout or an opaque directory in overlayfs's disk
// form, in the directory name's parent resolves to inside the root.
func (x *extractor) marker(name string, m overlay.Marker) error {
	if name == "." {
		// overlayfs merges the roots of its layers whatever their xattrs.
		return fmt.Errorf("a %v at the layer's root, which overlayfs cannot express", m)
	}
	parent, err := pathrs.MkdirAllHandle(x.root, path.Dir(name), 0o755)
	if err != nil {
		return fmt.Errorf("its directory %s: %w", path.Dir(name), err)
	}
	defer parent.Close()
	r, err := os.OpenRoot(fmt.Sprintf("/proc/self/fd/%d", parent.Fd()))
	if err != nil {
		return err
	}
	defer r.Close()
	if err := overlay.WriteMarker(r, path.Base(name), m); err != nil {
		return fmt.Errorf("%v at %s: %w", m, name, err)
	}
	return nil
}

// finish gives every directory its mode and times, the deepest first.
func (x *extractor) finish() error {
	for i := len(x.dirs) - 1; i >= 0; i-- {
		if err := x.finishDir(x.dirs[i]); err != nil {
			return fmt.Errorf("layer entry %q: %w", x.dirs[i].Name, err)
		}
	}
	return nil
}

func (x *extractor) finishDir(hdr *tar.Header) error {
	dir := x.root
	if hdr.Name != "." {
		d, err := pathrs.OpenatInRoot(x.root, hdr.Name)
		if err != nil {
			return err
		}
		defer d.Close()
		dir = d
	}
	// The O_PATH descriptor's magic link is the directory itself.
	p := fmt.Sprintf("/proc/self/fd/%d", dir.Fd())
	if err := unix.Chmod(p, uint32(hdr.Mode&0o7777)); err != nil {
		return fmt.Errorf("chmod %o: %w", hdr.Mode&0o7777, err)
	}
	if err := unix.UtimesNano(p, []unix.Timespec{timespec(hdr.ModTime), timespec(hdr.ModTime)}); err != nil {
		return fmt.Errorf("set times: %w", err)
	}
	return nil
}

// Unpack extracts the layer l of layout into dir, a snapshot that is either
// complete or absent: the layer is extracted into a new directory beside
// dir, checked against its diff ID (and the blob against its digest, as it
// is read), and only then renamed to dir. If dir exists already, nothing
// is done and unpacked is false: a snapshot is unpacked once, and shared.
func Unpack(layout *ocilayout.Layout, l ocilayout.Layer, dir string, opts ExtractOptions) (unpacked bool, err error) {
	if _, err := os.Lstat(dir); err == nil {
		return false, nil
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".unpack-")
	if err != nil {
		return false, fmt.Errorf("unpack %s: %w", l.Descriptor.Digest, err)
	}
	defer os.RemoveAll(tmp)                      // nothing left after the rename
	if err := os.Chmod(tmp, 0o755); err != nil { // a layer without a "./" entry keeps it
		return false, err
	}
	blob, err := layout.OpenBlob(l.Descriptor)
	if err != nil {
		return false, err
	}
	defer blob.Close()
	st, err := Extract(blob, tmp, opts)
	if err != nil {
		return false, fmt.Errorf("unpack %s: %w", l.Descriptor.Digest, err)
	}
	if st.DiffID != l.DiffID {
		return false, fmt.Errorf("unpack %s: its content's diff ID is %s; the image config says %s", l.Descriptor.Digest, st.DiffID, l.DiffID)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return false, fmt.Errorf("unpack %s: %w", l.Descriptor.Digest, err)
	}
	return true, nil
}
