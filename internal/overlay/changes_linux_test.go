package overlay_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/kit/kittest"
	"github.com/unboxlab/unbox/internal/overlay"
)

// TestPrivChangesOfTheKernelsUpper: a container's changes made through a
// real overlay mount (the kernel writes the upper dir: copy-ups,
// whiteouts, an opaque directory) are listed as docker diff lists them.
func TestPrivChangesOfTheKernelsUpper(t *testing.T) {
	kittest.Privileged(t, kit.NeedOverlay)
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	l := overlay.Layers{Lower: []string{p("l1"), p("l0")}, Upper: p("upper"), Work: p("work")}
	mkdirs(t, append(l.Stack(), l.Work, p("merged"))...)
	writeFiles(t, p("l0"), map[string]string{
		"etc/passwd": "root (l0)\n", "etc/motd": "hello (l0)\n", "srv/www/index.html": "index\n",
		"srv/www/old.html": "old\n", "usr/bin/tool": "tool\n", "opt/app/conf": "conf (l0)\n",
	})
	writeFiles(t, p("l1"), map[string]string{"etc/passwd": "root, app (l1)\n", "opt/app/conf": "conf (l1)\n"})
	merged := p("merged")
	mountLayers(t, l, merged)
	in := func(name string) string { return filepath.Join(merged, name) }

	appendTo(t, in("etc/passwd"), "new:x:1000:1000::/:/bin/sh\n")
	rm := func(name string) {
		if err := os.RemoveAll(in(name)); err != nil {
			t.Fatal(err)
		}
	}
	rm("etc/motd")
	rm("srv/www") // then made again: an opaque directory over the lower one
	writeFiles(t, merged, map[string]string{"srv/www/new.html": "new\n", "data/a": "a\n", "tmp/scratch": "x\n", "etc/hostname": "ctr\n"})
	rm("tmp/scratch") // made and removed in the upper dir alone: no whiteout
	rm("opt/app/conf")

	want := []string{
		"A /data", "A /data/a",
		"C /etc", "D /etc/motd", "C /etc/passwd",
		"C /opt", "C /opt/app", "D /opt/app/conf",
		"C /srv", "C /srv/www", "D /srv/www/index.html", "A /srv/www/new.html", "D /srv/www/old.html",
		"A /tmp",
	}
	check := func(exclude []string, want []string) {
		t.Helper()
		changes, err := overlay.Changes(l.Upper, l.Lower, exclude)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range changes {
			got = append(got, c.String())
		}
		if !slices.Equal(got, want) {
			t.Errorf("Changes(exclude %q):\n  %q\nwant\n  %q", exclude, got, want)
		}
	}
	check([]string{"/etc/hostname"}, want)
	check([]string{"/etc/hostname", "/data"}, slices.DeleteFunc(slices.Clone(want), func(s string) bool { return s == "A /data" || s == "A /data/a" }))
	check(nil, slices.Insert(slices.Clone(want), 3, "A /etc/hostname"))
}

// TestPrivChangesOfMarkers: markers as a layer tar leaves them, without a
// mount: a whiteout over a name no layer below has deletes nothing, and a
// whiteout of a lower directory deletes only that name, not its contents.
func TestPrivChangesOfMarkers(t *testing.T) {
	kittest.Privileged(t) // a whiteout is a character device 0/0: mknod(2)
	dir := t.TempDir()
	lower, upper := filepath.Join(dir, "lower"), filepath.Join(dir, "upper")
	writeFiles(t, lower, map[string]string{"etc/motd": "hi\n", "var/cache/a": "a\n", "var/cache/b": "b\n"})
	writeFiles(t, upper, map[string]string{"etc/": "", "var/": ""})
	writeMarkers(t, upper, map[string]overlay.Marker{"etc/ghost": overlay.Whiteout, "var/cache": overlay.Whiteout})
	changes, err := overlay.Changes(upper, []string{lower}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range changes {
		got = append(got, c.String())
	}
	if want := []string{"C /etc", "C /var", "D /var/cache"}; !slices.Equal(got, want) {
		t.Errorf("Changes = %q; want %q", got, want)
	}
}
