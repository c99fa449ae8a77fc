//go:build linux

package layer_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/unboxlab/unbox/internal/rootfs"
	"github.com/unboxlab/unbox/internal/rootfs/layer"
)

// TestTarIsAReproducibleLayer: the tar stream is what an image layer holds
// (relative names, root-owned, epoch times), has every file of the tree
// that Build copies, and is the same bytes twice.
func TestTarIsAReproducibleLayer(t *testing.T) {
	cache := t.TempDir()
	opts := rootfs.Options{CacheDir: cache}
	var first, second bytes.Buffer
	source, err := layer.Tar(context.Background(), &first, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := layer.Tar(context.Background(), &second, opts); err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(first.Bytes()) != sha256.Sum256(second.Bytes()) {
		t.Error("two tars of the same root filesystem differ; want the same bytes (the same layer digest)")
	}

	var names []string
	tr := tar.NewReader(&first)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(hdr.Name, "/") || strings.HasPrefix(hdr.Name, "./") || strings.Contains(hdr.Name, "..") {
			t.Errorf("tar entry %q; want a plain relative name", hdr.Name)
		}
		if hdr.Uid != 0 || hdr.Gid != 0 || !hdr.ModTime.Equal(time.Unix(0, 0)) {
			t.Errorf("tar entry %s: uid %d gid %d mtime %v; want root-owned at the epoch", hdr.Name, hdr.Uid, hdr.Gid, hdr.ModTime)
		}
		if (hdr.Typeflag == tar.TypeDir) != strings.HasSuffix(hdr.Name, "/") {
			t.Errorf("tar entry %s (type %c): a directory's name ends in / and only a directory's", hdr.Name, hdr.Typeflag)
		}
		names = append(names, strings.TrimSuffix(hdr.Name, "/"))
	}
	if !slices.IsSorted(names) {
		t.Errorf("tar entries are not in lexical order: %v", names)
	}

	dst := filepath.Join(t.TempDir(), "rootfs")
	info, err := rootfs.Build(context.Background(), dst, opts)
	if err != nil {
		t.Fatal(err)
	}
	if info.Source != source {
		t.Errorf("Build took %q, Tar %q; want the same source", info.Source, source)
	}
	var tree []string
	filepath.WalkDir(dst, func(p string, d os.DirEntry, err error) error {
		if p != dst {
			rel, _ := filepath.Rel(dst, p)
			tree = append(tree, rel)
		}
		return err
	})
	if !slices.Equal(names, tree) {
		t.Errorf("tar entries %v; want the tree Build makes, %v", names, tree)
	}
	for _, want := range []string{"bin/sh", "etc/passwd", "tmp"} {
		if !slices.Contains(names, want) {
			t.Errorf("tar lacks %s", want)
		}
	}
}
