//go:build linux

package image_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/unboxlab/unbox/capstone/image"
	"github.com/unboxlab/unbox/capstone/image/registrytest"
	"github.com/unboxlab/unbox/internal/kit/kittest"
)

// saveBuiltin saves the built-in image in format: under its name and
// extra, or only extra with onlyExtra.
func saveBuiltin(t *testing.T, format, extra string) (*image.Store, image.Image, []byte) {
	return saveBuiltinAs(t, format, extra, false)
}

func saveBuiltinAs(t *testing.T, format, extra string, onlyExtra bool) (*image.Store, image.Image, []byte) {
	t.Helper()
	ctx := context.Background()
	s := open(t)
	img, err := s.Get(ctx, image.Builtin)
	if err != nil {
		t.Fatal(err)
	}
	refs := []string{image.Builtin}
	if extra != "" {
		if _, err := s.Tag(image.Builtin, extra); err != nil {
			t.Fatal(err)
		}
		refs = append(refs, extra)
		if onlyExtra {
			refs = refs[1:]
		}
	}
	var buf bytes.Buffer
	if err := s.Save(ctx, &buf, refs, format); err != nil {
		t.Fatal(err)
	}
	return s, img, buf.Bytes()
}

// TestPrivSaveLoadRoundTrip: an archive of either format, plain or
// gzipped, loads into another store as the same image (same ID, same
// manifest), under the names it was saved with, and runs; saving twice
// gives the same bytes.
func TestPrivSaveLoadRoundTrip(t *testing.T) {
	kittest.Privileged(t)
	ctx := context.Background()
	for _, format := range []string{image.FormatDocker, image.FormatOCI} {
		_, img, plain := saveBuiltin(t, format, "localhost:5000/team/bb:1.0")
		if _, _, again := saveBuiltin(t, format, "localhost:5000/team/bb:1.0"); !bytes.Equal(plain, again) {
			t.Errorf("Save(%s) twice: different bytes", format)
		}
		for _, gz := range []bool{false, true} {
			archive := plain
			if gz {
				var b bytes.Buffer
				zw := gzip.NewWriter(&b)
				zw.Write(archive)
				zw.Close()
				archive = b.Bytes()
			}
			s := open(t)
			loaded, err := s.Load(ctx, bytes.NewReader(archive))
			if err != nil {
				t.Fatalf("Load(%s, gzip %v): %v", format, gz, err)
			}
			want := []string{"localhost:5000/team/bb:1.0", image.Builtin}
			if len(loaded) != 1 || loaded[0].Image.ID != img.ID || loaded[0].Image.Descriptor.Digest != img.Descriptor.Digest {
				t.Fatalf("Load(%s, gzip %v) = %+v; want image %s, manifest %s", format, gz, loaded, img.ID, img.Descriptor.Digest)
			}
			if got := slices.Sorted(slices.Values(loaded[0].Names)); !slices.Equal(got, want) {
				t.Errorf("Load(%s) names = %v; want %v", format, got, want)
			}
			if out := runIn(t, s, loaded[0].Image, "/bin/sh", "-c", "echo loaded"); out != "loaded\n" {
				t.Errorf("the loaded image's sh says %q", out)
			}
		}
	}
	s := open(t)
	if err := s.Save(ctx, &bytes.Buffer{}, []string{"no/such:image"}, ""); err == nil {
		t.Error("Save(no such image): no error")
	}
	if err := s.Save(ctx, &bytes.Buffer{}, []string{image.Builtin}, "zip"); err == nil {
		t.Error("Save(format zip): no error")
	}
}

