package ocilayout_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/kit/kittest"
	"github.com/unboxlab/unbox/internal/ocilayout"
)

func TestMain(m *testing.M) { kittest.Main(m, nil) }

// gzipLayer is a small valid layer blob (an empty tar, gzip-compressed)
// and its diff ID.
func gzipLayer(t *testing.T, l *ocilayout.Layout) ocilayout.Layer {
	t.Helper()
	var blob bytes.Buffer
	zw := gzip.NewWriter(&blob)
	zw.Write(make([]byte, 1024)) // an empty tar archive: two zero blocks
	zw.Close()
	desc, err := l.WriteBlob(&blob, ocispec.MediaTypeImageLayerGzip)
	if err != nil {
		t.Fatal(err)
	}
	return ocilayout.Layer{Descriptor: desc, DiffID: digest.FromBytes(make([]byte, 1024))}
}

func TestBlobsAreContentAddressedAndChecked(t *testing.T) {
	l, err := ocilayout.Create(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	desc, err := l.WriteBlob(strings.NewReader("hello\n"), "text/plain")
	if err != nil {
		t.Fatal(err)
	}
	if want := digest.FromString("hello\n"); desc.Digest != want || desc.Size != 6 {
		t.Fatalf("WriteBlob = %+v; want digest %s, size 6", desc, want)
	}
	p, _ := l.BlobPath(desc.Digest)
	if p != filepath.Join(l.Dir(), "blobs", "sha256", desc.Digest.Encoded()) {
		t.Errorf("BlobPath = %s; want blobs/sha256/<hex>", p)
	}
	entries, _ := os.ReadDir(filepath.Dir(p))
	if len(entries) != 1 {
		t.Errorf("blobs/sha256 holds %d files; want the blob alone (no temporary file left)", len(entries))
	}
	r, err := l.OpenBlob(desc)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(r); err != nil || string(b) != "hello\n" {
		t.Errorf("read back %q, %v", b, err)
	}
	r.Close()

	// The blob on disk changes: reading it is an error, never content.
	if err := os.WriteFile(p, []byte("HELLO\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, _ = l.OpenBlob(desc)
	if _, err := io.ReadAll(r); err == nil || !strings.Contains(err.Error(), "the blob is corrupt") {
		t.Errorf("read of a corrupted blob: %v; want an error", err)
	}
	r.Close()
	short := desc
	short.Size = 3
	r, _ = l.OpenBlob(short)
	if _, err := io.ReadAll(r); err == nil || !strings.Contains(err.Error(), "more than the 3 bytes") {
		t.Errorf("read of a blob longer than its descriptor: %v; want an error", err)
	}
	r.Close()

	for _, bad := range []digest.Digest{"sha256:../../../etc/passwd", "sha512:" + digest.Digest(strings.Repeat("0", 128)), "nonsense"} {
		if _, err := l.BlobPath(bad); err == nil {
			t.Errorf("BlobPath(%q) = nil error; want it refused", bad)
		}
	}
}

// TestImageRoundTrip: an image written with a layer added reads back the
// same, layers bottom first with their diff IDs, and its history.
func TestImageRoundTrip(t *testing.T) {
	l, err := ocilayout.Create(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	base := ocilayout.NewImage(ocispec.ImageConfig{Cmd: []string{"/bin/sh"}, Env: []string{"PATH=/bin"}})
	one := gzipLayer(t, l)
	base = base.WithLayer(one, ocispec.History{CreatedBy: "base"})
	written, err := l.WriteImage(base, "base")
	if err != nil {
		t.Fatal(err)
	}
	two, _ := l.WriteBlob(strings.NewReader("not a real layer"), ocispec.MediaTypeImageLayerGzip)
	committed := written.WithLayer(ocilayout.Layer{Descriptor: two, DiffID: digest.FromString("x")}, ocispec.History{CreatedBy: "commit"})
	if _, err := l.WriteImage(committed, "committed"); err != nil {
		t.Fatal(err)
	}

	got, err := l.Image("committed")
	if err != nil {
		t.Fatal(err)
	}
	layers := got.Layers()
	if len(layers) != 2 || layers[0].Descriptor.Digest != one.Descriptor.Digest || layers[0].DiffID != one.DiffID || layers[1].Descriptor.Digest != two.Digest || layers[1].DiffID != digest.FromString("x") {
		t.Errorf("Layers() = %+v; want the base's layer, then the new one", layers)
	}
	var history []string
	for _, h := range got.Config.History {
		history = append(history, h.CreatedBy)
	}
	if !slices.Equal(history, []string{"base", "commit"}) || !slices.Equal(got.Config.Config.Cmd, []string{"/bin/sh"}) {
		t.Errorf("history %q, cmd %q; want [base commit], [/bin/sh]", history, got.Config.Config.Cmd)
	}
	if b, _ := l.Image("base"); len(b.Layers()) != 1 {
		t.Errorf("the base image has %d layers after a commit on it; want 1, unchanged", len(b.Layers()))
	}
	idx, _ := l.Index()
	if len(idx.Manifests) != 2 {
		t.Errorf("index.json lists %d manifests; want 2", len(idx.Manifests))
	}
	if _, err := l.Image("nope"); err == nil || !strings.Contains(err.Error(), `image "nope" is not in`) {
		t.Errorf("Image(nope) = %v; want an error naming it", err)
	}
}

// TestTagReplacesAndConcurrentTagsKeepEachOther: a name names one manifest;
// writers at once lose none of each other's names (the flock).
func TestTagReplacesAndConcurrentTagsKeepEachOther(t *testing.T) {
	l, err := ocilayout.Create(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a, _ := l.WriteBlob(strings.NewReader("a"), ocispec.MediaTypeImageManifest)
	b, _ := l.WriteBlob(strings.NewReader("b"), ocispec.MediaTypeImageManifest)
	l.Tag("x", a)
	l.Tag("x", b)
	if d, err := l.Resolve("x"); err != nil || d.Digest != b.Digest {
		t.Errorf("Resolve(x) after tagging a then b = %v, %v; want b", d.Digest, err)
	}
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			other, _ := ocilayout.Open(l.Dir())
			if err := other.Tag("t"+string(rune('a'+i)), a); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	idx, _ := l.Index()
	if len(idx.Manifests) != 21 {
		t.Errorf("index.json lists %d manifests after 20 tags at once and x; want 21", len(idx.Manifests))
	}
}

func TestOpenRefusesWhatIsNotALayout(t *testing.T) {
	dir := t.TempDir()
	if _, err := ocilayout.Open(dir); err == nil {
		t.Error("Open of an empty directory = nil error")
	}
	os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"2.0.0"}`), 0o644)
	if _, err := ocilayout.Open(dir); err == nil || !strings.Contains(err.Error(), `version "2.0.0"`) {
		t.Errorf("Open of a layout of another version = %v; want it named", err)
	}
}

var needUmoci = kit.Need{
	Name: "umoci",
	Check: func() error {
		_, err := exec.LookPath("umoci")
		return err
	},
	Fix: "sudo apt-get install umoci",
}

// TestUmociReadsOurImage: another implementation of the format, umoci,
// lists and reads the image we wrote.
func TestUmociReadsOurImage(t *testing.T) {
	kittest.Require(t, needUmoci)
	l, err := ocilayout.Create(filepath.Join(t.TempDir(), "layout"))
	if err != nil {
		t.Fatal(err)
	}
	img := ocilayout.NewImage(ocispec.ImageConfig{Cmd: []string{"/bin/true"}}).WithLayer(gzipLayer(t, l), ocispec.History{CreatedBy: "test"})
	written, err := l.WriteImage(img, "unbox-test")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("umoci", "ls", "--layout", l.Dir()).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "unbox-test" {
		t.Errorf("umoci ls = %q, %v; want unbox-test", out, err)
	}
	out, err = exec.Command("umoci", "stat", "--json", "--image", l.Dir()+":unbox-test").CombinedOutput()
	if err != nil {
		t.Fatalf("umoci stat: %v\n%s", err, out)
	}
	var st struct {
		History []struct {
			Layer     ocispec.Descriptor `json:"layer"`
			CreatedBy string             `json:"created_by"`
		} `json:"history"`
	}
	if err := json.Unmarshal(out, &st); err != nil {
		t.Fatalf("umoci stat: %v\n%s", err, out)
	}
	if len(st.History) != 1 || st.History[0].CreatedBy != "test" || st.History[0].Layer.Digest != written.Manifest.Layers[0].Digest {
		t.Errorf("umoci stat = %s; want one history entry, \"test\", on our layer", out)
	}
}

// TestUpdateIndex: a change made through UpdateIndex lands whole; one
// whose function fails leaves index.json as it was.
func TestUpdateIndex(t *testing.T) {
	l, err := ocilayout.Create(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	desc, err := l.WriteJSON(ocispec.MediaTypeImageManifest, map[string]string{"x": "y"})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Tag("a", desc); err != nil {
		t.Fatal(err)
	}
	err = l.UpdateIndex(func(idx *ocispec.Index) error {
		idx.Manifests = nil
		return os.ErrInvalid
	})
	if idx, _ := l.Index(); err == nil || len(idx.Manifests) != 1 {
		t.Errorf("UpdateIndex with a failing change = %v, index has %d manifests; want the error and the index unchanged", err, len(idx.Manifests))
	}
	err = l.UpdateIndex(func(idx *ocispec.Index) error {
		idx.Manifests = append(idx.Manifests, ocispec.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size})
		return nil
	})
	idx, _ := l.Index()
	if err != nil || len(idx.Manifests) != 2 || idx.Manifests[1].Annotations != nil {
		t.Errorf("UpdateIndex adding an unnamed entry = %v, %+v", err, idx.Manifests)
	}
	img, err := l.ImageOf(idx.Manifests[1], "unnamed")
	if err == nil {
		t.Errorf("ImageOf a manifest that is not one = %+v; want an error", img)
	}
}
