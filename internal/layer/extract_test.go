//go:build linux

package layer_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/kit/kittest"
	"github.com/unboxlab/unbox/internal/layer"
	"github.com/unboxlab/unbox/internal/ocilayout"
)

func TestMain(m *testing.M) { kittest.Main(m, nil) }

// entry is one tar entry for a test archive: a header and, for a regular
// file, its content.
type entry struct {
	hdr  tar.Header
	body string
}

func file(name, body string, mode int64) entry {
	return entry{tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(body))}, body}
}

func dir(name string, mode int64) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: mode}}
}

func symlink(name, target string) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777}}
}

func hardlink(name, target string) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target}}
}

func archive(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := e.hdr
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// hostile is a target directory and, next to it on the host, a bait
// directory that a hostile layer tries to reach: the test fails unless the
// bait is exactly as it was.
type hostile struct {
	target, bait string
	before       []string
}

func newHostile(t *testing.T) *hostile {
	t.Helper()
	base := t.TempDir()
	h := &hostile{target: filepath.Join(base, "target"), bait: filepath.Join(base, "bait")}
	for _, d := range []string{h.target, h.bait} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(h.bait, "file"), []byte("the host's own\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h.before = tree(t, h.bait)
	t.Cleanup(func() {
		if after := tree(t, h.bait); !slices.Equal(h.before, after) {
			t.Errorf("the host outside the target changed: %s\nbefore %q\nafter  %q", h.bait, h.before, after)
		}
	})
	return h
}

// tree lists dir as "path type mode links size content", sorted.
func tree(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		line := fmt.Sprintf("%s %o %d %d", strings.TrimPrefix(p, dir), st.Mode, st.Nlink, st.Size)
		if d.Type().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			line += " " + string(b)
		}
		out = append(out, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func read(t testing.TB, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("read %s: %v", p, err)
	}
	return string(b)
}

// TestExtractHostileLayers: each layer tries to write outside the target;
// each is refused with an error that says why, or contained in the target,
// and the host next to it is untouched (newHostile's check).
func TestExtractHostileLayers(t *testing.T) {
	for _, c := range []struct {
		name    string
		entries func(h *hostile) []entry
		wantErr string
		check   func(t *testing.T, h *hostile)
	}{
		{
			name:    "dot-dot",
			entries: func(h *hostile) []entry { return []entry{file("../bait/file", "owned\n", 0o644)} },
			wantErr: `a ".." component would leave the layer`,
		},
		{
			name:    "dot-dot in the middle",
			entries: func(h *hostile) []entry { return []entry{file("a/../../bait/new", "owned\n", 0o644)} },
			wantErr: `a ".." component would leave the layer`,
		},
		{
			name:    "absolute name",
			entries: func(h *hostile) []entry { return []entry{file(h.bait+"/file", "owned\n", 0o644)} },
			check: func(t *testing.T, h *hostile) {
				if got := read(t, filepath.Join(h.target, h.bait, "file")); got != "owned\n" {
					t.Errorf("absolute name: inside the target %q; want the entry there", got)
				}
			},
		},
		{
			name: "write through an absolute symlink to a host directory",
			entries: func(h *hostile) []entry {
				return []entry{symlink("evil", h.bait), file("evil/file", "owned\n", 0o644)}
			},
			// Inside the target, the link leads nowhere: nothing to write into.
			wantErr: "its directory evil: ",
		},
		{
			name: "write through an absolute symlink, contained",
			entries: func(h *hostile) []entry {
				return []entry{dir(h.bait+"/", 0o755), symlink("evil", h.bait), file("evil/file", "owned\n", 0o644)}
			},
			check: func(t *testing.T, h *hostile) {
				if got := read(t, filepath.Join(h.target, h.bait, "file")); got != "owned\n" {
					t.Errorf("through an absolute link: %q inside the target; want the entry there", got)
				}
				if l, err := os.Readlink(filepath.Join(h.target, "evil")); err != nil || l != h.bait {
					t.Errorf("evil = %q, %v; want the link kept as it was written", l, err)
				}
			},
		},
		{
			name: "write through a climbing symlink, contained",
			entries: func(h *hostile) []entry {
				up := strings.Repeat("../", strings.Count(h.target, "/")+3)
				return []entry{dir(h.bait+"/", 0o755), dir("a/", 0o755), symlink("a/evil", up+strings.TrimPrefix(h.bait, "/")),
					file("a/evil/new", "owned\n", 0o644)}
			},
			check: func(t *testing.T, h *hostile) {
				if got := read(t, filepath.Join(h.target, h.bait, "new")); got != "owned\n" {
					t.Errorf("through a climbing link: %q inside the target; want the entry there", got)
				}
			},
		},
		{
			name: "replace a symlink, never write to its target",
			entries: func(h *hostile) []entry {
				return []entry{symlink("evil", h.bait+"/file"), file("evil", "owned\n", 0o644)}
			},
			check: func(t *testing.T, h *hostile) {
				if got := read(t, filepath.Join(h.target, "evil")); got != "owned\n" {
					t.Errorf("the file that replaced the link: %q", got)
				}
			},
		},
		{
			name: "a directory where a symlink was",
			entries: func(h *hostile) []entry {
				return []entry{symlink("evil", h.bait), dir("evil/", 0o755), file("evil/new", "inside\n", 0o644)}
			},
			check: func(t *testing.T, h *hostile) {
				if got := read(t, filepath.Join(h.target, "evil/new")); got != "inside\n" {
					t.Errorf("evil/new = %q; want it in a directory that replaced the link", got)
				}
			},
		},
		{
			name:    "hard link to a host file",
			entries: func(h *hostile) []entry { return []entry{hardlink("hl", h.bait+"/file")} },
			wantErr: "not in this layer",
		},
		{
			name:    "hard link climbing out",
			entries: func(h *hostile) []entry { return []entry{hardlink("hl", "../bait/file")} },
			wantErr: `a ".." component would leave the layer`,
		},
		{
			name: "hard link through a symlink",
			entries: func(h *hostile) []entry {
				return []entry{symlink("evil", h.bait), hardlink("hl", "evil/file")}
			},
			wantErr: "not in this layer",
		},
		{
			name: "hard link inside the layer",
			entries: func(h *hostile) []entry {
				return []entry{file("a", "one file\n", 0o644), hardlink("b", "/a")}
			},
			check: func(t *testing.T, h *hostile) {
				var a, b unix.Stat_t
				unix.Lstat(filepath.Join(h.target, "a"), &a)
				unix.Lstat(filepath.Join(h.target, "b"), &b)
				if a.Ino != b.Ino || a.Nlink != 2 {
					t.Errorf("a and b: inodes %d and %d, %d links; want one file with two names", a.Ino, b.Ino, a.Nlink)
				}
			},
		},
		{
			name: "device node",
			entries: func(h *hostile) []entry {
				return []entry{{hdr: tar.Header{Typeflag: tar.TypeBlock, Name: "dev/sda", Mode: 0o666, Devmajor: 8}}}
			},
			wantErr: "a device node (4 8:0): extracting devices needs ExtractOptions.AllowDevices",
		},
		{
			name:    "entry under a whiteout name",
			entries: func(h *hostile) []entry { return []entry{file("a/.wh.b/c", "x", 0o644)} },
			wantErr: `lies under the marker ".wh.b"`,
		},
		{
			name:    "the root as a symlink",
			entries: func(h *hostile) []entry { return []entry{symlink("./", h.bait)} },
			wantErr: "the root of a layer must be a directory",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHostile(t)
			_, err := layer.Extract(bytes.NewReader(archive(t, c.entries(h)...)), h.target, layer.ExtractOptions{NoChown: true})
			switch {
			case c.wantErr == "" && err != nil:
				t.Fatalf("Extract = %v; want it contained", err)
			case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
				t.Fatalf("Extract = %v; want an error with %q", err, c.wantErr)
			}
			if c.check != nil {
				c.check(t, h)
			}
		})
	}
}

// TestExtractSetuidOnlyWhenAsked: modes are exactly the entries': the
// setuid and setgid bits where they are set, and nowhere else (a directory
// made in a setgid directory inherits the bit; the entry's mode takes it
// away again).
func TestExtractSetuidOnlyWhenAsked(t *testing.T) {
	h := newHostile(t)
	_, err := layer.Extract(bytes.NewReader(archive(t,
		dir("bin/", 0o755), file("bin/su", "#!/bin/sh\n", 0o4755), file("bin/ls", "#!/bin/sh\n", 0o755),
		dir("shared/", 0o2775), dir("shared/sub/", 0o755), file("shared/f", "x", 0o644), dir("tmp/", 0o1777),
	)), h.target, layer.ExtractOptions{NoChown: true})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]fs.FileMode{
		"bin/su": fs.ModeSetuid | 0o755, "bin/ls": 0o755, "shared": fs.ModeDir | fs.ModeSetgid | 0o775,
		"shared/sub": fs.ModeDir | 0o755, "shared/f": 0o644, "tmp": fs.ModeDir | fs.ModeSticky | 0o777,
	} {
		fi, err := os.Lstat(filepath.Join(h.target, name))
		if err != nil || fi.Mode() != want {
			t.Errorf("mode of %s = %v, %v; want %v", name, fi.Mode(), err, want)
		}
	}
}