// archiveOf is a tar of the given entries, in order: an archive to load,
// or a layer (layerOf).
func archiveOf(t *testing.T, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := e.hdr
		if err := tw.WriteHeader(&hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestPrivLoadRefusesHostileArchives: an archive names nothing on this
// machine. Entries that climb out, absolute names and links to host files
// are keys inside the archive, never paths: what they name is "not in the
// archive"; a blob whose content is not its name is refused; nothing is
// written outside the store and no image appears.
func TestPrivLoadRefusesHostileArchives(t *testing.T) {
	kittest.Privileged(t)
	ctx := context.Background()
	host := t.TempDir()
	victim := filepath.Join(host, "victim")
	if err := os.WriteFile(victim, []byte("host data"), 0o644); err != nil {
		t.Fatal(err)
	}
	rel, _ := filepath.Rel("/", host)
	climb := strings.Repeat("../", 30) + rel
	manifest := func(config string, layers ...string) tarEntry {
		return file("manifest.json", `[{"Config":"`+config+`","RepoTags":["evil:1"],"Layers":["`+strings.Join(layers, `","`)+`"]}]`)
	}
	for _, tc := range []struct {
		name    string
		entries []tarEntry
		want    string
	}{
		{"write-through-dotdot", []tarEntry{file(climb+"/victim", "overwritten"), manifest("c.json")}, "no file c.json"},
		{"absolute-entry", []tarEntry{file(victim, "overwritten"), manifest(victim)}, "config"},
		{"config-is-a-host-file", []tarEntry{manifest("/etc/passwd")}, "no file etc/passwd"},
		{"config-climbs", []tarEntry{manifest("../../../../etc/passwd")}, "no file etc/passwd"},
		{"symlink-to-host", []tarEntry{{tar.Header{Name: "c.json", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"}, ""}, manifest("c.json")}, "no file etc/passwd"},
		{"blob-not-its-name", []tarEntry{file("blobs/sha256/"+strings.Repeat("a", 64), "not that"), file("oci-layout", `{"imageLayoutVersion":"1.0.0"}`), file("index.json", `{"schemaVersion":2,"manifests":[]}`)}, "digest"},
		{"empty-index", []tarEntry{file("oci-layout", `{"imageLayoutVersion":"1.0.0"}`), file("index.json", `{"schemaVersion":2,"manifests":[]}`)}, "no image"},
		{"not-an-image-archive", []tarEntry{file("hello.txt", "hi")}, "not an image archive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			_, err := s.Load(ctx, bytes.NewReader(archiveOf(t, tc.entries...)))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Load = %v; want an error with %q", err, tc.want)
			}
			if b, _ := os.ReadFile(victim); string(b) != "host data" {
				t.Fatalf("the host's file now holds %q", b)
			}
			if ents, _ := os.ReadDir(host); len(ents) != 1 {
				t.Errorf("the host directory has %d entries; want only the victim", len(ents))
			}
			if imgs, _ := s.List(); len(imgs) != 0 {
				t.Errorf("a refused archive added images: %v", imgs)
			}
		})
	}
}

// peer runs another tool's command and fails the test if it fails.
func peer(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestPrivSaveLoadsIntoPodman: both formats of our save load into podman
// and run there (podman keeps its storage in the test's directory, runs
// with runc, no network); podman's own save of the image (the legacy
// docker-archive, layer.tar symlinks and all, and oci-archive) loads back
// into our store as the same image.
func TestPrivSaveLoadsIntoPodman(t *testing.T) {
	kittest.Privileged(t, registrytest.NeedPrograms("podman", "conmon", "runc"))
	dir := t.TempDir()
	base := []string{"--root", filepath.Join(dir, "storage"), "--runroot", filepath.Join(dir, "run"), "--storage-driver", "vfs",
		"--cgroup-manager", "cgroupfs", "--events-backend", "none", "--runtime", "runc"}
	podman := func(args ...string) string {
		t.Helper()
		return peer(t, "podman", append(slices.Clone(base), args...)...)
	}
	cgroupParent := "/unbox-test-podman-load"
	t.Cleanup(func() {
		exec.Command("podman", append(slices.Clone(base), "rm", "--all", "--force")...).Run()
		exec.Command("podman", append(slices.Clone(base), "rmi", "--all", "--force")...).Run()
		rmdirCgroups(cgroupParent)
	})
	for _, format := range []string{image.FormatDocker, image.FormatOCI} {
		// One name: podman 4.3 loads an oci-archive of one index entry
		// only (Docker 25 writes an entry per name, as Save does).
		_, img, archive := saveBuiltinAs(t, format, "localhost/unbox-saved:"+format, true)
		p := filepath.Join(dir, format+".tar")
		if err := os.WriteFile(p, archive, 0o644); err != nil {
			t.Fatal(err)
		}
		if out := podman("load", "-i", p); !strings.Contains(out, "unbox-saved:"+format) {
			t.Errorf("podman load of our %s: %s; want the name", format, out)
		}
		// Root here cannot raise hard limits: podman's defaults would.
		out := podman("run", "--rm", "--network", "none", "--cgroup-parent", cgroupParent, "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096",
			"localhost/unbox-saved:"+format, "sh", "-c", "echo running in podman")
		if !strings.Contains(out, "running in podman") {
			t.Errorf("podman run of our %s image: %q", format, out)
		}
		if id := strings.TrimSpace(podman("image", "inspect", "--format", "{{.Id}}", "localhost/unbox-saved:"+format)); id != img.ID.Encoded() {
			t.Errorf("podman's image ID = %s; want ours, %s", id, img.ID.Encoded())
		}
	}
	for _, format := range []string{"docker-archive", "oci-archive"} {
		p := filepath.Join(dir, "podman-"+format+".tar")
		podman("save", "--format", format, "-o", p, "localhost/unbox-saved:"+image.FormatDocker)
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		s := open(t)
		loaded, err := s.Load(context.Background(), f)
		f.Close()
		if err != nil {
			t.Fatalf("Load(podman save --format %s): %v", format, err)
		}
		if len(loaded) != 1 || !slices.Contains(loaded[0].Names, "localhost/unbox-saved:"+image.FormatDocker) {
			t.Errorf("Load(podman's %s) = %+v; want the image with its name", format, loaded)
			continue
		}
		if out := runIn(t, s, loaded[0].Image, "/bin/sh", "-c", "echo back from podman"); out != "back from podman\n" {
			t.Errorf("the image podman saved, loaded here, says %q", out)
		}
	}
}

// rmdirCgroups removes an empty cgroup and its conmon child in every
// hierarchy (podman with cgroupfs makes them under --cgroup-parent).
func rmdirCgroups(parent string) {
	roots, _ := filepath.Glob("/sys/fs/cgroup/*")
	roots = append(roots, "/sys/fs/cgroup")
	for _, r := range roots {
		os.Remove(filepath.Join(r, parent, "conmon"))
		os.Remove(filepath.Join(r, parent))
	}
}

// TestPrivLoadSkopeoDockerArchive: a docker-archive that skopeo copy
// writes (from our OCI archive) loads with its name and runs.
func TestPrivLoadSkopeoDockerArchive(t *testing.T) {
	kittest.Privileged(t, registrytest.NeedPrograms("skopeo"))
	dir := t.TempDir()
	_, img, archive := saveBuiltin(t, image.FormatOCI, "")
	src := filepath.Join(dir, "ours.tar")
	if err := os.WriteFile(src, archive, 0o644); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "skopeo.tar")
	peer(t, "skopeo", "copy", "oci-archive:"+src+":docker.io/unbox/busybox:latest", "docker-archive:"+dst+":skopeo/made:2")
	f, err := os.Open(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := open(t)
	loaded, err := s.Load(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	if len(loaded) != 1 || loaded[0].Image.ID != img.ID || !slices.Equal(loaded[0].Names, []string{"skopeo/made:2"}) {
		t.Fatalf("Load(skopeo's docker-archive) = %+v; want image %s named skopeo/made:2", loaded, img.ID)
	}
	if out := runIn(t, s, loaded[0].Image, "/bin/sh", "-c", "echo from skopeo"); out != "from skopeo\n" {
		t.Errorf("the image skopeo wrote says %q", out)
	}
}

// TestPrivLoadUmociLayout: an OCI layout umoci builds (init, new, insert
// a static busybox), tarred, loads and runs. umoci names it "latest" in
// org.opencontainers.image.ref.name, a tag without a repository: the image
// loads without a name, as Docker loads such a layout.
func TestPrivLoadUmociLayout(t *testing.T) {
	kittest.Privileged(t, registrytest.NeedPrograms("umoci"))
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	layout := filepath.Join(dir, "layout")
	peer(t, "umoci", "init", "--layout", layout)
	peer(t, "umoci", "new", "--image", layout+":latest")
	peer(t, "umoci", "insert", "--image", layout+":latest", busybox, "/bin/busybox")
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.AddFS(os.DirFS(layout)); err != nil {
		t.Fatal(err)
	}
	tw.Close()
	s := open(t)
	loaded, err := s.Load(context.Background(), &buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(loaded) != 1 || len(loaded[0].Names) != 0 || len(loaded[0].Image.Layers()) != 1 {
		t.Fatalf("Load(umoci's layout) = %+v; want one one-layer image without a name", loaded)
	}
	if out := runIn(t, s, loaded[0].Image, "/bin/busybox", "echo", "from umoci"); out != "from umoci\n" {
		t.Errorf("the image umoci built says %q", out)
	}
}
