//go:build linux

package image_test

import (
	"archive/tar"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/unboxlab/unbox/capstone/image"
	"github.com/unboxlab/unbox/capstone/image/registrytest"
	"github.com/unboxlab/unbox/internal/kit/kittest"
)

// TestPrivLoginHtpasswd: against a registry that wants a password, a push
// without one is refused; a login with a wrong one is refused and stores
// nothing; a right one is stored as Docker stores it (config.json, mode
// 0600, auths[host].auth = base64(user:password)), which skopeo reads as
// its --authfile; push and pull then work; logout removes it.
func TestPrivLoginHtpasswd(t *testing.T) {
	kittest.Privileged(t, registrytest.NeedPrograms("skopeo"))
	ctx := context.Background()
	reg := registrytest.Start(t, registrytest.Options{User: "unbox", Password: "s3cret pass"})
	conf := t.TempDir()
	s := open(t)
	ref := reg.Host + "/private/bb:1"
	if _, err := s.Tag(image.Builtin, ref); err != nil {
		t.Fatal(err)
	}
	o := image.RemoteOptions{ConfigDir: conf}
	if _, err := s.Push(ctx, ref, o); err == nil || !strings.Contains(err.Error(), "unbox login "+reg.Host) {
		t.Errorf("Push without login = %v; want unauthorized, and what to do", err)
	}
	credentials := filepath.Join(conf, image.CredentialsFile)
	if err := image.Login(ctx, conf, image.RegistryConfig{}, reg.Host, "unbox", "wrong"); err == nil || !strings.Contains(err.Error(), "incorrect username or password") {
		t.Errorf("Login(wrong password) = %v; want 'incorrect username or password'", err)
	}
	if _, err := os.Stat(credentials); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed login left %s (%v)", credentials, err)
	}
	// A config.json already there, too open, with other settings: the
	// login keeps them and closes the mode.
	if err := os.WriteFile(credentials, []byte(`{"auths": {}, "detachKeys": "ctrl-x"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := image.Login(ctx, conf, image.RegistryConfig{}, "http://"+reg.Host+"/v2/", "unbox", "s3cret pass"); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(credentials)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: %v, %v; want mode 0600", credentials, fi.Mode(), err)
	}
	var cf struct {
		Auths      map[string]struct{ Auth string }
		DetachKeys string
	}
	b, _ := os.ReadFile(credentials)
	if err := json.Unmarshal(b, &cf); err != nil {
		t.Fatal(err)
	}
	if got := cf.Auths[reg.Host].Auth; got != base64.StdEncoding.EncodeToString([]byte("unbox:s3cret pass")) || cf.DetachKeys != "ctrl-x" {
		t.Errorf("config.json = %s; want auths[%q].auth = base64(unbox:s3cret pass) and detachKeys kept", b, reg.Host)
	}
	if _, err := s.Push(ctx, ref, o); err != nil {
		t.Fatalf("Push after login: %v", err)
	}
	if _, err := open(t).Pull(ctx, ref, image.PullOptions{RemoteOptions: o}); err != nil {
		t.Fatalf("Pull after login: %v", err)
	}
	// Docker's format, read by another tool as it stands.
	out, err := exec.Command("skopeo", "inspect", "--tls-verify=false", "--authfile", credentials, "docker://"+ref).CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"Digest"`) {
		t.Errorf("skopeo inspect --authfile %s: %v\n%s", credentials, err, out)
	}
	if had, err := image.Logout(conf, reg.Host); !had || err != nil {
		t.Errorf("Logout = %v, %v; want true", had, err)
	}
	if had, err := image.Logout(conf, reg.Host); had || err != nil {
		t.Errorf("second Logout = %v, %v; want false (not logged in)", had, err)
	}
	if _, err := open(t).Pull(ctx, ref, image.PullOptions{RemoteOptions: o}); err == nil {
		t.Error("Pull after logout succeeded; want unauthorized")
	}
}

