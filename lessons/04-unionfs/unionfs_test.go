//go:build linux

package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/kit/kittest"
	"github.com/unboxlab/unbox/internal/overlay"
)

// newTestLab builds the image in a test's temp dir and mounts container a
// on it, with the teardown registered; the leak check then proves nothing
// stays mounted.
func newTestLab(t *testing.T) (*lab, *container) {
	t.Helper()
	kittest.Privileged(t, kit.NeedOverlay, NeedUpperFS)
	l, err := newLab(filepath.Join(t.TempDir(), "lab"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := l.teardown(); err != nil {
			t.Errorf("teardown: %v", err)
		}
	})
	if err := l.buildImage(context.Background()); err != nil {
		t.Fatal(err)
	}
	a, err := l.newContainer("a")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.mount(a); err != nil {
		t.Fatal(err)
	}
	return l, a
}

// lowerDigests hashes every read-only layer of the lab, init layers too.
func lowerDigests(t *testing.T, l *lab) map[string]string {
	t.Helper()
	sums := map[string]string{}
	dirs := l.lowerDirs()
	for _, c := range l.Containers {
		dirs = append(dirs, c.Init)
	}
	for _, d := range dirs {
		sum, err := treeDigest(d)
		if err != nil {
			t.Fatal(err)
		}
		sums[l.rel(d)] = sum
	}
	return sums
}

