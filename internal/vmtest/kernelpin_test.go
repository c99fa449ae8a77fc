package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fakeArchive stands in for apt-get download: it serves content as the
// pinned package's .deb, or fails, and counts the downloads.
func fakeArchive(t *testing.T, p debPin, content string, fail error) *int {
	t.Helper()
	n := 0
	orig := aptGetDownload
	t.Cleanup(func() { aptGetDownload = orig })
	aptGetDownload = func(_ context.Context, dir, spec string) error {
		n++
		if spec != p.Package+"="+p.Version {
			t.Errorf("apt-get download %s; want %s=%s", spec, p.Package, p.Version)
		}
		if fail != nil {
			return fail
		}
		return os.WriteFile(filepath.Join(dir, p.fileName()), []byte(content), 0o644)
	}
	return &n
}

func sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func TestFetchPinned(t *testing.T) {
	ctx := context.Background()
	logf := func(string, ...any) {}
	pin := debPin{Package: "linux-image-9.9.9-1-amd64", Version: "1:9.9.9-1", SHA256: sum("the kernel")}
	if got, want := pin.fileName(), "linux-image-9.9.9-1-amd64_1%3a9.9.9-1_amd64.deb"; got != want {
		t.Errorf("fileName() = %q; want %q (apt writes an epoch's colon as %%3a)", got, want)
	}
	cache := t.TempDir()
	debs := filepath.Join(cache, "debs")
	if err := os.MkdirAll(debs, 0o755); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(debs, "linux-image-old_1_amd64.deb") // an earlier pin's
	if err := os.WriteFile(stale, nil, 0o644); err != nil {
		t.Fatal(err)
	}

	downloads := fakeArchive(t, pin, "the kernel", nil)
	paths, err := fetchPinned(ctx, cache, []debPin{pin}, logf)
	want := []string{filepath.Join(debs, pin.fileName())}
	if err != nil || !slices.Equal(paths, want) || *downloads != 1 {
		t.Fatalf("fetchPinned (empty cache) = %v, %v after %d downloads; want %v after 1", paths, err, *downloads, want)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("an earlier pin's .deb is still in the cache (%v)", err)
	}
	if _, err := fetchPinned(ctx, cache, []debPin{pin}, logf); err != nil || *downloads != 1 {
		t.Errorf("fetchPinned (cached) = %v after %d downloads; want the cached file, no download", err, *downloads)
	}

	// A cached file that is not the pinned one is fetched again.
	if err := os.WriteFile(want[0], []byte("bit rot"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := fetchPinned(ctx, cache, []debPin{pin}, logf); err != nil || *downloads != 2 {
		t.Errorf("fetchPinned (corrupt cache) = %v after %d downloads; want a second download", err, *downloads)
	}
	if err := checkSHA256(want[0], pin.SHA256); err != nil {
		t.Errorf("after fetching again: %v", err)
	}
}

func TestFetchPinnedRefusesAnotherFile(t *testing.T) {
	pin := debPin{Package: "linux-image-9.9.9-1-amd64", Version: "9.9.9-1", SHA256: sum("the kernel")}
	cache := t.TempDir()
	fakeArchive(t, pin, "a rebuilt kernel", nil)
	_, err := fetchPinned(context.Background(), cache, []debPin{pin}, func(string, ...any) {})
	if err == nil {
		t.Fatal("fetchPinned accepted a .deb whose SHA-256 is not the pinned one")
	}
	for _, w := range []string{"refusing", sum("a rebuilt kernel"), pin.SHA256, "-bump-kernel"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("fetchPinned error = %q; want it to say %q", err, w)
		}
	}
	if _, err := os.Stat(filepath.Join(cache, "debs", pin.fileName())); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the refused file is in the cache (%v)", err)
	}
}

func TestFetchPinnedSaysHowToBump(t *testing.T) {
	pin := debPin{Package: "linux-image-9.9.9-1-amd64", Version: "9.9.9-1", SHA256: sum("the kernel")}
	fakeArchive(t, pin, "", errors.New("apt-get download: E: Version '9.9.9-1' was not found"))
	_, err := fetchPinned(context.Background(), t.TempDir(), []debPin{pin}, func(string, ...any) {})
	if err == nil || !strings.Contains(err.Error(), "was not found") || !strings.Contains(err.Error(), "kernelpin.go") ||
		!strings.Contains(err.Error(), "-bump-kernel") {
		t.Errorf("fetchPinned with the version gone from apt = %v; want apt's words and how to bump the pin", err)
	}
}

// TestKernelPinIsWellFormed keeps the one real pin readable by the code
// that uses it.
func TestKernelPinIsWellFormed(t *testing.T) {
	if len(kernelPin) == 0 {
		t.Fatal("kernelPin is empty")
	}
	for _, p := range kernelPin {
		if !strings.HasPrefix(p.Package, "linux-") || p.Version == "" || len(p.SHA256) != 64 || strings.ToLower(p.SHA256) != p.SHA256 {
			t.Errorf("kernelPin entry %+v: want a linux-* package, a version and a lowercase SHA-256", p)
		}
	}
}

func TestParseKernelDepends(t *testing.T) {
	show := "Package: linux-image-amd64\nVersion: 6.1.192-3\nDepends: linux-image-6.1.0-57-amd64 (= 6.1.192-3)\n"
	pkg, ver, err := parseKernelDepends(show)
	if err != nil || pkg != "linux-image-6.1.0-57-amd64" || ver != "6.1.192-3" {
		t.Errorf("parseKernelDepends = %q, %q, %v; want linux-image-6.1.0-57-amd64, 6.1.192-3", pkg, ver, err)
	}
	if _, _, err := parseKernelDepends("Package: linux-image-amd64\nDepends: kmod\n"); err == nil {
		t.Error("parseKernelDepends without a linux-image dependency: no error")
	}
	stanza := "Package: linux-image-6.1.0-57-amd64\nSize: 70591024\nSHA256: " + sum("k") + "\nSHA512: 00\n"
	if got, err := parseSHA256Field(stanza); err != nil || got != sum("k") {
		t.Errorf("parseSHA256Field = %q, %v; want %s", got, err, sum("k"))
	}
	if _, err := parseSHA256Field("Package: x\nMD5sum: 00\n"); err == nil {
		t.Error("parseSHA256Field without the field: no error")
	}
}