// TestPrivPullVerifiesDigests: a registry whose stored layer was changed
// (same size, other bytes) serves it; the pull refuses it, says which
// digest did not match, and leaves no image and no blob of it.
func TestPrivPullVerifiesDigests(t *testing.T) {
	kittest.Privileged(t)
	ctx := context.Background()
	reg := registrytest.Start(t, registrytest.Options{})
	img, err := random.Image(4096, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref := reg.Host + "/tampered:1"
	put(t, ref, img)
	layers, _ := img.Layers()
	d, _ := layers[0].Digest()
	tamper(t, reg, d)
	s := open(t)
	_, err = s.Pull(ctx, ref, pullOpts(t, nil))
	if err == nil || !strings.Contains(err.Error(), d.Hex) {
		t.Fatalf("Pull of a tampered layer = %v; want an error naming %s", err, d)
	}
	t.Logf("Pull of a tampered layer: %v", err)
	if imgs, _ := s.List(); len(imgs) != 0 {
		t.Errorf("after a refused pull the store lists %d images", len(imgs))
	}
	assertNoBlobs(t, s, d)
}

// tamper changes a byte of the blob d in the registry's storage: the
// same size, other bytes.
func tamper(t *testing.T, reg registrytest.Registry, d v1.Hash) {
	t.Helper()
	data := filepath.Join(reg.Dir, "docker/registry/v2/blobs/sha256", d.Hex[:2], d.Hex, "data")
	b, err := os.ReadFile(data)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(data, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// assertNoBlobs fails unless the store's blobs directory holds nothing
// but the given digests' manifests and configs: no blob of a refused
// layer, no temporary file.
func assertNoBlobs(t *testing.T, s *image.Store, refused ...v1.Hash) {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(s.Layout().Dir(), "blobs/sha256"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("a temporary file is left in the blobs: %s", e.Name())
		}
		for _, r := range refused {
			if e.Name() == r.Hex {
				t.Errorf("the refused blob %s is in the store", r)
			}
		}
	}
}

// TestPrivInterruptedPullLeavesNoImage: a pull cancelled after its first
// layer leaves no image (nor a name, nor a temporary file); the next pull
// skips the whole layers the first one stored and completes.
func TestPrivInterruptedPullLeavesNoImage(t *testing.T) {
	kittest.Privileged(t)
	reg := registrytest.Start(t, registrytest.Options{})
	img, err := random.Image(1<<20, 4)
	if err != nil {
		t.Fatal(err)
	}
	ref := reg.Host + "/big:1"
	put(t, ref, img)
	s := open(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o := pullOpts(t, nil)
	o.Jobs = 1
	o.Progress = func(e image.Event) {
		if e.Status == image.StatusDownloaded {
			cancel()
		}
	}
	if _, err := s.Pull(ctx, ref, o); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Pull = %v; want context.Canceled", err)
	}
	if imgs, _ := s.List(); len(imgs) != 0 {
		t.Fatalf("after an interrupted pull the store lists %v", imgs)
	}
	if _, err := s.Resolve(ref); !errors.Is(err, image.ErrNotFound) {
		t.Errorf("Resolve(%s) after an interrupted pull = %v; want ErrNotFound", ref, err)
	}
	assertNoBlobs(t, s)
	res, err := s.Pull(context.Background(), ref, pullOpts(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	if res.Existing < 1 || res.Existing+res.Fetched != 4 {
		t.Errorf("Pull after the interrupted one: %d layers there, %d fetched; want the first pull's whole layers kept", res.Existing, res.Fetched)
	}
	if want, _ := img.ConfigName(); string(res.Image.ID) != want.String() {
		t.Errorf("Pull = image %s; want %s", res.Image.ID, want)
	}
}

// TestPrivPullRefusesHostileLayers: images whose layers try to write
// outside the snapshot are pushed to the registry and pulled. Each case
// is refused with a clear error or contained inside the snapshot; the host
// path the layer aims at is untouched, and no refused image is visible.
// (internal/layer's tests take the extraction case by case; this is the
// pull path end to end.)
func TestPrivPullRefusesHostileLayers(t *testing.T) {
	kittest.Privileged(t)
	ctx := context.Background()
	reg := registrytest.Start(t, registrytest.Options{})
	host := t.TempDir() // stands for the host's / outside the store
	victim := filepath.Join(host, "victim")
	if err := os.WriteFile(victim, []byte("host data"), 0o644); err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel("/", host)
	if err != nil {
		t.Fatal(err)
	}
	climb := strings.Repeat("../", 30) + rel
	// A name at the host's root that nothing has: a write that escaped
	// through a link to / would make it.
	atRoot := "unbox-hostile-" + filepath.Base(host)
	t.Cleanup(func() { os.Remove("/" + atRoot) })
	link := func(name, target string, typ byte) tarEntry {
		return tarEntry{tar.Header{Name: name, Linkname: target, Typeflag: typ, Mode: 0o777}, ""}
	}
	dev := func(name string, typ byte) tarEntry {
		return tarEntry{tar.Header{Name: name, Typeflag: typ, Mode: 0o666, Devmajor: 1, Devminor: 3}, ""}
	}
	for _, tc := range []struct {
		name    string
		entries []tarEntry
		refused string // a word of the error; "" when contained
		inside  string // contained: the file that lands inside the snapshot
	}{
		{"dotdot", []tarEntry{file(climb+"/victim", "overwritten")}, "..", ""},
		{"absolute", []tarEntry{file(victim, "overwritten")}, "", victim},
		// A link to the host directory resolves inside the snapshot, where
		// that directory does not exist: the write through it is refused.
		{"symlink-out-then-write", []tarEntry{link("escape", host, tar.TypeSymlink), file("escape/victim", "overwritten")}, "escape", ""},
		{"symlink-dotdot-then-write", []tarEntry{link("escape", climb, tar.TypeSymlink), file("escape/victim", "overwritten")}, "escape", ""},
		// A link to / is the snapshot's root: the write lands there, not
		// in the host's /.
		{"symlink-root-then-write", []tarEntry{link("escape", "/", tar.TypeSymlink), file("escape/"+atRoot, "overwritten")}, "", atRoot},
		{"symlink-chain-then-write", []tarEntry{link("a", "b/..", tar.TypeSymlink), tarEntry{tar.Header{Name: "b/", Typeflag: tar.TypeDir, Mode: 0o755}, ""},
			link("b/up", "../../../../..", tar.TypeSymlink), file("b/up/"+atRoot, "overwritten")}, "", atRoot},
		{"hardlink-out", []tarEntry{link("stolen", victim, tar.TypeLink)}, "link", ""},
		{"hardlink-dotdot", []tarEntry{link("stolen", climb+"/victim", tar.TypeLink)}, "..", ""},
		{"char-device", []tarEntry{dev("mem", tar.TypeChar)}, "device", ""},
		{"block-device", []tarEntry{dev("sda", tar.TypeBlock)}, "device", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := imageOf(t, image.DefaultPlatform(), layerOf(t, tc.entries...))
			ref := reg.Host + "/hostile/" + tc.name + ":1"
			put(t, ref, img)
			s := open(t)
			res, err := s.Pull(ctx, ref, pullOpts(t, nil))
			if b, _ := os.ReadFile(victim); string(b) != "host data" {
				t.Fatalf("the host's file now holds %q", b)
			}
			if ents, _ := os.ReadDir(host); len(ents) != 1 {
				t.Errorf("the host directory has %d entries; want only the victim", len(ents))
			}
			if _, err := os.Lstat("/" + atRoot); err == nil {
				t.Errorf("the layer wrote /%s on the host", atRoot)
			}
			if tc.refused != "" {
				if err == nil || !strings.Contains(err.Error(), tc.refused) {
					t.Fatalf("Pull(%s) = %v; want an error about %q", tc.name, err, tc.refused)
				}
				t.Logf("refused: %v", err)
				if imgs, _ := s.List(); len(imgs) != 0 {
					t.Errorf("the refused image is visible: %v", imgs[0].Names)
				}
				return
			}
			if err != nil {
				t.Fatalf("Pull(%s) = %v; want the entry contained in the snapshot", tc.name, err)
			}
			dirs, err := s.Snapshots(ctx, res.Image)
			if err != nil {
				t.Fatal(err)
			}
			if b, err := os.ReadFile(filepath.Join(dirs[0], tc.inside)); err != nil || string(b) != "overwritten" {
				t.Errorf("inside the snapshot, %s = %q, %v; want the layer's file there", tc.inside, b, err)
			}
		})
	}
}
