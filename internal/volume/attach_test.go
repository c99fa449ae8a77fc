//go:build linux

package volume_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/unboxlab/unbox/internal/volume"
)

func specs(t *testing.T, raw ...string) []volume.Spec {
	t.Helper()
	var out []volume.Spec
	for _, r := range raw {
		s, err := volume.ParseSpec(r)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// TestAttach: one container's -v flags, each kind, become mounts in
// order; the volumes record the container, and the new ones are filled
// from the image.
func TestAttach(t *testing.T) {
	root := t.TempDir()
	image(t, root)
	host := t.TempDir()
	s := openStore(t)
	a, err := s.Attach("ctr-1", root, specs(t, host+":/project:ro", "appdata:/var/lib/app", "/scratch"))
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Volumes) != 2 || a.Volumes[0].Name != "appdata" || !a.Volumes[1].Anonymous || len(a.Created) != 2 {
		t.Fatalf("Attach = %+v; want appdata and an anonymous volume, both new", a)
	}
	anon := a.Volumes[1]
	var got []string
	for _, m := range a.Mounts {
		got = append(got, m.String())
	}
	want := []string{
		"mount --rbind -o ro=recursive " + host + " /project", "mount --make-rprivate /project",
		"mount --rbind " + s.Path("appdata") + "/_data /var/lib/app", "mount --make-rprivate /var/lib/app",
		"mount --rbind " + anon.Mountpoint + " /scratch", "mount --make-rprivate /scratch",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("mounts:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	if st, ok := a.Copied["appdata"]; !ok || st.Files != 3 {
		t.Errorf("Copied = %+v; want appdata filled from the image", a.Copied)
	}
	for _, v := range a.Volumes {
		if len(v.Users) != 1 || v.Users[0] != "ctr-1" || v.CopyUp {
			t.Errorf("volume %s after Attach: users %v, copy-up pending %v; want [ctr-1], done", v.Name, v.Users, v.CopyUp)
		}
	}
	// A second container shares appdata (no second copy) and gets an
	// anonymous volume of its own.
	b, err := s.Attach("ctr-2", root, specs(t, "appdata:/var/lib/app", "/scratch"))
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Created) != 1 || len(b.Copied) != 0 || b.Volumes[1].Name == anon.Name {
		t.Errorf("second Attach = %+v; want only a new anonymous volume, nothing copied", b)
	}
}

// TestAttachRefusesAndLeavesNothing: a missing bind source, two flags on
// one target, or a failure half-way: an error that names the flag, and
// the store as it was.
func TestAttachRefusesAndLeavesNothing(t *testing.T) {
	root := t.TempDir()
	s := openStore(t)
	missing := filepath.Join(t.TempDir(), "nope")
	for _, c := range []struct {
		specs []volume.Spec
		want  string
	}{
		{specs(t, "/scratch", missing+":/data"), "-v " + missing + ":/data: bind source " + missing + ": no such file or directory"},
		{specs(t, "one:/data", "two:/data/"), "-v two:/data/: /data is the target of -v one:/data too"},
	} {
		if _, err := s.Attach("ctr", root, c.specs); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Attach = %v; want %q", err, c.want)
		}
	}
	// The second volume's record is damaged: the first volume, already
	// made, is removed again.
	if err := os.MkdirAll(filepath.Join(s.Dir(), "broken", "_data"), 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := s.Attach("ctr", root, specs(t, "fresh:/a", "broken:/b"))
	if err == nil || !strings.HasPrefix(err.Error(), "-v broken:/b: ") {
		t.Errorf("Attach with a damaged volume = %v; want an error naming -v broken:/b", err)
	}
	vs, _ := s.List()
	if len(vs) != 0 {
		t.Errorf("after failed Attach calls the store holds %v; want no volume", names(vs))
	}
}
