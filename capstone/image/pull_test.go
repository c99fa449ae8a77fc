//go:build linux

package image_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	digest "github.com/opencontainers/go-digest"

	"github.com/unboxlab/unbox/capstone/image"
	"github.com/unboxlab/unbox/capstone/image/registrytest"
	"github.com/unboxlab/unbox/internal/kit/kittest"
)

// TestPrivPushPullTagDigest: the built-in image goes to a registry under a
// new name and comes back into another store with the same ID and
// manifest digest; a second push and pull skip what is there and say so;
// a retag pushes no layer; a pull by digest gets an image without a name
// that answers to its digest; and the pulled image runs.
func TestPrivPushPullTagDigest(t *testing.T) {
	kittest.Privileged(t)
	ctx := context.Background()
	reg := registrytest.Start(t, registrytest.Options{})
	src := open(t)
	built, err := src.Get(ctx, image.Builtin)
	if err != nil {
		t.Fatal(err)
	}
	name := reg.Host + "/unbox/bb:1"
	if _, err := src.Tag(image.Builtin, name); err != nil {
		t.Fatal(err)
	}
	var ev events
	pushed, err := src.Push(ctx, name, remoteOpts(t, &ev))
	if err != nil {
		t.Fatal(err)
	}
	if pushed.Digest != built.Descriptor.Digest || pushed.Pushed != 1 || pushed.Existing != 0 || ev.count(image.StatusPushed) != 1 {
		t.Errorf("Push(%s) = %+v, %d Pushed events; want the manifest %s and one layer pushed", name, pushed, ev.count(image.StatusPushed), built.Descriptor.Digest)
	}
	ev = events{}
	again, err := src.Push(ctx, name, remoteOpts(t, &ev))
	if err != nil || again.Existing != 1 || again.Pushed != 0 || ev.count(image.StatusLayerExists) != 1 || ev.count(image.StatusPushing) != 0 {
		t.Errorf("second Push = %+v, %v, %d %q events; want the layer skipped and said so", again, err, ev.count(image.StatusLayerExists), image.StatusLayerExists)
	}

	dst := open(t)
	ev = events{}
	res, err := dst.Pull(ctx, name, pullOpts(t, &ev))
	if err != nil {
		t.Fatal(err)
	}
	if res.Image.ID != built.ID || res.Digest != built.Descriptor.Digest || res.Fetched != 1 || res.UpToDate || res.From.Mirror {
		t.Errorf("Pull(%s) = ID %s digest %s %+v; want ID %s digest %s, one layer fetched from the registry", name, res.Image.ID, res.Digest, res, built.ID, built.Descriptor.Digest)
	}
	if res.Name != name || ev.count(image.StatusPullComplete) != 1 {
		t.Errorf("Pull: name %q, %d %q events; want %q and 1", res.Name, ev.count(image.StatusPullComplete), image.StatusPullComplete, name)
	}
	if got := runIn(t, dst, res.Image, "/bin/sh", "-c", "echo pulled and running"); got != "pulled and running\n" {
		t.Errorf("the pulled image's sh says %q", got)
	}
	ev = events{}
	res, err = dst.Pull(ctx, name, pullOpts(t, &ev))
	if err != nil || !res.UpToDate || res.Fetched != 0 || res.Existing != 1 || ev.count(image.StatusAlreadyExists) != 1 || ev.count(image.StatusDownloading) != 0 {
		t.Errorf("second Pull = %+v, %v; want up to date, the layer Already exists, nothing downloaded", res, err)
	}

	// Retag and push: the registry has the layer and the manifest already.
	retag := reg.Host + "/unbox/bb:2"
	if _, err := dst.Tag(name, retag); err != nil {
		t.Fatal(err)
	}
	if p, err := dst.Push(ctx, retag, remoteOpts(t, nil)); err != nil || p.Pushed != 0 || p.Digest != built.Descriptor.Digest {
		t.Errorf("Push(%s) = %+v, %v; want no layer pushed, digest %s", retag, p, err, built.Descriptor.Digest)
	}

	// By digest, into a third store: no name, found by the digest.
	byDigest := reg.Host + "/unbox/bb@" + string(built.Descriptor.Digest)
	third := open(t)
	res, err = third.Pull(ctx, byDigest, pullOpts(t, nil))
	if err != nil || res.Image.ID != built.ID || len(res.Image.Names) != 0 {
		t.Fatalf("Pull(%s) = %+v, %v; want image %s without a name", byDigest, res.Image, err, built.ID)
	}
	if img, err := third.Resolve(byDigest); err != nil || img.ID != built.ID {
		t.Errorf("Resolve(%s) = %v, %v; want image %s", byDigest, img.ID, err, built.ID)
	}
	if _, err := third.Resolve(reg.Host + "/unbox/bb:2"); !errors.Is(err, image.ErrNotFound) {
		t.Errorf("Resolve(tag) after a pull by digest: %v; want ErrNotFound", err)
	}

	// What is not there is said plainly; pushing a name the store lacks too.
	if _, err := third.Pull(ctx, reg.Host+"/unbox/bb:nope", pullOpts(t, nil)); err == nil || !strings.Contains(err.Error(), "MANIFEST_UNKNOWN") {
		t.Errorf("Pull(missing tag) = %v; want the registry's MANIFEST_UNKNOWN", err)
	}
	if _, err := third.Push(ctx, reg.Host+"/unbox/other:1", remoteOpts(t, nil)); err == nil || !strings.Contains(err.Error(), "does not exist locally") {
		t.Errorf("Push(unknown local name) = %v; want 'does not exist locally'", err)
	}
}

