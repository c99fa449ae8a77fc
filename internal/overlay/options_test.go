package overlay

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestOptions(t *testing.T) {
	for _, c := range []struct {
		name string
		l    Layers
		want string
	}{
		{"top layer first",
			Layers{Lower: []string{"/l/top", "/l/mid", "/l/base"}, Upper: "/c/upper", Work: "/c/work"},
			"lowerdir=/l/top:/l/mid:/l/base,upperdir=/c/upper,workdir=/c/work"},
		{"read-only, no upper",
			Layers{Lower: []string{"/l/a", "/l/b"}},
			"lowerdir=/l/a:/l/b"},
		{"one lower under an upper",
			Layers{Lower: []string{"/l/a"}, Upper: "/u", Work: "/w"},
			"lowerdir=/l/a,upperdir=/u,workdir=/w"},
		{"a colon in a lower path",
			Layers{Lower: []string{"/l/a:b", "/l/c"}},
			`lowerdir=/l/a\:b:/l/c`},
		{"a comma anywhere",
			Layers{Lower: []string{"/l/a,b"}, Upper: "/c/up,per", Work: "/c/wo,rk"},
			`lowerdir=/l/a\,b,upperdir=/c/up\,per,workdir=/c/wo\,rk`},
		{"a backslash is escaped first",
			Layers{Lower: []string{`/l/a\:b`}, Upper: `/c/u\p`, Work: "/c/w:k"},
			`lowerdir=/l/a\\\:b,upperdir=/c/u\\p,workdir=/c/w\:k`},
		{"spaces and equals signs need nothing",
			Layers{Lower: []string{"/l/a b=c", "/l/d"}},
			"lowerdir=/l/a b=c:/l/d"},
	} {
		got, err := c.l.Options(4096)
		if err != nil || got != c.want {
			t.Errorf("%s: Layers%+v.Options(4096) = %q, %v; want %q", c.name, c.l, got, err, c.want)
		}
	}
}

func TestOptionsRefuses(t *testing.T) {
	many := make([]string, MaxLowerLayers+1)
	for i := range many {
		many[i] = "/l"
	}
	for _, c := range []struct {
		name string
		l    Layers
		want string // in the error
	}{
		{"no lower layer", Layers{Upper: "/u", Work: "/w"}, "no lower layers"},
		{"upper without work", Layers{Lower: []string{"/l"}, Upper: "/u"}, "go together"},
		{"work without upper", Layers{Lower: []string{"/l"}, Work: "/w"}, "go together"},
		{"one layer, read-only", Layers{Lower: []string{"/l"}}, "bind-mount it read-only"},
		{"a relative lower", Layers{Lower: []string{"l", "/m"}}, `lowerdir "l" is not an absolute path`},
		{"an empty lower", Layers{Lower: []string{"/l", ""}}, `lowerdir "" is not an absolute path`},
		{"a relative upper", Layers{Lower: []string{"/l"}, Upper: "u", Work: "/w"}, `upperdir "u"`},
		{"a relative work dir", Layers{Lower: []string{"/l"}, Upper: "/u", Work: "w"}, `workdir "w"`},
		{"a NUL byte", Layers{Lower: []string{"/l\x00/evil", "/m"}}, "NUL"},
		{"more layers than the kernel stacks", Layers{Lower: many}, "at most 500"},
	} {
		if got, err := c.l.Options(4096); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Options = %q, %v; want an error saying %q", c.name, got, err, c.want)
		}
	}
}

// TestOptionsPageLimit: mount(2) copies one page and ends it with a NUL, so
// pageSize-1 bytes fit and one more does not; the error says what to do.
func TestOptionsPageLimit(t *testing.T) {
	for _, pageSize := range []int{4096, 16384, 65536} {
		// "lowerdir=/a:/" and the padding of the second layer.
		fixed := len("lowerdir=/a:/")
		fits := Layers{Lower: []string{"/a", "/" + strings.Repeat("x", pageSize-1-fixed)}}
		if got, err := fits.Options(pageSize); err != nil || len(got) != pageSize-1 {
			t.Errorf("page %d: options of %d bytes: len %d, %v; want them accepted", pageSize, pageSize-1, len(got), err)
		}
		over := Layers{Lower: []string{"/a", "/" + strings.Repeat("x", pageSize-fixed)}}
		_, err := over.Options(pageSize)
		var tooLong *OptionsTooLongError
		if !errors.As(err, &tooLong) {
			t.Fatalf("page %d: options of %d bytes: err %v; want *OptionsTooLongError", pageSize, pageSize, err)
		}
		if tooLong.Len != pageSize || tooLong.Max != pageSize-1 || tooLong.Layers != 2 {
			t.Errorf("page %d: error = %+v; want Len %d, Max %d, Layers 2", pageSize, tooLong, pageSize, pageSize-1)
		}
		for _, want := range []string{"shorter layer paths", "relative to the layers' common parent", "containerd",
			"fewer layers", "lowerdir+", "Linux 6.8"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("page %d: error %q does not say %q", pageSize, err, want)
			}
		}
	}
	// Escapes count: a path that fits unescaped may not fit escaped.
	colons := Layers{Lower: []string{"/" + strings.Repeat(":", 2100), "/b"}}
	if _, err := colons.Options(4096); err == nil {
		t.Errorf("2100 colons escape to 4200 bytes; Options(4096) accepted them")
	}
}

func TestStack(t *testing.T) {
	rw := Layers{Lower: []string{"/l/2", "/l/1"}, Upper: "/u", Work: "/w"}
	if got, want := rw.Stack(), []string{"/u", "/l/2", "/l/1"}; !slices.Equal(got, want) || rw.ReadOnly() {
		t.Errorf("Stack() = %q, ReadOnly() = %v; want %q, false", got, rw.ReadOnly(), want)
	}
	ro := Layers{Lower: []string{"/l/2", "/l/1"}}
	if got, want := ro.Stack(), []string{"/l/2", "/l/1"}; !slices.Equal(got, want) || !ro.ReadOnly() {
		t.Errorf("Stack() = %q, ReadOnly() = %v; want %q, true", got, ro.ReadOnly(), want)
	}
}
