//go:build linux

package main

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/overlay"
	"github.com/unboxlab/unbox/internal/rootfs"
)

// An image layer is a directory holding what one build step changed: files
// it added or changed (whole files, however small the change), and markers
// for what it deleted. The markers here are in the form an overlay
// snapshotter (containerd's, Docker's overlay2) leaves when it extracts an
// OCI layer tar for overlayfs to use as a lower layer:
//
//   - a deleted file or directory is a character device 0/0 of that name
//     (the tar had an empty file ".wh.<name>");
//   - a directory whose old contents are all gone ("rm -rf d && mkdir d")
//     is a directory with the xattr trusted.overlay.opaque="y" (the tar had
//     "d/.wh..wh..opq").
//
// Layer 3 is written in that form directly, with mknod(2) and setxattr(2),
// rather than produced by running a container and keeping its upper dir:
// that way step 1 shows the on-disk format by hand, and steps 4 and 5 show
// the kernel producing exactly the same format by itself, which is the
// point. (docker build does the second: each RUN's upper dir becomes a layer.)

// change is one entry to write into a layer directory: a file, or a marker
// in disk form.
type change struct {
	Path    string         // relative, slash-separated: "etc/motd"
	Content string         // a file's, when Marker is NoMarker
	Marker  overlay.Marker // Whiteout, or Opaque for a directory
}

// imageLayer is one built layer of the image.
type imageLayer struct {
	Name string // directory name under layers/, e.g. "2-app"
	Dir  string
}

const (
	appUser      = "app:x:1000:1000:app:/srv/www:/bin/sh\n"
	buildTmpSize = 64 << 10
)

// appLayer is layer 2: a user added to the base's /etc/passwd (so the layer
// holds a whole new copy of that file), a config file, a message of the
// day, a small web site and a build cache.
func appLayer(basePasswd []byte) []change {
	return []change{
		{Path: "etc/passwd", Content: string(basePasswd) + appUser},
		{Path: "etc/motd", Content: "Welcome to unbox.\n"},
		{Path: "etc/app.conf", Content: "debug=false\n"},
		{Path: "srv/www/index.html", Content: "<h1>hello</h1>\n"},
		{Path: "srv/www/about.html", Content: "<p>about us</p>\n"},
		{Path: "srv/www/assets/logo.svg", Content: "<svg/>\n"},
		{Path: "var/cache/app/build.tmp", Content: strings.Repeat("build leftovers\n", buildTmpSize/16)},
	}
}

// cleanupLayer is layer 3: "RUN rm /etc/motd && rm -rf /var/cache/app &&
// mkdir /var/cache/app", as an extracted layer has it on disk.
func cleanupLayer() []change {
	return []change{
		{Path: "etc/motd", Marker: overlay.Whiteout},
		{Path: "var/cache/app", Marker: overlay.Opaque},
	}
}

// dockerfile is the build the three layers stand for.
const dockerfile = `FROM scratch
COPY rootfs/ /
RUN echo 'app:x:1000:1000:app:/srv/www:/bin/sh' >> /etc/passwd \
 && echo 'Welcome to unbox.' > /etc/motd && echo debug=false > /etc/app.conf \
 && mkdir -p /srv/www/assets /var/cache/app \
 && echo '<h1>hello</h1>' > /srv/www/index.html \
 && echo '<p>about us</p>' > /srv/www/about.html \
 && echo '<svg/>' > /srv/www/assets/logo.svg \
 && make-cache > /var/cache/app/build.tmp
RUN rm /etc/motd && rm -rf /var/cache/app && mkdir /var/cache/app`

