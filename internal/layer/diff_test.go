//go:build linux

package layer_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/kit/kittest"
	"github.com/unboxlab/unbox/internal/layer"
	"github.com/unboxlab/unbox/internal/overlay"
)

// listing is a layer tar as `tar -tv` would list it, one line per entry:
// type, mode, uid/gid, size, time, name (-> link target).
func listing(t testing.TB, r io.Reader) []string {
	t.Helper()
	var out []string
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		line := fmt.Sprintf("%c %04o %d/%d %d %d %s", hdr.Typeflag, hdr.Mode, hdr.Uid, hdr.Gid, hdr.Size, hdr.ModTime.Unix(), hdr.Name)
		if hdr.Linkname != "" {
			line += " -> " + hdr.Linkname
		}
		if hdr.Uname != "" || hdr.Gname != "" {
			line += " (names " + hdr.Uname + "/" + hdr.Gname + ")"
		}
		for k, v := range hdr.PAXRecords {
			if strings.HasPrefix(k, "SCHILY.xattr.") {
				line += " " + strings.TrimPrefix(k, "SCHILY.xattr.") + "=" + v
			}
		}
		out = append(out, line)
	}
}

func write(t testing.TB, p, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // not the umask's
		t.Fatal(err)
	}
}

// TestWriteDiffOfAPlainDirectory: without markers, a directory is written
// as it is: lexical order, parents first, numeric owners without names, one
// time for every entry, a second name of a file as a hard link, setuid
// bits, symlinks, no sockets, and the excluded paths left out.
func TestWriteDiffOfAPlainDirectory(t *testing.T) {
	dir := t.TempDir()
	write(t, dir+"/etc/app.conf", "debug=true\n", 0o644)
	write(t, dir+"/etc/hostname", "ctr\n", 0o644)
	write(t, dir+"/bin/tool", "#!/bin/sh\n", fs.ModeSetuid|0o755)
	write(t, dir+"/data/volume-file", "not mine\n", 0o644)
	if err := os.Link(dir+"/bin/tool", dir+"/bin/tool2"); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("tool", dir+"/bin/t"); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", dir+"/etc/sock")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	uid, gid := os.Getuid(), os.Getgid()
	var buf bytes.Buffer
	if err := layer.WriteDiff(&buf, dir, layer.DiffOptions{Exclude: []string{"/etc/hostname", "/data"}}); err != nil {
		t.Fatal(err)
	}
	own := fmt.Sprintf("%d/%d", uid, gid)
	want := []string{
		"5 0755 " + own + " 0 0 bin/",
		"2 0777 " + own + " 0 0 bin/t -> tool",
		"0 4755 " + own + " 10 0 bin/tool",
		"1 4755 " + own + " 0 0 bin/tool2 -> bin/tool",
		"5 0755 " + own + " 0 0 etc/",
		"0 0644 " + own + " 11 0 etc/app.conf",
	}
	if got := listing(t, &buf); !slices.Equal(got, want) {
		t.Errorf("WriteDiff of a plain directory:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// changes makes, through an overlay mounted on base, the changes lesson 07
// makes: a new file, a changed one, a deleted one, a directory removed and
// made again, plus a write to an init-layer file and to a volume's mount
// point, which a commit leaves out. It returns the upper dir, unmounted.
func changes(t *testing.T, base string) string {
	t.Helper()
	work := t.TempDir()
	upper, wd, merged := filepath.Join(work, "upper"), filepath.Join(work, "work"), filepath.Join(work, "merged")
	for _, d := range []string{upper, wd, merged} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	opts, err := overlay.Layers{Lower: []string{base}, Upper: upper, Work: wd}.Options(os.Getpagesize())
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("overlay", merged, "overlay", 0, opts); err != nil {
		t.Fatal(err)
	}
	defer unix.Unmount(merged, 0)
	write(t, merged+"/srv/new.txt", "new\n", 0o644)
	f, err := os.OpenFile(merged+"/etc/motd", os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("changed\n")
	f.Close()
	if err := os.Remove(merged + "/etc/group"); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(merged + "/var/cache/app"); err != nil {
		t.Fatal(err)
	}
	write(t, merged+"/var/cache/app/fresh", "fresh\n", 0o644)
	write(t, merged+"/etc/hostname", "container-1\n", 0o644)
	write(t, merged+"/data/on-volume", "volume\n", 0o644)
	if err := unix.Unmount(merged, 0); err != nil {
		t.Fatal(err)
	}
	return upper
}

// baseLayer is the image the changes are made on.
func baseLayer(t *testing.T) string {
	t.Helper()
	base := t.TempDir()
	write(t, base+"/etc/motd", "welcome\n", 0o644)
	write(t, base+"/etc/group", "root:x:0:\n", 0o644)
	write(t, base+"/etc/hostname", "image\n", 0o644)
	write(t, base+"/var/cache/app/old-1", "old\n", 0o644)
	write(t, base+"/var/cache/app/old-2", "old\n", 0o644)
	write(t, base+"/srv/index.html", "<h1>hi</h1>\n", 0o644)
	return base
}

var exclude = append(slices.Clone(layer.InitFiles), "/data")

// TestPrivCommitMatchesTheChanges: the committed tar holds exactly the
// changes, markers in tar form, and nothing of the init layer or the
// volume; the same changes made again, later, give the same digests.
func TestPrivCommitMatchesTheChanges(t *testing.T) {
	kittest.Privileged(t, kit.NeedOverlay)
	base := baseLayer(t)
	upper := changes(t, base)
	var blob bytes.Buffer
	l, err := layer.Commit(&blob, upper, layer.DiffOptions{Exclude: exclude})
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(blob.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	var tarball bytes.Buffer
	io.Copy(&tarball, zr)
	want := []string{
		"5 0755 0/0 0 0 etc/",
		"0 0600 0/0 0 0 etc/.wh.group",
		"0 0644 0/0 16 0 etc/motd",
		"5 0755 0/0 0 0 srv/",
		"0 0644 0/0 4 0 srv/new.txt",
		"5 0755 0/0 0 0 var/",
		"5 0755 0/0 0 0 var/cache/",
		"5 0755 0/0 0 0 var/cache/app/",
		"0 0755 0/0 0 0 var/cache/app/.wh..wh..opq",
		"0 0644 0/0 6 0 var/cache/app/fresh",
	}
	if got := listing(t, bytes.NewReader(tarball.Bytes())); !slices.Equal(got, want) {
		t.Errorf("committed layer:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if l.DiffID != digest.FromBytes(tarball.Bytes()) || l.Descriptor.Digest != digest.FromBytes(blob.Bytes()) ||
		l.Descriptor.Size != int64(blob.Len()) || l.Descriptor.MediaType != ocispec.MediaTypeImageLayerGzip {
		t.Errorf("Commit = %+v; want the digests of the tar and of the blob, and the blob's size %d", l, blob.Len())
	}

	time.Sleep(20 * time.Millisecond) // other mtimes, the same change
	again, err := layer.Commit(io.Discard, changes(t, base), layer.DiffOptions{Exclude: exclude})
	if err != nil {
		t.Fatal(err)
	}
	if again.Descriptor.Digest != l.Descriptor.Digest || again.DiffID != l.DiffID {
		t.Errorf("the same changes committed twice: %s then %s; want the same digest", l.Descriptor.Digest, again.Descriptor.Digest)
	}
}

// TestPrivCommitThenExtract: the committed layer, extracted and stacked on
// the base, shows what the container saw.
func TestPrivCommitThenExtract(t *testing.T) {
	kittest.Privileged(t, kit.NeedOverlay)
	base := baseLayer(t)
	var blob bytes.Buffer
	l, err := layer.Commit(&blob, changes(t, base), layer.DiffOptions{Exclude: exclude})
	if err != nil {
		t.Fatal(err)
	}
	unpacked := t.TempDir()
	st, err := layer.Extract(&blob, unpacked, layer.ExtractOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st.DiffID != l.DiffID {
		t.Errorf("Extract's diff ID %s; want Commit's %s", st.DiffID, l.DiffID)
	}
	merged := t.TempDir()
	opts, err := overlay.Layers{Lower: []string{unpacked, base}}.Options(os.Getpagesize())
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("overlay", merged, "overlay", unix.MS_RDONLY, opts); err != nil {
		t.Fatal(err)
	}
	defer unix.Unmount(merged, 0)
	for p, want := range map[string]string{
		"etc/motd": "welcome\nchanged\n", "srv/new.txt": "new\n", "srv/index.html": "<h1>hi</h1>\n",
		"var/cache/app/fresh": "fresh\n", "etc/hostname": "image\n",
	} {
		if got := read(t, filepath.Join(merged, p)); got != want {
			t.Errorf("%s in the image = %q; want %q", p, got, want)
		}
	}
	for _, gone := range []string{"etc/group", "var/cache/app/old-1", "data"} {
		if _, err := os.Lstat(filepath.Join(merged, gone)); !os.IsNotExist(err) {
			t.Errorf("%s in the image: %v; want it absent", gone, err)
		}
	}
}
