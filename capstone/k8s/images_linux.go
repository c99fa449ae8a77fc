package k8s

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/unboxlab/unbox/internal/ocilayout"
	"github.com/unboxlab/unbox/internal/rootfs"
	"github.com/unboxlab/unbox/internal/rootfs/layer"
)

// Image is an image to import into containerd: its names and what it runs.
// Every image here is the root filesystem fixture (static busybox) as its
// first layer, so that a node needs nothing from a registry: the same
// layer, stored once, under each name; an image with Files has them in a
// second layer.
type Image struct {
	// Names are full references: "localhost/unbox/pause:1".
	Names []string
	// Entrypoint and Cmd are the image config's.
	Entrypoint, Cmd []string
	// User is the image config's user, if any.
	User string
	// Files are added on top of the fixture.
	Files []File
}

// File is a regular file of an image's second layer, owned by root.
type File struct {
	Name string // relative: "usr/sbin/nginx"
	Mode int64  // with the set-user-ID bit if need be
	Data []byte
}

// PauseImage is the pod sandbox's image (the CRI's sandbox_image):
// busybox's sleep, as long as sleep(1) can. Kubernetes' pause program also
// reaps zombies when it is PID 1 of a pod sharing one PID namespace; sleep
// does not, which only matters to pods with shareProcessNamespace. It runs
// as /bin/busybox, not through the sleep link, so that its command name is
// busybox, not sleep: in a pod sharing one PID namespace, a container's
// `pgrep sleep` must find its own sleep, not the pod's PID 1 (critest's
// execSync timeout spec does that, with the real pause's name "pause").
var PauseImage = Image{Names: []string{"localhost/unbox/pause:1"}, Entrypoint: []string{"/bin/busybox", "sleep", "2147483647"}}

// BusyboxImage is the workload image of the crictl scenario.
var BusyboxImage = Image{Names: []string{"localhost/unbox/busybox:1"}, Cmd: []string{"sh"}}

// WriteArchive writes the images as one OCI image archive (image-spec's
// image layout, tarred), which `ctr images import` reads, to path. dir is a
// scratch directory for the layout.
func WriteArchive(ctx context.Context, path, dir string, images ...Image) error {
	l, err := ocilayout.Create(dir)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if _, err := layer.Tar(ctx, &buf, rootfs.Options{}); err != nil {
		return err
	}
	base, err := hardLinks(buf.Bytes())
	if err != nil {
		return err
	}
	ld, err := l.WriteBlob(bytes.NewReader(base), ocispec.MediaTypeImageLayer)
	if err != nil {
		return err
	}
	for _, im := range images {
		img := ocilayout.NewImage(ocispec.ImageConfig{
			Entrypoint: im.Entrypoint, Cmd: im.Cmd, User: im.User,
			Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		}).WithLayer(ocilayout.Layer{Descriptor: ld, DiffID: ld.Digest}, ocispec.History{CreatedBy: "unbox: the root filesystem fixture"})
		if len(im.Files) > 0 {
			top, err := filesLayer(im.Files)
			if err != nil {
				return err
			}
			td, err := l.WriteBlob(bytes.NewReader(top), ocispec.MediaTypeImageLayer)
			if err != nil {
				return err
			}
			img = img.WithLayer(ocilayout.Layer{Descriptor: td, DiffID: td.Digest}, ocispec.History{CreatedBy: "unbox: stand-ins for a test"})
		}
		for _, name := range im.Names {
			written, err := l.WriteImage(img, name)
			if err != nil {
				return err
			}
			// containerd's importer takes the full name from its own
			// annotation (org.opencontainers.image.ref.name alone would
			// be read as a tag, under a made-up repository).
			d := written.Descriptor
			d.Annotations = map[string]string{"io.containerd.image.name": name}
			if err := l.Tag(name, d); err != nil {
				return err
			}
		}
	}
	return tarDir(path, dir)
}

// hardLinks rewrites the fixture's layer so that busybox's applets are
// hard links to it, as in the busybox images of the registries (the
// fixture has symbolic links, which a bind mount over one of them, such as
// a masked path, would follow onto busybox itself). The links come last,
// after the file they name.
func hardLinks(layerTar []byte) ([]byte, error) {
	tr := tar.NewReader(bytes.NewReader(layerTar))
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	var links []*tar.Header
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if h.Typeflag == tar.TypeSymlink && h.Linkname == "busybox" && filepath.Dir(h.Name) == "bin" {
			h.Typeflag, h.Linkname = tar.TypeLink, "bin/busybox"
			links = append(links, h)
			continue
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return nil, err
		}
	}
	for _, h := range links {
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// filesLayer is a layer of files, with their directories.
func filesLayer(files []File) ([]byte, error) {
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	dirs := map[string]bool{}
	for _, f := range files {
		var parents []string
		for d := filepath.Dir(f.Name); d != "." && !dirs[d]; d = filepath.Dir(d) {
			parents = append([]string{d}, parents...)
			dirs[d] = true
		}
		for _, d := range parents {
			if err := tw.WriteHeader(&tar.Header{Name: d + "/", Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
				return nil, err
			}
		}
		if err := tw.WriteHeader(&tar.Header{Name: f.Name, Typeflag: tar.TypeReg, Mode: f.Mode, Size: int64(len(f.Data))}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.Data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// tarDir writes the files under dir to a tar archive at path, names
// relative to dir.
func tarDir(path, dir string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		h, err := tar.FileInfoHeader(fi, "")
		if err != nil {
			return err
		}
		h.Name, _ = filepath.Rel(dir, p)
		if d.IsDir() {
			h.Name += "/"
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		src, err := os.Open(p)
		if err != nil {
			return err
		}
		defer src.Close()
		_, err = io.Copy(tw, src)
		return err
	})
	if err == nil {
		err = tw.Close()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write image archive %s: %w", path, err)
	}
	return nil
}