// TestExtractLimits: a decompression bomb stops at the byte limit, and a
// layer of too many entries at the entry limit.
func TestExtractLimits(t *testing.T) {
	big := archive(t, file("zeros", strings.Repeat("\x00", 32<<20), 0o644))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(big)
	zw.Close()
	if gz.Len() > 1<<20 {
		t.Fatalf("the bomb is %d bytes compressed; want it small", gz.Len())
	}
	h := newHostile(t)
	_, err := layer.Extract(&gz, h.target, layer.ExtractOptions{NoChown: true, MaxBytes: 1 << 20})
	if !errors.Is(err, layer.ErrLimit) || !strings.Contains(err.Error(), "more than 1048576 bytes uncompressed") {
		t.Errorf("Extract of %d compressed bytes holding 32 MiB, limit 1 MiB = %v; want ErrLimit", gz.Len(), err)
	}
	if fi, err := os.Stat(filepath.Join(h.target, "zeros")); err == nil && fi.Size() > 2<<20 {
		t.Errorf("the bomb wrote %d bytes before it was stopped; want about the limit", fi.Size())
	}

	var many []entry
	for i := range 11 {
		many = append(many, file(fmt.Sprintf("f%d", i), "", 0o644))
	}
	_, err = layer.Extract(bytes.NewReader(archive(t, many...)), newHostile(t).target, layer.ExtractOptions{NoChown: true, MaxEntries: 10})
	if !errors.Is(err, layer.ErrLimit) || !strings.Contains(err.Error(), "more than 10 entries") {
		t.Errorf("Extract of 11 entries, limit 10 = %v; want ErrLimit", err)
	}
}