func checkLowersUnchanged(t *testing.T, l *lab, before map[string]string) {
	t.Helper()
	for dir, sum := range lowerDigests(t, l) {
		if before[dir] != "" && before[dir] != sum {
			t.Errorf("read-only layer %s changed (tree digest %s; was %s)", dir, sum, before[dir])
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

// TestPrivCopyUpLeavesLowerIdentical: a write through the union changes a
// copy in upper, never the layer the file came from.
func TestPrivCopyUpLeavesLowerIdentical(t *testing.T) {
	l, a := newTestLab(t)
	before := lowerDigests(t, l)
	app := l.Layers[1].Dir
	lowerText := read(t, filepath.Join(app, "etc/app.conf"))

	r, err := copyUp(a, app, "etc/app.conf", "debug=true\n")
	if err != nil {
		t.Fatal(err)
	}
	if r.LowerAfter != r.LowerBefore {
		t.Errorf("sha256 of %s = %s after the write; want %s, unchanged", r.Lower, r.LowerAfter, r.LowerBefore)
	}
	if got, want := read(t, r.Upper), lowerText+"debug=true\n"; got != want {
		t.Errorf("upper copy %s = %q; want the whole lower file plus the line, %q", r.Upper, got, want)
	}
	if got, want := read(t, filepath.Join(a.Merged, "etc/app.conf")), lowerText+"debug=true\n"; got != want {
		t.Errorf("merged etc/app.conf = %q; want %q", got, want)
	}
	checkLowersUnchanged(t, l, before)
}

// TestPrivDeletionLeavesWhiteout: rm of a lower file leaves a character
// device 0/0 of that name in upper, and the file in its layer.
func TestPrivDeletionLeavesWhiteout(t *testing.T) {
	l, a := newTestLab(t)
	before := lowerDigests(t, l)
	r, err := deleteAndReplace(a, "srv/www/about.html", "srv/www/assets", "site.css", "x\n")
	if err != nil {
		t.Fatal(err)
	}
	if r.WhiteoutMode&unix.S_IFMT != unix.S_IFCHR || r.Major != 0 || r.Minor != 0 {
		t.Errorf("upper/srv/www/about.html: mode %o, device %d/%d; want a character device 0/0", r.WhiteoutMode, r.Major, r.Minor)
	}
	if _, err := os.Lstat(filepath.Join(a.Merged, "srv/www/about.html")); !os.IsNotExist(err) {
		t.Errorf("merged srv/www/about.html after rm: %v; want it gone", err)
	}
	if _, err := os.Stat(filepath.Join(l.Layers[1].Dir, "srv/www/about.html")); err != nil {
		t.Errorf("2-app lost about.html: %v", err)
	}
	checkLowersUnchanged(t, l, before)
}

// TestPrivReplacedDirectoryIsOpaque: rm -rf and mkdir of a lower directory
// makes an upper directory with trusted.overlay.opaque=y, and nothing of
// the old one shows.
func TestPrivReplacedDirectoryIsOpaque(t *testing.T) {
	l, a := newTestLab(t)
	before := lowerDigests(t, l)
	r, err := deleteAndReplace(a, "srv/www/about.html", "srv/www/assets", "site.css", "x\n")
	if err != nil {
		t.Fatal(err)
	}
	if r.OpaqueXattr != "y" {
		t.Errorf("getfattr -n %s upper/srv/www/assets = %q; want \"y\"", overlay.OpaqueXattr, r.OpaqueXattr)
	}
	if r.MergedOpaque != "site.css" {
		t.Errorf("ls merged/srv/www/assets = %q; want only site.css (2-app's logo.svg hidden)", r.MergedOpaque)
	}
	if _, err := os.Stat(filepath.Join(l.Layers[1].Dir, "srv/www/assets/logo.svg")); err != nil {
		t.Errorf("2-app lost assets/logo.svg: %v", err)
	}
	checkLowersUnchanged(t, l, before)
}

// TestPrivUpperInTarForm: the upper dir the kernel wrote, listed as a
// layer tar names it.
func TestPrivUpperInTarForm(t *testing.T) {
	l, a := newTestLab(t)
	if _, err := copyUp(a, l.Layers[1].Dir, "etc/app.conf", "debug=true\n"); err != nil {
		t.Fatal(err)
	}
	r, err := deleteAndReplace(a, "srv/www/about.html", "srv/www/assets", "site.css", "x\n")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"etc/", "etc/app.conf", "srv/", "srv/www/", "srv/www/.wh.about.html",
		"srv/www/assets/", "srv/www/assets/.wh..wh..opq", "srv/www/assets/site.css"}
	if got := tarNames(r.Upper); !slices.Equal(got, want) {
		t.Errorf("tarNames(upper) = %q; want %q", got, want)
	}
	// The image's own layer 3, written by hand, reads back the same way.
	l3, err := readLayer(l.Layers[2].Dir)
	if err != nil {
		t.Fatal(err)
	}
	want = []string{"etc/", "etc/.wh.motd", "var/", "var/cache/", "var/cache/app/", "var/cache/app/.wh..wh..opq"}
	if got := tarNames(l3); !slices.Equal(got, want) {
		t.Errorf("tarNames(3-cleanup) = %q; want %q", got, want)
	}
}

// TestPrivLayerOrder: the top layer that has a name wins, and the lesson's
// own lookup (resolve) agrees with the kernel's for every name in every
// layer.
func TestPrivLayerOrder(t *testing.T) {
	l, a := newTestLab(t)
	for _, c := range []struct{ path, want, why string }{
		{"etc/passwd", read(t, filepath.Join(l.Layers[1].Dir, "etc/passwd")), "2-app's copy shadows 1-base's"},
		{"etc/hostname", "unbox-a\n", "the init layer is above the image"},
	} {
		if got := read(t, filepath.Join(a.Merged, c.path)); got != c.want {
			t.Errorf("merged %s = %q; want %q (%s)", c.path, got, c.want, c.why)
		}
	}
	if base := read(t, filepath.Join(l.Layers[0].Dir, "etc/passwd")); strings.Contains(base, "app:") {
		t.Fatalf("1-base's passwd already has the app user: the shadowing check proves nothing")
	}

	refs := l.stack(a)
	dirs := a.layers.Stack()
	if len(refs) != 5 || refs[0].Dir != a.Upper || refs[1].Dir != a.Init || refs[4].Dir != l.Layers[0].Dir {
		t.Fatalf("stack(a) = %+v; want upper, init, 3-cleanup, 2-app, 1-base", refs)
	}
	seen := map[string]bool{}
	for _, layer := range dirs {
		_ = filepath.WalkDir(layer, func(p string, d fs.DirEntry, err error) error {
			if err != nil || p == layer {
				return err
			}
			rel, _ := filepath.Rel(layer, p)
			if seen[rel] {
				return nil
			}
			seen[rel] = true
			o, err := overlay.Resolve(dirs, filepath.ToSlash(rel))
			if err != nil {
				t.Errorf("resolve(%s): %v", rel, err)
				return nil
			}
			fi, statErr := os.Lstat(filepath.Join(a.Merged, rel))
			switch {
			case len(o.From) == 0 && statErr == nil:
				t.Errorf("resolve(%s) = %s; but the union has it", rel, explain(o, refs, fmt.Sprintf))
			case len(o.From) > 0 && statErr != nil:
				t.Errorf("resolve(%s) = %s; but the union has no such name: %v", rel, explain(o, refs, fmt.Sprintf), statErr)
			case len(o.From) == 1 && fi.Mode().IsRegular():
				if got, want := read(t, filepath.Join(a.Merged, rel)), read(t, filepath.Join(dirs[o.From[0]], rel)); got != want {
					t.Errorf("merged %s = %q; resolve says %s, which has %q", rel, got, refs[o.From[0]].Name, want)
				}
			}
			return nil
		})
	}
	if len(seen) < 10 {
		t.Errorf("checked only %d names", len(seen))
	}
}

// TestPrivSecondContainerIsPrivate: two containers on the same image layers
// do not see each other's writes, and the image does not change.
func TestPrivSecondContainerIsPrivate(t *testing.T) {
	l, a := newTestLab(t)
	before := lowerDigests(t, l)
	b, err := l.newContainer("b")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.mount(b); err != nil {
		t.Fatal(err)
	}
	if _, err := copyUp(a, l.Layers[1].Dir, "etc/app.conf", "debug=true\n"); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(a.Merged, "srv/www/about.html")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b.Merged, "srv/www/index.html"), []byte("b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		c          *container
		path, want string
	}{
		{a, "etc/hostname", "unbox-a"},
		{b, "etc/hostname", "unbox-b"},
		{b, "etc/app.conf", "debug=false"},
		{b, "srv/www/about.html", "<p>about us</p>"},
		{a, "srv/www/index.html", "<h1>hello</h1>"},
		{b, "srv/www/index.html", "b"},
	} {
		if got := look(filepath.Join(c.c.Merged, c.path)); got != c.want {
			t.Errorf("container %s: %s = %q; want %q", c.c.Name, c.path, got, c.want)
		}
	}
	checkLowersUnchanged(t, l, before)
}

// TestPrivEnterContainer enters container a with mount.EnterRoot and checks
// what it sees, and where its writes land.
func TestPrivEnterContainer(t *testing.T) {
	for _, c := range []struct {
		name string
	}{{"pivot"}} {
		t.Run(c.name, func(t *testing.T) {
			l, a := newTestLab(t)
			kittest.Require(t, kit.NeedNamespaces("mnt", "pid", "uts")...)
			volume := l.path("volumes", "data")
			if err := os.MkdirAll(volume, 0o755); err != nil {
				t.Fatal(err)
			}
			r, h, err := enter(context.Background(), a, volume)
			if err != nil {
				t.Fatal(err)
			}
			if r.PID != 1 || r.Hostname != "unbox-a" || r.RootType != "overlay" {
				t.Errorf("inside: PID %d, hostname %q, / is %q; want 1, unbox-a, overlay", r.PID, r.Hostname, r.RootType)
			}
			if got, want := r.RootLayers, a.layers; !slices.Equal(got.Stack(), want.Stack()) || got.Work != want.Work {
				t.Errorf("inside: / has layers %+v; want the ones mounted, %+v", got, want)
			}
			if r.Motd != "no such file or directory" {
				t.Errorf("inside: /etc/motd = %q; want it deleted by layer 3", r.Motd)
			}
			if h.UpperFile != "hello from inside" || h.VolumeFile != "hello from inside" {
				t.Errorf("host: upper/root/from-inside = %q, volume/on-volume = %q; want both written", h.UpperFile, h.VolumeFile)
			}
			if h.UpperVolume != "no such file or directory" {
				t.Errorf("host: upper/data/on-volume = %q; want nothing: the volume bypasses the union", h.UpperVolume)
			}
		})
	}
}

// TestPrivTeardownLeavesNothing: teardown unmounts in reverse order and
// removes every directory, and a second call is harmless.
func TestPrivTeardownLeavesNothing(t *testing.T) {
	l, _ := newTestLab(t)
	b, err := l.newContainer("b")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.mount(b); err != nil {
		t.Fatal(err)
	}
	done, err := l.teardown()
	if err != nil {
		t.Fatal(err)
	}
	var cmds []string
	for _, d := range done {
		cmds = append(cmds, l.rel(strings.TrimPrefix(strings.TrimPrefix(d.Cmd, "umount "), "rm -rf ")))
	}
	if want := []string{"containers/b/merged", "containers/a/merged", "."}; !slices.Equal(cmds, want) {
		t.Errorf("teardown did %q; want %q: the last mounted first, then the tree", cmds, want)
	}
	if left, _ := hostMounts(l.Root); len(left) > 0 {
		t.Errorf("still mounted after teardown: %v", left)
	}
	if _, err := os.Lstat(l.Root); !os.IsNotExist(err) {
		t.Errorf("%s after teardown: %v; want it gone", l.Root, err)
	}
	if done, err := l.teardown(); err != nil || len(done) != 0 {
		t.Errorf("second teardown: %v, %v; want nothing to do", done, err)
	}
}

// treeDigest hashes every entry under dir (path, type, mode, content,
// symlink target, device number, the xattrs overlayfs reads), so a test can
// prove a layer did not change by a single byte.
func treeDigest(dir string) (string, error) {
	h := sha256.New()
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		paths = append(paths, p)
		return nil
	})
	if err != nil {
		return "", err
	}
	sort.Strings(paths)
	for _, p := range paths {
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return "", err
		}
		rel, _ := filepath.Rel(dir, p)
		fmt.Fprintf(h, "%s %o %d %d %d %q %q\n", rel, st.Mode, st.Uid, st.Gid, st.Rdev,
			getfattr(p, overlay.OpaqueXattr), getfattr(p, overlay.WhiteoutXattr))
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			f, err := os.Open(p)
			if err != nil {
				return "", err
			}
			_, err = io.Copy(h, f)
			f.Close()
			if err != nil {
				return "", err
			}
		case unix.S_IFLNK:
			target, err := os.Readlink(p)
			if err != nil {
				return "", err
			}
			fmt.Fprintln(h, target)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
