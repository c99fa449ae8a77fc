package rootfstest

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/unboxlab/unbox/internal/procfs"
	"github.com/unboxlab/unbox/internal/rootfs"
)

// Style is how a hostile symlink names the host directory.
type Style string

const (
	// Relative climbs out with more ".." than the root is deep:
	// ../../../../../../tmp/<bait>/proc.
	Relative Style = "relative"
	// Absolute names the host path: /tmp/<bait>/proc.
	Absolute Style = "absolute"
)

// Entries are the paths a runtime mounts onto or writes into, which a
// hostile root replaces with symlinks by default: /proc, /dev, /sys,
// /etc/hostname, and /data, a volume's target.
var Entries = []string{"/proc", "/dev", "/sys", "/etc/hostname", "/data"}

// Hostile is a root filesystem in which some entries are symlinks that,
// followed from the host, lead into Bait, a directory on the host.
type Hostile struct {
	Root string // the root filesystem
	Bait string // the host directory the links lead to
	// Links maps each replaced entry (as the container names it) to its
	// link target.
	Links map[string]string

	before []string // Bait's tree as built
}

// NewHostile builds a root filesystem with [rootfs.Build] under the test's
// temp directory, makes a bait directory on the host (in the temp
// directory, named unbox-hostile-*, removed when the test ends) holding a
// directory or file of each entry's name, and replaces each of entries
// (default [Entries]) in the root with a symlink of the given style to its
// bait. It fails the test unless each link, followed from the host, does
// reach the bait: the root is really hostile.
func NewHostile(t testing.TB, style Style, entries ...string) *Hostile {
	t.Helper()
	if len(entries) == 0 {
		entries = Entries
	}
	root := filepath.Join(t.TempDir(), "rootfs")
	if _, err := rootfs.Build(context.Background(), root, rootfs.Options{}); err != nil {
		t.Fatal(err)
	}
	bait, err := os.MkdirTemp("", "unbox-hostile-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(bait) })
	h := &Hostile{Root: root, Bait: bait, Links: map[string]string{}}
	for _, e := range entries {
		name := filepath.Base(e)
		if err := makeBait(filepath.Join(bait, name), e); err != nil {
			t.Fatal(err)
		}
		target := filepath.Join(bait, name)
		if style == Relative {
			depth := strings.Count(filepath.Dir(filepath.Join(root, e)), "/")
			target = strings.Repeat("../", depth+2) + strings.TrimPrefix(target, "/")
		}
		link := filepath.Join(root, e)
		if err := os.RemoveAll(link); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
		h.Links[e] = target
		if got, err := filepath.EvalSymlinks(link); err != nil || got != filepath.Join(bait, name) {
			t.Fatalf("hostile link %s -> %s leads to %q (%v) from the host; want the bait %s", e, target, got, err, filepath.Join(bait, name))
		}
	}
	if h.before, err = tree(bait); err != nil {
		t.Fatal(err)
	}
	return h
}

// makeBait is what a runtime that follows the link would find: a file for
// /etc/hostname, a directory with one file in it for the others.
func makeBait(path, entry string) error {
	if entry == "/etc/hostname" {
		return os.WriteFile(path, []byte("the host's own\n"), 0o644)
	}
	if err := os.Mkdir(path, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(path, "host-file"), []byte("the host's own\n"), 0o644)
}

// CheckBaitUntouched fails the test unless the bait directory is exactly as
// built: the same names, types, modes and contents, nothing added, and
// nothing mounted at or under it in this mount namespace.
func (h *Hostile) CheckBaitUntouched(t testing.TB) {
	t.Helper()
	after, err := tree(h.Bait)
	if err != nil {
		t.Fatalf("read bait %s: %v", h.Bait, err)
	}
	if !slices.Equal(h.before, after) {
		t.Errorf("bait %s changed:\nbefore %q\nafter  %q", h.Bait, h.before, after)
	}
	ms, err := procfs.ReadMountinfo("self")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range procfs.Mounts(ms).Under(h.Bait) {
		t.Errorf("mounted on the bait: %s", m.Line())
	}
}

// tree lists dir's contents as "path mode size content", sorted.
func tree(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		line := fmt.Sprintf("%s %v %d", strings.TrimPrefix(path, dir), fi.Mode(), fi.Size())
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			line += " " + string(b)
		}
		out = append(out, line)
		return nil
	})
	return out, err
}