// TestExtractDiffID: the digest Extract reports is that of the whole
// uncompressed stream, whether it came compressed or not.
func TestExtractDiffID(t *testing.T) {
	tarball := archive(t, dir("etc/", 0o755), file("etc/motd", "hello\n", 0o644))
	want := digest.FromBytes(tarball)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(tarball)
	zw.Close()
	for name, in := range map[string][]byte{"tar": tarball, "tar+gzip": gz.Bytes()} {
		st, err := layer.Extract(bytes.NewReader(in), t.TempDir(), layer.ExtractOptions{NoChown: true})
		if err != nil {
			t.Fatal(err)
		}
		if st.DiffID != want || st.Bytes != int64(len(tarball)) || st.Entries != 2 {
			t.Errorf("%s: Extract = %+v; want diff ID %s, %d bytes, 2 entries", name, st, want, len(tarball))
		}
	}
	if sum := sha256.Sum256(tarball); want.Encoded() != fmt.Sprintf("%x", sum) {
		t.Fatal("digest.FromBytes is not sha256")
	}
}

// TestPrivExtractOwnersDevicesMarkers: as root, owners are set before modes
// (a setuid file owned by another user keeps its bit), devices are made
// when allowed, markers become overlayfs's disk form, overlayfs's own
// xattrs in a tar are dropped, and a whiteout written "through" a link to
// the host lands inside.
func TestPrivExtractOwnersDevicesMarkers(t *testing.T) {
	kittest.Privileged(t)
	h := newHostile(t)
	su := file("bin/su", "#!/bin/sh\n", 0o4755)
	su.hdr.Uid, su.hdr.Gid = 1000, 1000
	forged := dir("forged/", 0o755)
	forged.hdr.PAXRecords = map[string]string{"SCHILY.xattr.trusted.overlay.redirect": "/etc", "SCHILY.xattr.trusted.note": "kept"}
	_, err := layer.Extract(bytes.NewReader(archive(t,
		su,
		entry{hdr: tar.Header{Typeflag: tar.TypeChar, Name: "dev/null", Mode: 0o666, Devmajor: 1, Devminor: 3}},
		file("etc/.wh.motd", "", 0o600),
		dir("srv/", 0o755), file("srv/.wh..wh..opq", "", 0o600),
		forged,
		dir(h.bait+"/", 0o755), symlink("evil", h.bait), file("evil/.wh.file", "", 0o600),
	)), h.target, layer.ExtractOptions{AllowDevices: true})
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(h.target, "bin/su"), &st); err != nil || st.Uid != 1000 || st.Mode&0o7777 != 0o4755 {
		t.Errorf("bin/su: uid %d mode %o, %v; want uid 1000, mode 4755", st.Uid, st.Mode&0o7777, err)
	}
	if err := unix.Lstat(filepath.Join(h.target, "dev/null"), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != unix.Mkdev(1, 3) {
		t.Errorf("dev/null: mode %o rdev %d, %v; want the character device 1:3", st.Mode, st.Rdev, err)
	}
	for _, p := range []string{"etc/motd", h.bait + "/file"} {
		if err := unix.Lstat(filepath.Join(h.target, p), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
			t.Errorf("%s: mode %o rdev %d, %v; want a whiteout, a character device 0/0", p, st.Mode, st.Rdev, err)
		}
	}
	if v := xattr(filepath.Join(h.target, "srv"), "trusted.overlay.opaque"); v != "y" {
		t.Errorf("srv: trusted.overlay.opaque = %q; want y", v)
	}
	if v := xattr(filepath.Join(h.target, "forged"), "trusted.overlay.redirect"); v != "" {
		t.Errorf("forged: trusted.overlay.redirect = %q; want it dropped", v)
	}
	if v := xattr(filepath.Join(h.target, "forged"), "trusted.note"); v != "kept" {
		t.Errorf("forged: trusted.note = %q; want kept", v)
	}
}

