package ocilayout

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Layout is an OCI image layout directory.
type Layout struct {
	dir string
}

// MaxJSONSize bounds a manifest, config or index read into memory: real
// ones are a few KiB, and a blob named as one could be anything.
const MaxJSONSize = 8 << 20

// Create makes an empty layout at dir (made if missing), or opens the
// layout already there.
func Create(dir string) (*Layout, error) {
	if err := os.MkdirAll(filepath.Join(dir, ocispec.ImageBlobsDir, string(digest.SHA256)), 0o755); err != nil {
		return nil, fmt.Errorf("create image layout: %w", err)
	}
	l := &Layout{dir: dir}
	if _, err := os.Stat(l.path(ocispec.ImageLayoutFile)); os.IsNotExist(err) {
		b, _ := json.Marshal(ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion})
		if err := writeFileAtomic(l.path(ocispec.ImageLayoutFile), b); err != nil {
			return nil, fmt.Errorf("create image layout: %w", err)
		}
	}
	if _, err := os.Stat(l.path(ocispec.ImageIndexFile)); os.IsNotExist(err) {
		if err := l.writeIndex(emptyIndex()); err != nil {
			return nil, fmt.Errorf("create image layout: %w", err)
		}
	}
	return Open(dir)
}

// Open opens the layout at dir, which must say it is one (oci-layout).
func Open(dir string) (*Layout, error) {
	l := &Layout{dir: dir}
	b, err := os.ReadFile(l.path(ocispec.ImageLayoutFile))
	if err != nil {
		return nil, fmt.Errorf("open image layout %s: %w", dir, err)
	}
	var v ocispec.ImageLayout
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("open image layout %s: %s: %w", dir, ocispec.ImageLayoutFile, err)
	}
	if v.Version != ocispec.ImageLayoutVersion {
		return nil, fmt.Errorf("open image layout %s: version %q; this reads %q", dir, v.Version, ocispec.ImageLayoutVersion)
	}
	return l, nil
}

// Dir is the layout's directory.
func (l *Layout) Dir() string { return l.dir }

func (l *Layout) path(elem ...string) string {
	return filepath.Join(append([]string{l.dir}, elem...)...)
}

// BlobPath is where the blob d is, or would be: blobs/sha256/<hex>. A
// digest that is not a valid sha256 one (it could name a path outside the
// layout) is an error.
func (l *Layout) BlobPath(d digest.Digest) (string, error) {
	if err := d.Validate(); err != nil {
		return "", fmt.Errorf("blob %q: %w", d, err)
	}
	if d.Algorithm() != digest.SHA256 {
		return "", fmt.Errorf("blob %s: only %s digests are supported", d, digest.SHA256)
	}
	return l.path(ocispec.ImageBlobsDir, string(d.Algorithm()), d.Encoded()), nil
}

// WriteBlob stores what r holds as a blob and returns its descriptor. A
// blob already there is kept: the same digest is the same bytes.
func (l *Layout) WriteBlob(r io.Reader, mediaType string) (ocispec.Descriptor, error) {
	dir := l.path(ocispec.ImageBlobsDir, string(digest.SHA256))
	tmp, err := os.CreateTemp(dir, ".tmp-")
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("write blob: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a rename, there is nothing to remove
	d := digest.SHA256.Digester()
	n, err := io.Copy(io.MultiWriter(tmp, d.Hash()), r)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("write blob: %w", err)
	}
	desc := ocispec.Descriptor{MediaType: mediaType, Digest: d.Digest(), Size: n}
	final, _ := l.BlobPath(desc.Digest)
	if _, err := os.Stat(final); err == nil {
		return desc, nil
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("write blob %s: %w", desc.Digest, err)
	}
	if err := os.Rename(tmp.Name(), final); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("write blob %s: %w", desc.Digest, err)
	}
	return desc, syncDir(dir)
}

// WriteJSON stores v, marshalled, as a blob of mediaType.
func (l *Layout) WriteJSON(mediaType string, v any) (ocispec.Descriptor, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("write %s: %w", mediaType, err)
	}
	return l.WriteBlob(bytes.NewReader(b), mediaType)
}

// OpenBlob opens the blob desc names. The reader fails, at the end, if the
// blob's size or digest is not the descriptor's.
func (l *Layout) OpenBlob(desc ocispec.Descriptor) (io.ReadCloser, error) {
	p, err := l.BlobPath(desc.Digest)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("open blob: %w", err)
	}
	return &verifier{f: f, desc: desc, d: desc.Digest.Algorithm().Hash()}, nil
}

// verifier checks a blob as it is read: the size at every read, the digest
// at the end.
type verifier struct {
	f    *os.File
	desc ocispec.Descriptor
	d    interface {
		io.Writer
		Sum([]byte) []byte
	}
	n int64
}

func (v *verifier) Read(p []byte) (int, error) {
	n, err := v.f.Read(p)
	v.n += int64(n)
	v.d.Write(p[:n])
	if v.n > v.desc.Size {
		return n, fmt.Errorf("blob %s: more than the %d bytes its descriptor says", v.desc.Digest, v.desc.Size)
	}
	if errors.Is(err, io.EOF) {
		if v.n != v.desc.Size {
			return n, fmt.Errorf("blob %s: %d bytes; its descriptor says %d", v.desc.Digest, v.n, v.desc.Size)
		}
		if got := digest.NewDigestFromBytes(v.desc.Digest.Algorithm(), v.d.Sum(nil)); got != v.desc.Digest {
			return n, fmt.Errorf("blob %s: its content's digest is %s: the blob is corrupt", v.desc.Digest, got)
		}
	}
	return n, err
}

func (v *verifier) Close() error { return v.f.Close() }

// ReadJSON reads the blob desc names, checked, into v.
func (l *Layout) ReadJSON(desc ocispec.Descriptor, v any) error {
	if desc.Size > MaxJSONSize {
		return fmt.Errorf("blob %s (%s): %d bytes, more than %d", desc.Digest, desc.MediaType, desc.Size, MaxJSONSize)
	}
	r, err := l.OpenBlob(desc)
	if err != nil {
		return err
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("blob %s (%s): %w", desc.Digest, desc.MediaType, err)
	}
	return nil
}

func emptyIndex() ocispec.Index {
	return ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{},
	}
}

// writeFileAtomic replaces p with b: a temporary file beside it, synced,
// renamed over it, and the directory synced.
func writeFileAtomic(p string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(p), ".tmp-"+filepath.Base(p)+"-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(b)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), p)
	}
	if err != nil {
		return err
	}
	return syncDir(filepath.Dir(p))
}

// syncDir makes a rename in dir durable (fsync(2) of the directory).
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// statSize checks that the file p exists with size bytes.
func statSize(p string, size int64) (os.FileInfo, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if fi.Size() != size {
		return fi, fmt.Errorf("%d bytes; its descriptor says %d", fi.Size(), size)
	}
	return fi, nil
}