// writeChanges writes changes into dir, creating parent directories. The
// markers are written by overlay.WriteMarker: mknod(2) of a 0/0 device for
// a whiteout, setxattr(2) of trusted.overlay.opaque for an opaque
// directory, exactly as an image store writes them when it unpacks a layer.
func writeChanges(dir string, changes []change) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	for _, c := range changes {
		if c.Marker != overlay.NoMarker {
			if err := overlay.WriteMarker(root, c.Path, c.Marker); err != nil {
				return err
			}
			continue
		}
		if err := root.MkdirAll(path.Dir(c.Path), 0o755); err != nil {
			return err
		}
		if err := root.WriteFile(c.Path, []byte(c.Content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// markerCommands are the shell commands for what writeChanges does with the
// markers among changes in dir: overlay.WriteMarker makes the parent
// directories (and an opaque directory itself), then each marker as
// Marker.Command spells it.
func markerCommands(dir string, changes []change) []string {
	var dirs, cmds []string
	for _, c := range changes {
		switch c.Marker {
		case overlay.Whiteout:
			dirs = append(dirs, path.Join(dir, path.Dir(c.Path)))
		case overlay.Opaque:
			dirs = append(dirs, path.Join(dir, c.Path))
		default:
			continue
		}
		cmds = append(cmds, c.Marker.Command(path.Join(dir, c.Path)))
	}
	return append([]string{"mkdir -p " + strings.Join(dirs, " ")}, cmds...)
}

// buildImage makes the three image layers under <root>/layers: the base (a
// private copy of the minimal root filesystem), then layers 2 and 3.
func (l *lab) buildImage(ctx context.Context) error {
	if err := os.MkdirAll(l.path("layers"), 0o755); err != nil {
		return err
	}
	base := imageLayer{Name: "1-base", Dir: l.path("layers", "1-base")}
	if _, err := rootfs.Build(ctx, base.Dir, rootfs.Options{}); err != nil {
		return fmt.Errorf("layer 1: %w", err)
	}
	passwd, err := os.ReadFile(filepath.Join(base.Dir, "etc", "passwd"))
	if err != nil {
		return fmt.Errorf("layer 2 copies the base's /etc/passwd: %w", err)
	}
	app := imageLayer{Name: "2-app", Dir: l.path("layers", "2-app")}
	if err := writeChanges(app.Dir, appLayer(passwd)); err != nil {
		return fmt.Errorf("layer 2: %w", err)
	}
	cleanup := imageLayer{Name: "3-cleanup", Dir: l.path("layers", "3-cleanup")}
	if err := writeChanges(cleanup.Dir, cleanupLayer()); err != nil {
		return fmt.Errorf("layer 3: %w", err)
	}
	// Image layers are read-only from here on; overlayfs never writes to a
	// lower layer, and the tests prove it.
	l.Layers = []imageLayer{base, app, cleanup}
	return nil
}

// lowerDirs are the image's layer directories top first, as lowerdir=
// wants them.
func (l *lab) lowerDirs() []string {
	dirs := make([]string, len(l.Layers))
	for i, layer := range l.Layers {
		dirs[len(l.Layers)-1-i] = layer.Dir
	}
	return dirs
}

func (l *lab) stepLayers(s *kit.Session) error {
	if err := l.buildImage(s.Ctx); err != nil {
		return err
	}
	s.Cmd("cat Dockerfile    # the build these three layers stand for")
	s.Show("%s", dockerfile)

	s.Cmd("cp -a <a minimal root filesystem> layers/1-base    # static busybox, or the host's own tools\n"+
		"mkdir -p layers/2-app/etc ...    # what the RUN wrote; /etc/passwd is a whole new copy\n%s",
		strings.Join(markerCommands(l.rel(l.Layers[2].Dir), cleanupLayer()), "\n"))

	var rows [][]string
	files, bytes, err := usage(l.Layers[0].Dir)
	if err != nil {
		return err
	}
	rows = append(rows, []string{l.Layers[0].Name, s.T("(a root filesystem)"), s.T("%d files, %s", files, sizeOf(s, bytes)), ""})
	for _, layer := range l.Layers[1:] {
		entries, err := readLayer(layer.Dir)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if e.Type == typeDir && e.Marker != overlay.Opaque {
				continue // implied by the paths below it
			}
			rows = append(rows, []string{layer.Name, e.name(), e.describe(s), e.TarNames[0]})
			for _, n := range e.TarNames[1:] {
				rows = append(rows, []string{"", "", "", n})
			}
		}
	}
	s.Cmd("find layers/2-app layers/3-cleanup ! -type d\n" +
		"getfattr -n trusted.overlay.opaque layers/3-cleanup/var/cache/app")
	s.Table([]string{"layer", "path", "on disk", "in the layer's tar"}, rows)
	s.Note("A layer is a directory of changes, not a file system: 2-app holds seven files, 3-cleanup only\n" +
		"two markers. Deleting in a later layer hides a file but does not shrink the image: build.tmp's\n" +
		"64 KiB are still in 2-app. The last column is how an image tar spells the markers (OCI\n" +
		"image-spec, \"whiteouts\"); an overlay snapshotter turns them into the device and the xattr\n" +
		"when it unpacks.")
	return nil
}
