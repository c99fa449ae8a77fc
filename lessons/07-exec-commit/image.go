//go:build linux

package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/unboxlab/unbox/internal/layer"
	"github.com/unboxlab/unbox/internal/ocilayout"
	"github.com/unboxlab/unbox/internal/rootfs"
	rootfslayer "github.com/unboxlab/unbox/internal/rootfs/layer"
)

// The base image is what a two-line Dockerfile would make:
//
//	FROM <the root filesystem fixture: busybox, or the host's tools>
//	COPY app/ /
//
// Layer 1 is the fixture as internal/rootfs/layer writes it; layer 2 is the
// app's files, written as a directory and committed with internal/layer,
// the code that commits a container in step 8.

// Image names in the lesson's layout (index.json's ref.name annotations).
const (
	baseImage      = "base"
	committedImage = "committed"
)

// appFiles are layer 2: the files step 7 changes, deletes and replaces.
var appFiles = []struct {
	Path, Content string
}{
	{"etc/app.conf", "greeting=hello\n"},
	{"etc/motd", "Welcome to the unbox07 image.\n"},
	{"srv/www/index.html", "<h1>hello</h1>\n"},
	{"srv/www/about.html", "<p>about us</p>\n"},
	{"var/cache/app/page-1", "cached\n"},
	{"var/cache/app/page-2", "cached\n"},
}

// imageConfig is what runs in a container of the image: a PID 1 that
// sleeps, and the environment and directory an exec'd process gets too.
var imageConfig = ocispec.ImageConfig{
	Cmd:        []string{"sleep", "86400"},
	Env:        []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "GREETING=hello from the image"},
	WorkingDir: "/srv/www",
}

// buildBase writes the base image into the lab's layout.
func (l *lab) buildBase(ctx context.Context) (ocilayout.Image, rootfs.Source, error) {
	img := ocilayout.NewImage(imageConfig)
	var source rootfs.Source
	fixture, err := layer.Store(l.Layout, func(w io.Writer) error {
		var err error
		source, err = rootfslayer.Tar(ctx, w, rootfs.Options{})
		return err
	})
	if err != nil {
		return img, "", fmt.Errorf("layer 1, the root filesystem: %w", err)
	}
	img = img.WithLayer(fixture, ocispec.History{CreatedBy: "FROM the root filesystem fixture (" + string(source) + ")"})

	app := l.path("build", "app")
	for _, f := range appFiles {
		p := filepath.Join(app, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return img, "", err
		}
		if err := os.WriteFile(p, []byte(f.Content), 0o644); err != nil {
			return img, "", err
		}
	}
	appLayer, err := layer.Store(l.Layout, func(w io.Writer) error {
		return layer.WriteDiff(w, app, layer.DiffOptions{})
	})
	if err != nil {
		return img, "", fmt.Errorf("layer 2, the app: %w", err)
	}
	img = img.WithLayer(appLayer, ocispec.History{CreatedBy: "COPY app/ /"})
	img, err = l.Layout.WriteImage(img, baseImage)
	return img, source, err
}

// snapshot is one layer of an image unpacked on disk.
type snapshot struct {
	Layer    ocilayout.Layer
	Dir      string
	Unpacked bool // false: it was there already, from another image
}

// unpack makes sure every layer of img is unpacked under snapshots/, named
// by its diff ID, and returns them bottom first. A layer another image
// shares is unpacked once (layer.Unpack skips a snapshot that exists).
func (l *lab) unpack(img ocilayout.Image) ([]snapshot, error) {
	if err := os.MkdirAll(l.path("snapshots"), 0o755); err != nil {
		return nil, err
	}
	var out []snapshot
	for _, ly := range img.Layers() {
		dir := l.path("snapshots", ly.DiffID.Encoded()[:12])
		// The lesson is root: owners come from the tar; devices are
		// refused, as for any image that is not trusted.
		unpacked, err := layer.Unpack(l.Layout, ly, dir, layer.ExtractOptions{})
		if err != nil {
			return nil, err
		}
		out = append(out, snapshot{Layer: ly, Dir: dir, Unpacked: unpacked})
	}
	return out, nil
}

// lowerDirs are the snapshots top first, as lowerdir= takes them.
func lowerDirs(snaps []snapshot) []string {
	var dirs []string
	for _, s := range snaps {
		dirs = append(dirs, s.Dir)
	}
	slices.Reverse(dirs)
	return dirs
}

// short is a digest as `docker images` shows it: 12 hex digits.
func short(d fmt.Stringer) string {
	s := d.String()
	if i := len("sha256:"); len(s) > i+12 {
		return s[i : i+12]
	}
	return s
}
