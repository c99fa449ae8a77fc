//go:build linux

package image_test

import (
	"archive/tar"
	"context"
	"os/exec"
	"sync"
	"syscall"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/unboxlab/unbox/capstone/image"
)

// The registry tests push to and pull from registries they start
// themselves (registrytest). They are host-lane tests: the VM lane's
// busybox userland has no registry, podman or skopeo
// (internal/vmtest/exclusions.go).

// put writes img to the registry as ref with go-containerregistry (the
// test's own client, independent of the store's push).
func put(t *testing.T, ref string, img v1.Image) v1.Hash {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatalf("write %s to the test registry: %v", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// putIndex writes a multi-platform index to the registry as ref.
func putIndex(t *testing.T, ref string, idx v1.ImageIndex) v1.Hash {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(r, idx); err != nil {
		t.Fatalf("write index %s to the test registry: %v", ref, err)
	}
	d, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// tarEntry is one entry of a layer a test makes.
type tarEntry struct {
	hdr  tar.Header
	body string
}

func file(name, body string) tarEntry {
	return tarEntry{tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))}, body}
}

// layerOf is an uncompressed layer of the entries, in order.
func layerOf(t *testing.T, entries ...tarEntry) v1.Layer {
	t.Helper()
	return static.NewLayer(archiveOf(t, entries...), types.DockerLayer)
}

// imageOf is an image of the layers, bottom first, for platform p.
func imageOf(t *testing.T, p v1.Platform, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	cf.Config.Cmd = []string{"/bin/sh"}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// events collects a pull's or push's progress events.
type events struct {
	mu  sync.Mutex
	all []image.Event
}

func (e *events) add(ev image.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.all = append(e.all, ev)
}

// count is how many events had status s.
func (e *events) count(s image.Status) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, ev := range e.all {
		if ev.Status == s {
			n++
		}
	}
	return n
}

// remoteOpts are options for the test's config directory (no mirrors, no
// credentials unless the test writes them), events going to ev.
func remoteOpts(t *testing.T, ev *events) image.RemoteOptions {
	o := image.RemoteOptions{ConfigDir: t.TempDir()}
	if ev != nil {
		o.Progress = ev.add
	}
	return o
}

// pullOpts is remoteOpts for a pull.
func pullOpts(t *testing.T, ev *events) image.PullOptions {
	return image.PullOptions{RemoteOptions: remoteOpts(t, ev)}
}

// runIn runs argv in a one-layer image's snapshot as its root (chroot(2)),
// the proof that the unpacked image runs; its combined output.
func runIn(t *testing.T, s *image.Store, img image.Image, argv ...string) string {
	t.Helper()
	dirs, err := s.Snapshots(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) != 1 {
		t.Fatalf("image %s has %d layers; runIn runs one-layer images", img.ShortID(), len(dirs))
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: dirs[0]}
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/bin:/usr/bin:/sbin:/usr/sbin"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v in image %s: %v\n%s", argv, img.ShortID(), err, out)
	}
	return string(out)
}
