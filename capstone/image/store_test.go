//go:build linux

package image_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/capstone/image"
	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/kit/kittest"
	"github.com/unboxlab/unbox/internal/overlay"
)

func TestMain(m *testing.M) { kittest.Main(m, nil) }

func open(t *testing.T) *image.Store {
	t.Helper()
	s, err := image.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func noUsers(digest.Digest) []string { return nil }

// tarOf is a layer tar of the given files (name -> content; a name
// ending in / is a directory).
func tarOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, content := range files {
		hdr := &tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg}
		if strings.HasSuffix(name, "/") {
			hdr = &tar.Header{Name: name, Mode: 0o755, Typeflag: tar.TypeDir}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(content))
	}
	tw.Close()
	return buf.Bytes()
}

// TestPrivBuiltinImage: the built-in image is made on first use, once,
// the same bytes in two stores (a reproducible ID), and its one layer
// unpacks into a snapshot that holds the fixture's shell.
func TestPrivBuiltinImage(t *testing.T) {
	kittest.Privileged(t, kit.NeedRoot)
	ctx := context.Background()
	s := open(t)
	if _, err := s.Resolve("unbox/busybox"); !errors.Is(err, image.ErrNotFound) {
		t.Fatalf("Resolve before first use: %v; want ErrNotFound", err)
	}
	// Several commands at once make it once.
	var wg sync.WaitGroup
	ids := make([]digest.Digest, 4)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			img, err := s.Get(ctx, "unbox/busybox")
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = img.ID
		}()
	}
	wg.Wait()
	for _, id := range ids[1:] {
		if id != ids[0] {
			t.Fatalf("concurrent Get gave IDs %v; want one", ids)
		}
	}
	imgs, _ := s.List()
	if len(imgs) != 1 || strings.Join(imgs[0].Names, ",") != image.Builtin {
		t.Fatalf("List = %+v; want the built-in image alone", imgs)
	}
	other, err := open(t).Get(ctx, image.Builtin)
	if err != nil {
		t.Fatal(err)
	}
	if other.ID != ids[0] {
		t.Errorf("the built-in image's ID differs between two stores (%s, %s); want a reproducible image", other.ID, ids[0])
	}

	img := imgs[0]
	for _, ref := range []string{"unbox/busybox:latest", img.ShortID(), img.ID.Encoded()[:5], string(img.ID), "sha256:" + img.ShortID(),
		"unbox/busybox@" + string(img.Descriptor.Digest)} {
		got, err := s.Resolve(ref)
		if err != nil || got.ID != img.ID {
			t.Errorf("Resolve(%q) = %s, %v; want %s", ref, got.ShortID(), err, img.ShortID())
		}
	}
	dirs, err := s.Snapshots(ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) != 1 {
		t.Fatalf("Snapshots = %v; want one directory", dirs)
	}
	if fi, err := os.Stat(filepath.Join(dirs[0], "bin", "sh")); err != nil || fi.Mode()&0o111 == 0 {
		t.Errorf("snapshot has no executable bin/sh: %v", err)
	}
	var before, after unix.Stat_t
	unix.Stat(dirs[0], &before)
	if _, err := s.Snapshots(ctx, img); err != nil {
		t.Fatal(err)
	}
	unix.Stat(dirs[0], &after)
	if before.Ino != after.Ino {
		t.Error("a second Snapshots unpacked the layer again; want it unpacked once")
	}
}

