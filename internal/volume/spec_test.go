//go:build linux

package volume_test

import (
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/kit/kittest"
	"github.com/unboxlab/unbox/internal/volume"
)

func TestMain(m *testing.M) { kittest.Main(m, nil) }

func TestParseSpec(t *testing.T) {
	for _, c := range []struct {
		raw  string
		want volume.Spec
	}{
		{"/home:/test", volume.Spec{Kind: volume.Bind, Source: "/home", Target: "/test"}},
		{"/home/:/test/", volume.Spec{Kind: volume.Bind, Source: "/home", Target: "/test"}},
		{"/srv:/srv:ro", volume.Spec{Kind: volume.Bind, Source: "/srv", Target: "/srv", ReadOnly: true}},
		{"/srv:/srv:rw,rslave", volume.Spec{Kind: volume.Bind, Source: "/srv", Target: "/srv", Propagation: unix.MS_SLAVE | unix.MS_REC}},
		{"/srv:/srv:rshared,ro", volume.Spec{Kind: volume.Bind, Source: "/srv", Target: "/srv", ReadOnly: true, Propagation: unix.MS_SHARED | unix.MS_REC}},
		{"/srv:/srv:cached", volume.Spec{Kind: volume.Bind, Source: "/srv", Target: "/srv"}},
		{"data:/test", volume.Spec{Kind: volume.Named, Source: "data", Target: "/test"}},
		{"data:/test:ro,nocopy", volume.Spec{Kind: volume.Named, Source: "data", Target: "/test", ReadOnly: true, NoCopy: true}},
		{"/test", volume.Spec{Kind: volume.Anonymous, Target: "/test"}},
		{"/a/../test", volume.Spec{Kind: volume.Anonymous, Target: "/test"}},
	} {
		got, err := volume.ParseSpec(c.raw)
		c.want.Raw = c.raw
		if err != nil || got != c.want {
			t.Errorf("ParseSpec(%q) = %+v, %v; want %+v", c.raw, got, err, c.want)
		}
	}
}

// TestParseSpecRefuses: every bad flag is an error that names it and says
// what is wrong, before anything is looked up or made.
func TestParseSpecRefuses(t *testing.T) {
	for raw, want := range map[string]string{
		"":                          "no target",
		"data/x:/data":              `"data/x" is not a valid volume name`,
		"../etc:/data":              `"../etc" is not a valid volume name`,
		"..:/data":                  `".." is not a valid volume name`,
		"./data:/data":              "give its absolute path",
		"d:/data":                   "at least two characters",
		":/data":                    "no source",
		"data:data":                 `target "data" is not an absolute path`,
		"/srv:/":                    "cannot replace the container's /",
		"/srv:/x:/y:ro":             "want [SRC:]DST[:OPTS]",
		"/test:ro":                  "an anonymous volume takes no options",
		"/srv:/srv:ro,rw":           "both ro and rw",
		"/srv:/srv:rslave,rprivate": "two propagation modes",
		"/srv:/srv:nocopy":          "nocopy applies to volumes",
		"data:/srv:rslave":          "propagation rslave applies to bind mounts",
		"/srv:/srv:Z":               "SELinux",
		"/srv:/srv:fast":            `unknown option "fast"`,
		"/srv:/srv:ro,":             "an empty option",
		"/srv:/x,y":                 "comma",
	} {
		_, err := volume.ParseSpec(raw)
		if err == nil || !strings.HasPrefix(err.Error(), "-v "+raw+": ") || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseSpec(%q) = %v; want an error starting with the flag and saying %q", raw, err, want)
		}
	}
}

func TestSpecMounts(t *testing.T) {
	s, err := volume.ParseSpec("data:/var/lib/app:ro")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range s.Mounts("/store/data/_data") {
		got = append(got, m.String())
	}
	want := "mount --rbind -o ro=recursive /store/data/_data /var/lib/app; mount --make-rprivate /var/lib/app"
	if strings.Join(got, "; ") != want {
		t.Errorf("Mounts = %q; want %q", got, want)
	}
}
