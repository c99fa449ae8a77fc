//go:build linux

package main

import (
	"errors"
	"strings"
	"testing"
)

func TestOverlayOptions(t *testing.T) {
	for _, c := range []struct {
		name string
		o    Overlay
		want string
	}{
		{"top layer first",
			Overlay{Lower: []string{"/l/top", "/l/mid", "/l/base"}, Upper: "/c/upper", Work: "/c/work"},
			"lowerdir=/l/top:/l/mid:/l/base,upperdir=/c/upper,workdir=/c/work"},
		{"read-only, no upper",
			Overlay{Lower: []string{"/l/a", "/l/b"}},
			"lowerdir=/l/a:/l/b"},
		{"a colon in a lower path",
			Overlay{Lower: []string{"/l/a:b", "/l/c"}},
			`lowerdir=/l/a\:b:/l/c`},
		{"a comma anywhere",
			Overlay{Lower: []string{"/l/a,b"}, Upper: "/c/up,per", Work: "/c/wo,rk"},
			`lowerdir=/l/a\,b,upperdir=/c/up\,per,workdir=/c/wo\,rk`},
		{"a backslash is escaped first",
			Overlay{Lower: []string{`/l/a\:b`}, Upper: `/c/u\p`, Work: "/c/w:k"},
			`lowerdir=/l/a\\\:b,upperdir=/c/u\\p,workdir=/c/w\:k`},
		{"spaces and equals signs need nothing",
			Overlay{Lower: []string{"/l/a b=c"}},
			"lowerdir=/l/a b=c"},
	} {
		got, err := c.o.Options(4096)
		if err != nil || got != c.want {
			t.Errorf("%s: Overlay%+v.Options(4096) = %q, %v; want %q", c.name, c.o, got, err, c.want)
		}
	}
}

func TestOverlayOptionsRefuses(t *testing.T) {
	many := make([]string, maxLowerLayers+1)
	for i := range many {
		many[i] = "/l"
	}
	for _, c := range []struct {
		name string
		o    Overlay
		want string // in the error
	}{
		{"no lower layer", Overlay{Upper: "/u", Work: "/w"}, "no lower layers"},
		{"upper without work", Overlay{Lower: []string{"/l"}, Upper: "/u"}, "go together"},
		{"work without upper", Overlay{Lower: []string{"/l"}, Work: "/w"}, "go together"},
		{"a relative lower", Overlay{Lower: []string{"l"}}, `lowerdir "l" is not an absolute path`},
		{"an empty lower", Overlay{Lower: []string{"/l", ""}}, `lowerdir "" is not an absolute path`},
		{"a relative upper", Overlay{Lower: []string{"/l"}, Upper: "u", Work: "/w"}, `upperdir "u"`},
		{"more layers than the kernel stacks", Overlay{Lower: many}, "at most 500"},
	} {
		if got, err := c.o.Options(4096); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Options = %q, %v; want an error saying %q", c.name, got, err, c.want)
		}
	}
}

// TestOverlayOptionsPageLimit: mount(2) copies one page and ends it with a
// NUL, so pageSize-1 bytes fit and one more does not; the error says what
// to do.
func TestOverlayOptionsPageLimit(t *testing.T) {
	for _, pageSize := range []int{4096, 16384, 65536} {
		fixed := len("lowerdir=/")
		fits := Overlay{Lower: []string{"/" + strings.Repeat("x", pageSize-1-fixed)}}
		if got, err := fits.Options(pageSize); err != nil || len(got) != pageSize-1 {
			t.Errorf("page %d: options of %d bytes: len %d, %v; want them accepted", pageSize, pageSize-1, len(got), err)
		}
		over := Overlay{Lower: []string{"/" + strings.Repeat("x", pageSize-fixed)}}
		_, err := over.Options(pageSize)
		var tooLong *OptionsTooLongError
		if !errors.As(err, &tooLong) {
			t.Fatalf("page %d: options of %d bytes: err %v; want *OptionsTooLongError", pageSize, pageSize, err)
		}
		if tooLong.Len != pageSize || tooLong.Max != pageSize-1 {
			t.Errorf("page %d: error = %+v; want Len %d, Max %d", pageSize, tooLong, pageSize, pageSize-1)
		}
		for _, want := range []string{"shorter layer paths", "fewer layers", "lowerdir+", "Linux 6.8"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("page %d: error %q does not say %q", pageSize, err, want)
			}
		}
	}
	// Escapes count: a path that fits unescaped may not fit escaped.
	colons := Overlay{Lower: []string{"/" + strings.Repeat(":", 2100)}}
	if _, err := colons.Options(4096); err == nil {
		t.Errorf("2100 colons escape to 4200 bytes; Options(4096) accepted them")
	}
}

func TestOverlayMountString(t *testing.T) {
	m, err := Overlay{Lower: []string{"/l/b", "/l/a"}, Upper: "/c/u", Work: "/c/w"}.Mount("/c/m", 4096)
	if err != nil {
		t.Fatal(err)
	}
	want := "mount -t overlay -o lowerdir=/l/b:/l/a,upperdir=/c/u,workdir=/c/w overlay /c/m"
	if got := m.String(); got != want {
		t.Errorf("Mount(...).String() = %q; want %q", got, want)
	}
}