func xattr(p, name string) string {
	buf := make([]byte, 64)
	n, err := unix.Lgetxattr(p, name, buf)
	if err != nil {
		return ""
	}
	return string(buf[:n])
}

// TestUnpackIsAllOrNothing: a snapshot is unpacked once; a layer whose
// content is not its diff ID leaves no snapshot behind.
func TestUnpackIsAllOrNothing(t *testing.T) {
	lay, err := ocilayout.Create(filepath.Join(t.TempDir(), "layout"))
	if err != nil {
		t.Fatal(err)
	}
	tarball := archive(t, dir("etc/", 0o755), file("etc/motd", "hello\n", 0o644))
	l, err := layer.Store(lay, func(w io.Writer) error { _, err := w.Write(tarball); return err })
	if err != nil {
		t.Fatal(err)
	}
	if l.DiffID != digest.FromBytes(tarball) {
		t.Fatalf("Store's diff ID %s; want the tar's %s", l.DiffID, digest.FromBytes(tarball))
	}
	snap := filepath.Join(t.TempDir(), "snap")
	for i, want := range []bool{true, false} {
		got, err := layer.Unpack(lay, l, snap, layer.ExtractOptions{NoChown: true})
		if err != nil || got != want {
			t.Fatalf("Unpack #%d = %v, %v; want %v", i+1, got, err, want)
		}
	}
	if got := read(t, filepath.Join(snap, "etc/motd")); got != "hello\n" {
		t.Errorf("snapshot etc/motd = %q", got)
	}
	wrong := l
	wrong.DiffID = digest.FromString("something else")
	other := filepath.Join(filepath.Dir(snap), "other")
	if _, err := layer.Unpack(lay, wrong, other, layer.ExtractOptions{NoChown: true}); err == nil || !strings.Contains(err.Error(), "the image config says") {
		t.Errorf("Unpack with the wrong diff ID = %v; want an error", err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(snap)); len(entries) != 1 {
		t.Errorf("after a failed unpack, %s holds %d entries; want the first snapshot alone", filepath.Dir(snap), len(entries))
	}
}