// TestPrivTagRemovePrune: Docker's rules for names and removal, and that
// removal takes the blobs and snapshots only the removed image held.
func TestPrivTagRemovePrune(t *testing.T) {
	kittest.Privileged(t, kit.NeedRoot)
	ctx := context.Background()
	s := open(t)
	base, err := s.Import(bytes.NewReader(tarOf(t, map[string]string{"etc/": "", "etc/motd": "base\n"})), image.ImportOptions{Ref: "base:1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Snapshots(ctx, base); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Tag("base:1", "base:2"); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Resolve("base:2")
	if strings.Join(got.Names, " ") != "base:1 base:2" {
		t.Errorf("names after tag = %v; want [base:1 base:2]", got.Names)
	}
	if _, err := s.Remove(base.ShortID(), false, noUsers); err == nil || !strings.Contains(err.Error(), "referenced in multiple repositories") {
		t.Errorf("rmi by ID of an image with two names: %v; want a conflict", err)
	}
	rm, err := s.Remove("base:2", false, noUsers)
	if err != nil || len(rm) != 1 || rm[0].String() != "Untagged: base:2" {
		t.Errorf("rmi base:2 = %v, %v; want Untagged: base:2 alone", rm, err)
	}
	user := func(id digest.Digest) []string {
		if id == base.ID {
			return []string{"web"}
		}
		return nil
	}
	if _, err := s.Remove("base:1", false, user); err == nil || !strings.Contains(err.Error(), "container web is using") {
		t.Errorf("rmi of an image a container uses: %v; want a conflict naming it", err)
	}

	// A second image with the same name: the first keeps no name.
	next, err := s.Import(bytes.NewReader(tarOf(t, map[string]string{"srv/": ""})), image.ImportOptions{Ref: "base:1"})
	if err != nil {
		t.Fatal(err)
	}
	dangling, err := s.Resolve(base.ShortID())
	if err != nil || len(dangling.Names) != 0 {
		t.Errorf("the image base:1 named before: %+v, %v; want it kept without a name", dangling.Names, err)
	}
	rm, freed, err := s.Prune(false, noUsers)
	if err != nil || len(rm) != 1 || rm[0].Deleted != base.ID || freed == 0 {
		t.Fatalf("prune = %v, %d bytes, %v; want %s deleted and bytes freed", rm, freed, err, base.ShortID())
	}
	if _, err := os.Stat(s.SnapshotDir(base.Config.RootFS.DiffIDs[0])); !os.IsNotExist(err) {
		t.Errorf("the pruned image's snapshot is still there (%v)", err)
	}
	p, _ := s.Layout().BlobPath(base.Manifest.Layers[0].Digest)
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Errorf("the pruned image's layer blob is still there (%v)", err)
	}
	rm, err = s.Remove("base", false, noUsers)
	if err == nil {
		t.Errorf("rmi base (base:latest, which does not exist) = %v; want an error", rm)
	}
	rm, err = s.Remove("base:1", false, noUsers)
	if err != nil || len(rm) != 2 || rm[1].Deleted != next.ID {
		t.Errorf("rmi base:1 = %v, %v; want untagged and deleted", rm, err)
	}
	if imgs, _ := s.List(); len(imgs) != 0 {
		t.Errorf("images left: %v", imgs)
	}
}

// TestPrivCommitAndImport: a commit adds the upper dir's changes as a
// layer, whiteouts included, which unpacks back to the same markers; an
// import of something that is not a tar names nothing.
func TestPrivCommitAndImport(t *testing.T) {
	kittest.Privileged(t, kit.NeedRoot)
	ctx := context.Background()
	s := open(t)
	base, err := s.Import(bytes.NewReader(tarOf(t, map[string]string{"etc/": "", "etc/motd": "hi\n", "etc/gone": "x"})),
		image.ImportOptions{Ref: "base", Config: ocispec.ImageConfig{Cmd: []string{"sh"}}})
	if err != nil {
		t.Fatal(err)
	}
	upper := t.TempDir()
	os.MkdirAll(filepath.Join(upper, "etc"), 0o755)
	os.WriteFile(filepath.Join(upper, "etc", "motd"), []byte("changed\n"), 0o644)
	os.WriteFile(filepath.Join(upper, "etc", "hostname"), []byte("box\n"), 0o644)
	if err := unix.Mknod(filepath.Join(upper, "etc", "gone"), unix.S_IFCHR, 0); err != nil {
		t.Fatal(err)
	}
	img, err := s.Commit(base, upper, image.CommitOptions{Ref: "app:v1", Comment: "test", Exclude: []string{"/etc/hostname"},
		Config: &ocispec.ImageConfig{Cmd: []string{"echo", "hi"}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(img.Manifest.Layers) != 2 || strings.Join(img.Config.Config.Cmd, " ") != "echo hi" {
		t.Fatalf("commit: %d layers, cmd %v; want 2 layers, echo hi", len(img.Manifest.Layers), img.Config.Config.Cmd)
	}
	if h := img.History(); len(h) != 2 || h[0].Comment != "test" || !h[0].Layer {
		t.Errorf("history = %+v; want the commit first, with its comment", h)
	}
	dirs, err := s.Snapshots(ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dirs[0], "etc", "motd")); string(b) != "changed\n" {
		t.Errorf("top layer etc/motd = %q; want changed", b)
	}
	if m, err := overlay.ReadMarker(filepath.Join(dirs[0], "etc", "gone")); err != nil || m != overlay.Whiteout {
		t.Errorf("top layer etc/gone: %v, %v; want a whiteout", m, err)
	}
	if _, err := os.Lstat(filepath.Join(dirs[0], "etc", "hostname")); !os.IsNotExist(err) {
		t.Errorf("an excluded init file is in the layer (%v)", err)
	}

	if _, err := s.Import(strings.NewReader("not a tar at all, but long enough to be read as a header block"+strings.Repeat("x", 600)),
		image.ImportOptions{Ref: "junk"}); err == nil {
		t.Error("import of junk succeeded")
	}
	if _, err := s.Resolve("junk"); !errors.Is(err, image.ErrNotFound) {
		t.Errorf("a failed import named an image: %v", err)
	}
}
