package overlay_test

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/kit/kittest"
	"github.com/unboxlab/unbox/internal/mount"
	"github.com/unboxlab/unbox/internal/overlay"
	"github.com/unboxlab/unbox/internal/overlay/whiteout"
)

func TestMain(m *testing.M) { kittest.Main(m, nil) }

// mountLayers mounts l at target for the rest of the test.
func mountLayers(t *testing.T, l overlay.Layers, target string) {
	t.Helper()
	opts, err := l.Options(os.Getpagesize())
	if err != nil {
		t.Fatal(err)
	}
	mounted, err := mount.MountAll("/", []mount.Mount{{Source: overlay.FSType, Target: target, Type: overlay.FSType, Data: opts}}, nil)
	if err != nil {
		t.Fatalf("%v%s", err, overlay.MountHint(err))
	}
	t.Cleanup(func() {
		if err := mounted.Unmount(); err != nil {
			t.Errorf("unmount %s: %v", target, err)
		}
	})
}

// writeFiles writes each path → content under dir; a path ending in "/" is
// a directory.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		full := filepath.Join(dir, p)
		if strings.HasSuffix(p, "/") {
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func writeMarkers(t *testing.T, dir string, markers map[string]overlay.Marker) {
	t.Helper()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	for name, m := range markers {
		if err := overlay.WriteMarker(root, name, m); err != nil {
			t.Fatal(err)
		}
	}
}

func mkdirs(t *testing.T, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// modelStack is a union built to hold every case of the lookup: files that
// shadow files, directories that merge, whiteouts of files and of whole
// trees, opaque directories, a directory over a file and a file over a
// directory, a symbolic link, whiteouts in the xattr form, and an opaque
// mark on a layer's root, which the kernel ignores.
func modelStack(t *testing.T) (l overlay.Layers, merged string) {
	t.Helper()
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	l = overlay.Layers{Lower: []string{p("l0"), p("l1"), p("l2"), p("l3")}, Upper: p("upper"), Work: p("work")}
	mkdirs(t, append(l.Stack(), l.Work, p("merged"))...)
	writeFiles(t, p("l3"), map[string]string{
		"etc/passwd": "root (l3)\n", "etc/group": "root (l3)\n", "etc/hostname": "base (l3)\n",
		"bin/sh": "sh (l3)\n", "opt/tool": "a file (l3)\n", "var/cache/app/old": "old (l3)\n",
		"srv/www/index.html": "index (l3)\n", "usr/lib/libc.so": "libc (l3)\n", "deep/a/b/c/file": "deep (l3)\n",
		"xw/gone": "to be deleted (l3)\n", "xw/kept": "kept (l3)\n",
	})
	if err := os.Symlink("usr/lib", p("l3/lib")); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, p("l2"), map[string]string{
		"etc/passwd": "root, app (l2)\n", "etc/motd": "welcome (l2)\n", "srv/www/about.html": "about (l2)\n",
		"srv/www/assets/logo.svg": "<svg/> (l2)\n", "var/cache/app/build.tmp": "cache (l2)\n",
		"opt/tool/": "", "bin": "a file over a directory (l2)\n", "deep/a/b/other": "other (l2)\n",
	})
	writeFiles(t, p("l1"), map[string]string{"var/cache/app/new": "new (l1)\n", "srv/www/assets/site.css": "css (l1)\n"})
	writeMarkers(t, p("l1"), map[string]overlay.Marker{
		"etc/motd": overlay.Whiteout, "var/cache/app": overlay.Opaque, "deep/a": overlay.Whiteout,
	})
	// The xattr form of a whiteout, in a directory marked "x"
	// (overlayfs.rst, "Nesting overlayfs mounts"); before Linux 6.7, an
	// empty file.
	writeFiles(t, p("l1"), map[string]string{"xw/gone": ""})
	for _, x := range []struct{ path, name, value string }{
		{p("l1/xw/gone"), overlay.WhiteoutXattr, "y"},
		{p("l1/xw"), overlay.OpaqueXattr, "x"},
		// Opaque on a layer's root: the kernel merges roots regardless.
		{p("l0"), overlay.OpaqueXattr, "y"},
	} {
		if err := unix.Setxattr(x.path, x.name, []byte(x.value), 0); err != nil {
			t.Fatalf("setxattr %s %s: %v", x.path, x.name, err)
		}
	}
	writeFiles(t, p("l0"), map[string]string{"etc/hostname": "unbox-a (l0)\n", "deep/a/again": "again (l0)\n",
		"stray/real": "real (l0)\n"})
	// A whiteout in a directory no layer below has: it deletes nothing,
	// and readdir, which passes an unmerged directory through, lists it.
	writeMarkers(t, p("l0"), map[string]overlay.Marker{"stray/ghost": overlay.Whiteout})
	mountLayers(t, l, p("merged"))
	return l, p("merged")
}

// names lists every path in any layer of stack, relative, parents first.
func names(t *testing.T, stack []string) []string {
	t.Helper()
	seen := map[string]bool{}
	for _, layer := range stack {
		err := filepath.WalkDir(layer, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(layer, p)
			seen[filepath.ToSlash(rel)] = true
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// checkModel holds Resolve and ReadDir against the kernel for every name
// in every layer: the name exists through the mount exactly when the model
// says so, with the type it says, a file has the content of the layer the
// model names, and a directory lists what the model lists.
func checkModel(t *testing.T, l overlay.Layers, merged string) {
	t.Helper()
	stack := l.Stack()
	all := names(t, stack)
	if len(all) < 30 {
		t.Fatalf("only %d names in the stack; the fixture is broken", len(all))
	}
	for _, name := range all {
		o, err := overlay.Resolve(stack, name)
		if err != nil {
			t.Errorf("Resolve(%s): %v", name, err)
			continue
		}
		fi, statErr := os.Lstat(filepath.Join(merged, name))
		switch {
		case o.Exists() != (statErr == nil):
			t.Errorf("Resolve(%s) = %+v; but lstat through the mount: %v", name, o, statErr)
			continue
		case !o.Exists():
			continue
		case o.Dir != fi.IsDir():
			t.Errorf("Resolve(%s).Dir = %v; through the mount it is %v", name, o.Dir, fi.Mode())
			continue
		}
		from := filepath.Join(stack[o.From[0]], name)
		switch {
		case fi.Mode().IsRegular():
			if got, want := read(t, filepath.Join(merged, name)), read(t, from); got != want {
				t.Errorf("%s through the mount = %q; Resolve says layer %d, which has %q", name, got, o.From[0], want)
			}
		case fi.Mode()&fs.ModeSymlink != 0:
			got, _ := os.Readlink(filepath.Join(merged, name))
			if want, _ := os.Readlink(from); got != want {
				t.Errorf("%s through the mount -> %q; Resolve says layer %d, whose link -> %q", name, got, o.From[0], want)
			}
		case fi.IsDir():
			entries, err := os.ReadDir(filepath.Join(merged, name))
			if err != nil {
				t.Fatal(err)
			}
			var kernel []string
			for _, e := range entries {
				kernel = append(kernel, e.Name())
			}
			model, err := overlay.ReadDir(stack, name)
			if err != nil || !slices.Equal(model, kernel) {
				t.Errorf("ReadDir(%s) = %q, %v; ls through the mount: %q", name, model, err, kernel)
			}
		}
	}
}

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestPrivResolveMatchesTheKernel holds the lookup model against a real
// overlay mount, first on layers written by hand, then after the kernel has
// written markers of its own into the upper dir.
func TestPrivResolveMatchesTheKernel(t *testing.T) {
	kittest.Privileged(t, kit.NeedOverlay)
	l, merged := modelStack(t)
	checkModel(t, l, merged)

	// Spot checks that would catch a model and a kernel wrong the same way.
	for _, c := range []struct{ name, want string }{
		{"etc/passwd", "root, app (l2)\n"},
		{"etc/hostname", "unbox-a (l0)\n"},
		{"var/cache/app/new", "new (l1)\n"},
		{"deep/a/again", "again (l0)\n"},
		{"xw/kept", "kept (l3)\n"},
	} {
		if got := read(t, filepath.Join(merged, c.name)); got != c.want {
			t.Errorf("%s through the mount = %q; want %q", c.name, got, c.want)
		}
	}
	for _, gone := range []string{"etc/motd", "var/cache/app/old", "var/cache/app/build.tmp", "deep/a/b", "bin/sh", "stray/ghost"} {
		if _, err := os.Lstat(filepath.Join(merged, gone)); !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, unix.ENOTDIR) {
			t.Errorf("%s through the mount: %v; want it hidden", gone, err)
		}
	}
	if names, err := overlay.ReadDir(l.Stack(), "stray"); err != nil || !slices.Equal(names, []string{"ghost", "real"}) {
		t.Errorf("ReadDir(stray) = %q, %v; want the stray whiteout listed, as the kernel lists it", names, err)
	}
	if o, _ := overlay.Resolve(l.Stack(), "etc/motd"); o.WhiteoutIn != 2 {
		t.Errorf("Resolve(etc/motd).WhiteoutIn = %d; want 2, l1 (the stack is upper, l0, l1, ...)", o.WhiteoutIn)
	}

	// Now the kernel writes: copy-up, whiteouts, an opaque directory, a new
	// tree, the removal of a directory that was a file below.
	m := func(name string) string { return filepath.Join(merged, name) }
	appendTo(t, m("etc/passwd"), "app\n")
	for _, name := range []string{"etc/group", "bin", "opt/tool", "xw/kept"} {
		if err := os.Remove(m(name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.RemoveAll(m("srv/www")); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, merged, map[string]string{"srv/www/index.html": "new index (upper)\n", "new/sub/file": "new (upper)\n"})
	checkModel(t, l, merged)

	for name, want := range map[string]overlay.Marker{
		"etc/group": overlay.Whiteout, "bin": overlay.Whiteout, "opt/tool": overlay.Whiteout,
		"srv/www": overlay.Opaque, "etc": overlay.NoMarker, "etc/passwd": overlay.NoMarker,
	} {
		if got, err := overlay.ReadMarker(filepath.Join(l.Upper, name)); err != nil || got != want {
			t.Errorf("ReadMarker(upper/%s) = %v, %v; want %v, as the kernel wrote it", name, got, err, want)
		}
	}
}

func appendTo(t *testing.T, p, text string) {
	t.Helper()
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestPrivCopyUp: the first write to a lower file copies the whole file
// into the upper dir, writes there, and leaves the lower file as it was;
// from then on the model finds the name in the upper dir.
func TestPrivCopyUp(t *testing.T) {
	kittest.Privileged(t, kit.NeedOverlay)
	dir := t.TempDir()
	l := overlay.Layers{Lower: []string{filepath.Join(dir, "lower")}, Upper: filepath.Join(dir, "upper"), Work: filepath.Join(dir, "work")}
	merged := filepath.Join(dir, "merged")
	mkdirs(t, append(l.Stack(), l.Work, merged)...)
	big := strings.Repeat("a line of a file in the image\n", 4096)
	writeFiles(t, l.Lower[0], map[string]string{"etc/app.conf": big})
	mountLayers(t, l, merged)

	if o, err := overlay.Resolve(l.Stack(), "etc/app.conf"); err != nil || !slices.Equal(o.From, []int{1}) {
		t.Fatalf("before the write, Resolve(etc/app.conf) = %+v, %v; want From [1], the lower", o, err)
	}
	appendTo(t, filepath.Join(merged, "etc/app.conf"), "debug=true\n")
	if got := read(t, filepath.Join(l.Lower[0], "etc/app.conf")); got != big {
		t.Errorf("the lower file changed: %d bytes; want the %d it had", len(got), len(big))
	}
	if got := read(t, filepath.Join(l.Upper, "etc/app.conf")); got != big+"debug=true\n" {
		t.Errorf("upper/etc/app.conf is %d bytes; want the whole lower file plus the line, %d", len(got), len(big)+11)
	}
	o, err := overlay.Resolve(l.Stack(), "etc/app.conf")
	if err != nil || !slices.Equal(o.From, []int{0}) || !slices.Equal(o.Hidden, []int{1}) {
		t.Errorf("after the write, Resolve(etc/app.conf) = %+v, %v; want From [0] (upper), Hidden [1]", o, err)
	}
	if o, _ := overlay.Resolve(l.Stack(), "etc"); !slices.Equal(o.From, []int{0, 1}) {
		t.Errorf("Resolve(etc).From = %v; want [0 1]: copy-up made the parent in upper", o.From)
	}
}

// TestPrivCommitAndUnpack goes round the whole cycle against the kernel: a
// container changes things, its upper dir is written as a layer tar with
// whiteout.ToTar, the tar is unpacked into a new layer with
// whiteout.FromTar and WriteMarker, and that layer stacked on the same base
// shows the very tree the container saw.
func TestPrivCommitAndUnpack(t *testing.T) {
	kittest.Privileged(t, kit.NeedOverlay)
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	base := p("base")
	l := overlay.Layers{Lower: []string{base}, Upper: p("upper"), Work: p("work")}
	mkdirs(t, base, l.Upper, l.Work, p("merged"), p("layer"), p("view"))
	writeFiles(t, base, map[string]string{
		"etc/app.conf": "debug=false\n", "etc/motd": "welcome\n", "srv/www/index.html": "<h1>hello</h1>\n",
		"srv/www/assets/logo.svg": "<svg/>\n", "var/cache/x": "x\n",
	})
	mountLayers(t, l, p("merged"))
	m := func(name string) string { return filepath.Join(p("merged"), name) }
	appendTo(t, m("etc/app.conf"), "debug=true\n")
	for _, name := range []string{"etc/motd", "var/cache/x", "var/cache"} {
		if err := os.Remove(m(name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.RemoveAll(m("srv/www/assets")); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, p("merged"), map[string]string{"srv/www/assets/site.css": "body{}\n", "new/file": "new\n"})
	want := tree(t, p("merged"))

	// Commit: the upper dir as a layer tar.
	var buf bytes.Buffer
	w := tar.NewWriter(&buf)
	var tarNames []string
	err := filepath.WalkDir(l.Upper, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == l.Upper {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		hdr, err := tar.FileInfoHeader(fi, "")
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(l.Upper, path)
		hdr.Name = filepath.ToSlash(rel)
		if fi.IsDir() {
			hdr.Name += "/"
		}
		marker, err := overlay.ReadMarker(path)
		if err != nil {
			return err
		}
		hdrs, err := whiteout.ToTar(hdr, marker)
		if err != nil {
			return err
		}
		for _, h := range hdrs {
			tarNames = append(tarNames, h.Name)
			if err := w.WriteHeader(h); err != nil {
				return err
			}
			if h.Typeflag == tar.TypeReg && h.Size > 0 {
				f, err := os.Open(path)
				if err != nil {
					return err
				}
				_, err = io.Copy(w, f)
				f.Close()
				if err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"etc/.wh.motd", "var/.wh.cache", "srv/www/assets/", "srv/www/assets/.wh..wh..opq", "etc/app.conf"} {
		if !slices.Contains(tarNames, name) {
			t.Errorf("the layer tar lacks %s: %q", name, tarNames)
		}
	}

	// Unpack: the tar into a new layer directory, markers in disk form.
	root, err := os.OpenRoot(p("layer"))
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	r := tar.NewReader(&buf)
	for {
		hdr, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		name, marker, err := whiteout.FromTar(hdr)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case marker != overlay.NoMarker:
			err = overlay.WriteMarker(root, name, marker)
		case hdr.Typeflag == tar.TypeDir:
			err = root.MkdirAll(name, 0o755)
		case hdr.Typeflag == tar.TypeReg:
			var content []byte
			if content, err = io.ReadAll(r); err == nil {
				err = root.WriteFile(name, content, 0o644)
			}
		default:
			t.Fatalf("unexpected %q of type %q in the layer", hdr.Name, hdr.Typeflag)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	// The unpacked layer holds the disk form the kernel wrote.
	for _, name := range []string{"etc/motd", "var/cache", "srv/www/assets", "etc/app.conf"} {
		got, err1 := overlay.ReadMarker(filepath.Join(p("layer"), name))
		orig, err2 := overlay.ReadMarker(filepath.Join(l.Upper, name))
		if err1 != nil || err2 != nil || got != orig {
			t.Errorf("ReadMarker(layer/%s) = %v (%v); the upper dir had %v (%v)", name, got, err1, orig, err2)
		}
	}
	mountLayers(t, overlay.Layers{Lower: []string{p("layer"), base}}, p("view"))
	if got := tree(t, p("view")); !maps.Equal(got, want) {
		t.Errorf("the unpacked layer on the base shows\n%v\nthe container saw\n%v", got, want)
	}
}

// tree describes every entry under dir: "d" for a directory, the content of
// a file.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			out[rel] = "d"
			return nil
		}
		out[rel] = read(t, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestPrivOptionsAsTheKernelReadsThem checks the option builder and the
// mountinfo reader against the kernel: layer paths with the separators in
// them mount, in the right order, and read back from the mount table as
// they were given; a string of exactly pageSize-1 bytes is the longest that
// mounts.
func TestPrivOptionsAsTheKernelReadsThem(t *testing.T) {
	kittest.Privileged(t, kit.NeedOverlay)
	dir := filepath.Join(t.TempDir(), `odd:dir,with\separators and space`)
	mk := func(elem ...string) string {
		p := filepath.Join(append([]string{dir}, elem...)...)
		mkdirs(t, p)
		return p
	}
	top, bottom := mk("top:1"), mk("bottom,2")
	writeFiles(t, top, map[string]string{"f": "top"})
	writeFiles(t, bottom, map[string]string{"f": "bottom", "g": "bottom"})
	l := overlay.Layers{Lower: []string{top, bottom}, Upper: mk(`up:p\er`), Work: mk("wo,rk")}
	merged := mk("merged")
	mountLayers(t, l, merged)
	if got := read(t, filepath.Join(merged, "f")); got != "top" {
		t.Errorf("merged f = %q; want %q from the first lowerdir", got, "top")
	}
	if got := read(t, filepath.Join(merged, "g")); got != "bottom" {
		t.Errorf("merged g = %q; want %q from the second lowerdir", got, "bottom")
	}
	got, err := overlay.Mounted("self", merged)
	if err != nil || !slices.Equal(got.Lower, l.Lower) || got.Upper != l.Upper || got.Work != l.Work {
		t.Errorf("Mounted(self, %s) = %+v, %v; want %+v", merged, got, err, l)
	}

	// The page limit: pad the work dir's path so the options are exactly
	// pageSize-1 bytes long. (Path components are at most 255 bytes.)
	page := os.Getpagesize()
	short := overlay.Layers{Lower: []string{mk("l1"), mk("l2")}, Upper: mk("u"), Work: mk("w")}
	opts, err := short.Options(page)
	if err != nil {
		t.Fatal(err)
	}
	work := short.Work
	for pad := page - 1 - len(opts); pad > 0; {
		n := min(pad-1, 200)
		if n < 1 {
			work += "x" // one byte left: lengthen the last component
			break
		}
		work = filepath.Join(work, strings.Repeat("w", n))
		pad -= n + 1
	}
	mkdirs(t, work)
	longest := short
	longest.Work = work
	if opts, err := longest.Options(page); err != nil || len(opts) != page-1 {
		t.Fatalf("options of %d bytes: len %d, %v; want them accepted", page-1, len(opts), err)
	}
	mountLayers(t, longest, mk("m"))
	if got, err := overlay.Mounted("self", filepath.Join(dir, "m")); err != nil || got.Work != work {
		t.Errorf("Mounted: workdir %q, %v; want the whole padded path back", got.Work, err)
	}
	// One byte more, and the kernel would read a truncated work dir; the
	// builder refuses it.
	longer := longest
	longer.Work += "w"
	var tooLong *overlay.OptionsTooLongError
	if _, err := longer.Options(page); !errors.As(err, &tooLong) {
		t.Errorf("Options of %d bytes for a %d-byte page: %v; want *OptionsTooLongError", page, page, err)
	}
}

// TestPrivProbe: the probe accepts the temp dir and refuses an overlay as
// the home of an upper dir, which is what /tmp is inside a container, and
// leaves nothing behind either way.
func TestPrivProbe(t *testing.T) {
	kittest.Privileged(t, kit.NeedOverlay)
	dir := t.TempDir()
	if err := overlay.Probe(dir); err != nil {
		t.Fatalf("Probe(%s) = %v; want nil", dir, err)
	}
	l := overlay.Layers{Lower: []string{filepath.Join(dir, "l")}, Upper: filepath.Join(dir, "u"), Work: filepath.Join(dir, "w")}
	merged := filepath.Join(dir, "m")
	mkdirs(t, append(l.Stack(), l.Work, merged)...)
	mountLayers(t, l, merged)
	err := overlay.Probe(merged)
	if err == nil || !strings.Contains(err.Error(), "an overlayfs, which cannot be the upper of another") {
		t.Errorf("Probe on an overlay mount = %v; want it refused, naming the reason", err)
	}
	for _, d := range []string{dir, merged} {
		if entries, _ := os.ReadDir(d); slices.ContainsFunc(entries, func(e fs.DirEntry) bool {
			return strings.HasPrefix(e.Name(), "unbox-overlay-probe-")
		}) {
			t.Errorf("Probe left its directory in %s", d)
		}
	}
}

// TestPrivWriteMarkerStaysInsideTheLayer feeds WriteMarker the names a
// hostile layer tar could hold: links to a host directory, absolute and
// relative, and ".." components. Every write must fail, and the host
// directory must be untouched.
func TestPrivWriteMarkerStaysInsideTheLayer(t *testing.T) {
	kittest.Privileged(t)
	dir := t.TempDir()
	host, layer := filepath.Join(dir, "host"), filepath.Join(dir, "layer")
	writeFiles(t, host, map[string]string{"passwd": "host's own\n", "sub/x": "x\n"})
	writeFiles(t, layer, map[string]string{"keep": "the layer's own\n", "file": "f\n"})
	for link, target := range map[string]string{"abs": host, "rel": "../host", "sub": "../host/sub"} {
		if err := os.Symlink(target, filepath.Join(layer, link)); err != nil {
			t.Fatal(err)
		}
	}
	root, err := os.OpenRoot(layer)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	for _, c := range []struct {
		name string
		m    overlay.Marker
	}{
		{"abs/passwd", overlay.Whiteout}, {"rel/passwd", overlay.Whiteout}, {"abs/new", overlay.Whiteout},
		{"../host/new", overlay.Whiteout}, {"abs", overlay.Opaque}, {"sub", overlay.Opaque},
		{"rel/sub", overlay.Opaque}, {"file", overlay.Opaque}, {".", overlay.Opaque}, {".", overlay.Whiteout},
	} {
		if err := overlay.WriteMarker(root, c.name, c.m); err == nil {
			t.Errorf("WriteMarker(layer, %q, %v) = nil; want an error", c.name, c.m)
		}
	}
	if got := tree(t, host); !maps.Equal(got, map[string]string{"passwd": "host's own\n", "sub": "d", "sub/x": "x\n"}) {
		t.Errorf("the host directory changed: %v", got)
	}
	for _, d := range []string{host, filepath.Join(host, "sub")} {
		if m, err := overlay.ReadMarker(d); err != nil || m != overlay.NoMarker {
			t.Errorf("ReadMarker(%s) = %v, %v; want no marker", d, m, err)
		}
	}
	// A whiteout of a name the layer holds leaves the layer's entry.
	if err := overlay.WriteMarker(root, "keep", overlay.Whiteout); err != nil {
		t.Errorf("WriteMarker(keep, whiteout) = %v; want nil", err)
	}
	if got := read(t, filepath.Join(layer, "keep")); got != "the layer's own\n" {
		t.Errorf("keep = %q after its whiteout; want the layer's own file", got)
	}
	// And an ordinary one makes the device, parents included.
	if err := overlay.WriteMarker(root, "a/b/gone", overlay.Whiteout); err != nil {
		t.Fatal(err)
	}
	if m, err := overlay.ReadMarker(filepath.Join(layer, "a/b/gone")); err != nil || m != overlay.Whiteout {
		t.Errorf("ReadMarker(a/b/gone) = %v, %v; want a whiteout", m, err)
	}
}
