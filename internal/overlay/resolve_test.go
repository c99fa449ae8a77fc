package overlay

import (
	"slices"
	"sort"
	"strings"
	"testing"
)

// fakeLayers is a stack described in words, top first: each layer maps a
// path to "dir", "file", "whiteout" or "opaque". Parent directories are
// implied.
type fakeLayers []map[string]string

func (f fakeLayers) look(i int, name string) (entry, error) {
	kind, ok := f[i][name]
	if !ok {
		for p := range f[i] {
			if strings.HasPrefix(p, name+"/") {
				return entry{exists: true, dir: true}, nil
			}
		}
		return entry{}, nil
	}
	switch kind {
	case "dir":
		return entry{exists: true, dir: true}, nil
	case "opaque":
		return entry{exists: true, dir: true, marker: Opaque}, nil
	case "whiteout":
		return entry{exists: true, marker: Whiteout}, nil
	}
	return entry{exists: true}, nil
}

func (f fakeLayers) list(i int, dir string) ([]string, error) {
	seen := map[string]bool{}
	for p := range f[i] {
		rel := p
		if dir != "" {
			if !strings.HasPrefix(p, dir+"/") {
				continue
			}
			rel = strings.TrimPrefix(p, dir+"/")
		}
		seen[strings.Split(rel, "/")[0]] = true
	}
	var out []string
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out, nil
}

// stack is upper, init, 3-cleanup, 2-app, 1-base, as in lesson 04.
var stack = fakeLayers{
	{"etc/app.conf": "file", "srv/www/about.html": "whiteout", "srv/www/assets": "opaque", "srv/www/assets/site.css": "file"},
	{"etc/hostname": "file"},
	{"etc/motd": "whiteout", "var/cache/app": "opaque"},
	{"etc/passwd": "file", "etc/motd": "file", "etc/app.conf": "file", "srv/www/index.html": "file",
		"srv/www/about.html": "file", "srv/www/assets/logo.svg": "file", "var/cache/app/build.tmp": "file",
		"opt/tool": "dir", "bin": "file"},
	{"etc/passwd": "file", "etc/group": "file", "etc/hostname": "file", "opt/tool": "file", "bin/sh": "file",
		"var/cache/app/old": "file", "stray/ghost": "whiteout", "stray/real": "file"},
}

func TestResolve(t *testing.T) {
	for _, c := range []struct {
		name string
		want Origin
	}{
		{"", Origin{From: []int{0, 1, 2, 3, 4}, Dir: true, WhiteoutIn: -1, OpaqueIn: -1}},
		{"etc", Origin{From: []int{0, 1, 2, 3, 4}, Dir: true, WhiteoutIn: -1, OpaqueIn: -1}},
		// A file of an upper layer hides the same name below.
		{"etc/hostname", Origin{From: []int{1}, Hidden: []int{4}, WhiteoutIn: -1, OpaqueIn: -1}},
		{"etc/passwd", Origin{From: []int{3}, Hidden: []int{4}, WhiteoutIn: -1, OpaqueIn: -1}},
		{"etc/app.conf", Origin{From: []int{0}, Hidden: []int{3}, WhiteoutIn: -1, OpaqueIn: -1}},
		{"etc/group", Origin{From: []int{4}, WhiteoutIn: -1, OpaqueIn: -1}},
		// A whiteout deletes the name for everything below it.
		{"etc/motd", Origin{WhiteoutIn: 2, Hidden: []int{3}, OpaqueIn: -1}},
		{"srv/www/about.html", Origin{WhiteoutIn: 0, Hidden: []int{3}, OpaqueIn: -1}},
		// An opaque directory ends the merge.
		{"var/cache/app", Origin{From: []int{2}, Dir: true, Hidden: []int{3, 4}, WhiteoutIn: -1, OpaqueIn: 2}},
		{"var/cache/app/build.tmp", Origin{WhiteoutIn: -1, OpaqueIn: -1}},
		{"var/cache/app/old", Origin{WhiteoutIn: -1, OpaqueIn: -1}},
		{"srv/www/assets/logo.svg", Origin{WhiteoutIn: -1, OpaqueIn: -1}},
		{"srv/www/assets/site.css", Origin{From: []int{0}, WhiteoutIn: -1, OpaqueIn: -1}},
		// A non-directory below a directory ends the merge too.
		{"opt/tool", Origin{From: []int{3}, Dir: true, Hidden: []int{4}, WhiteoutIn: -1, OpaqueIn: -1}},
		// A file above a directory hides the directory and all in it.
		{"bin", Origin{From: []int{3}, Hidden: []int{4}, WhiteoutIn: -1, OpaqueIn: -1}},
		{"bin/sh", Origin{WhiteoutIn: -1, OpaqueIn: -1}},
		// Under a deleted name nothing exists, and the whiteout is why.
		{"etc/motd/x", Origin{WhiteoutIn: 2, OpaqueIn: -1}},
		{"nowhere", Origin{WhiteoutIn: -1, OpaqueIn: -1}},
		{"/etc//passwd/", Origin{From: []int{3}, Hidden: []int{4}, WhiteoutIn: -1, OpaqueIn: -1}},
	} {
		got, err := resolve(len(stack), c.name, stack.look)
		if err != nil || !equalOrigin(got, c.want) {
			t.Errorf("resolve(%q) = %+v, %v; want %+v", c.name, got, err, c.want)
		}
	}
	if _, err := resolve(len(stack), "etc/../../x", stack.look); err == nil {
		t.Errorf("resolve(etc/../../x): no error; want one")
	}
}

func TestReadDir(t *testing.T) {
	for dir, want := range map[string][]string{
		"": {"bin", "etc", "opt", "srv", "stray", "var"},
		// Not merged: listed as the one layer lists it, its stray whiteout
		// included.
		"stray":          {"ghost", "real"},
		"etc":            {"app.conf", "group", "hostname", "passwd"},
		"srv/www":        {"assets", "index.html"},
		"srv/www/assets": {"site.css"},
		"var/cache/app":  nil,
		"opt/tool":       nil,
	} {
		got, err := readDir(len(stack), dir, stack.look, stack.list)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("readDir(%q) = %q, %v; want %q", dir, got, err, want)
		}
	}
	for _, dir := range []string{"etc/motd", "etc/passwd", "bin"} {
		if got, err := readDir(len(stack), dir, stack.look, stack.list); err == nil {
			t.Errorf("readDir(%q) = %q; want an error", dir, got)
		}
	}
}

func equalOrigin(a, b Origin) bool {
	return slices.Equal(a.From, b.From) && slices.Equal(a.Hidden, b.Hidden) && a.Dir == b.Dir &&
		a.WhiteoutIn == b.WhiteoutIn && a.OpaqueIn == b.OpaqueIn
}

func TestKernelAtLeast(t *testing.T) {
	for _, c := range []struct {
		release string
		want    bool
	}{
		{"6.1.0-28-amd64", false}, {"6.7.0", true}, {"6.18.44-fc-v1045", true}, {"5.15.0-91-generic", false},
		{"7.0-rc1", true}, {"weird", false},
	} {
		if got := kernelAtLeast(c.release, 6, 7); got != c.want {
			t.Errorf("kernelAtLeast(%q, 6, 7) = %v; want %v", c.release, got, c.want)
		}
	}
}