// otherArch is an architecture that is not this machine's.
func otherArch() string {
	if runtime.GOARCH == "arm64" {
		return "amd64"
	}
	return "arm64"
}

// TestPrivMultiPlatformIndex: an index of two platforms resolves to this
// machine's by default and to --platform's when given; the digest reported
// is the index's, as Docker reports it; a platform the index lacks is an
// error that names it.
func TestPrivMultiPlatformIndex(t *testing.T) {
	kittest.Privileged(t)
	ctx := context.Background()
	reg := registrytest.Start(t, registrytest.Options{})
	var idx v1.ImageIndex = empty.Index
	for _, arch := range []string{otherArch(), runtime.GOARCH} {
		p := v1.Platform{OS: "linux", Architecture: arch}
		img := imageOf(t, p, layerOf(t, file("platform", arch)))
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p}})
	}
	ref := reg.Host + "/multi:1"
	want := putIndex(t, ref, idx)
	platformFile := func(s *image.Store, img image.Image) string {
		dirs, err := s.Snapshots(ctx, img)
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(dirs[0], "platform"))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	s := open(t)
	res, err := s.Pull(ctx, ref, pullOpts(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := platformFile(s, res.Image); got != runtime.GOARCH || res.Digest != digest.Digest(want.String()) {
		t.Errorf("Pull(%s) = the %s image, digest %s; want this machine's (%s) and the index's digest %s", ref, got, res.Digest, runtime.GOARCH, want)
	}
	o := pullOpts(t, nil)
	if o.Platform, err = image.ParsePlatform("linux/" + otherArch()); err != nil {
		t.Fatal(err)
	}
	s = open(t)
	if res, err = s.Pull(ctx, ref, o); err != nil {
		t.Fatal(err)
	}
	if got := platformFile(s, res.Image); got != otherArch() || res.Image.Config.Architecture != otherArch() {
		t.Errorf("Pull(%s, --platform linux/%s) = the %s image; want the %[2]s one", ref, otherArch(), got)
	}
	if o.Platform, err = image.ParsePlatform("linux/s390x"); err != nil {
		t.Fatal(err)
	}
	if _, err := open(t).Pull(ctx, ref, o); err == nil || !strings.Contains(err.Error(), "s390x") {
		t.Errorf("Pull(%s, --platform linux/s390x) = %v; want an error naming the platform", ref, err)
	}
	for _, bad := range []string{"linux", "", "/amd64"} {
		if _, err := image.ParsePlatform(bad); err == nil {
			t.Errorf("ParsePlatform(%q): no error", bad)
		}
	}
}

// TestPrivPullFromMirrorsInOrder: daemon.json's mirrors are tried in
// order, a dead one, one without the image and one that serves a bad
// layer fall through to the next,
// and with no mirror left the registry itself serves the pull. The working
// mirror is a second registry in pull-through mode, proxying the first.
func TestPrivPullFromMirrorsInOrder(t *testing.T) {
	kittest.Privileged(t)
	ctx := context.Background()
	origin := registrytest.Start(t, registrytest.Options{})
	mirror := registrytest.Start(t, registrytest.Options{Proxy: "http://" + origin.Host})
	emptyMirror := registrytest.Start(t, registrytest.Options{})
	badMirror := registrytest.Start(t, registrytest.Options{})
	dead := registrytest.FreeAddr(t)
	img, err := random.Image(512, 2)
	if err != nil {
		t.Fatal(err)
	}
	ref := origin.Host + "/team/app:1.0"
	put(t, ref, img)
	// The bad mirror has the manifest, and a layer whose bytes are not
	// its digest's: the pull fails there half-way and goes on.
	put(t, badMirror.Host+"/team/app:1.0", img)
	layers, _ := img.Layers()
	d, _ := layers[1].Digest()
	tamper(t, badMirror, d)

	conf := t.TempDir()
	daemon := `{"mirrors": {"` + origin.Host + `": ["http://` + dead + `", "http://` + emptyMirror.Host + `", "http://` + badMirror.Host + `", "http://` + mirror.Host + `"]}}`
	if err := os.WriteFile(filepath.Join(conf, image.EngineConfigFile), []byte(daemon), 0o644); err != nil {
		t.Fatal(err)
	}
	rc, err := image.LoadRegistryConfig(conf)
	if err != nil {
		t.Fatal(err)
	}
	var ev events
	o := image.PullOptions{RemoteOptions: image.RemoteOptions{ConfigDir: conf, Registry: rc, Progress: ev.add}}
	res, err := open(t).Pull(ctx, ref, o)
	if err != nil {
		t.Fatal(err)
	}
	if !res.From.Mirror || res.From.Host != mirror.Host || ev.count(image.StatusMirrorFailed) != 3 {
		t.Errorf("Pull(%s) came from %v after %d failed mirrors; want mirror %s after 3", ref, res.From, ev.count(image.StatusMirrorFailed), mirror.Host)
	}
	if want, _ := img.ConfigName(); string(res.Image.ID) != want.String() {
		t.Errorf("Pull through the mirrors = image %s; want %s", res.Image.ID, want)
	}
	if res.Name != ref || res.Image.Names[0] != ref {
		t.Errorf("Pull through a mirror named the image %q (%v); want the name asked for, %q", res.Name, res.Image.Names, ref)
	}
	// The mirror really served it: it now holds the manifest (pull-through
	// caches what it proxied).
	if _, err := os.Stat(filepath.Join(mirror.Dir, "docker/registry/v2/repositories/team/app/_manifests")); err != nil {
		t.Errorf("the mirror has not cached the image: %v", err)
	}

	// Only dead mirrors: the registry itself.
	rc.Mirrors[origin.Host] = []string{"http://" + dead}
	o.Registry = rc
	res, err = open(t).Pull(ctx, ref, o)
	if err != nil || res.From.Mirror || res.From.Host != origin.Host {
		t.Errorf("Pull with a dead mirror = from %v, %v; want the registry %s itself", res.From, err, origin.Host)
	}
}
