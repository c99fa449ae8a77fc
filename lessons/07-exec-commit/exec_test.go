//go:build linux

package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/unboxlab/unbox/internal/kit/kittest"
	"github.com/unboxlab/unbox/internal/layer"
	"github.com/unboxlab/unbox/internal/nsenter"
	"github.com/unboxlab/unbox/internal/ocilayout"
	"github.com/unboxlab/unbox/internal/procfs"
)

// mountedAt is the filesystem type mounted at path, or "".
func mountedAt(path string) (string, error) {
	ms, err := procfs.ReadMountinfo("self")
	if err != nil {
		return "", err
	}
	m, _ := procfs.Mounts(ms).At(path)
	return m.Type, nil
}

// testLab is a lab in the test's temp directory with the base image built
// and unpacked, torn down when the test ends; the leak check proves the
// teardown complete.
func testLab(t *testing.T) (*lab, ocilayout.Image, []snapshot) {
	t.Helper()
	kittest.Privileged(t, needs...)
	l, err := newLab(filepath.Join(t.TempDir(), "lab"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.teardown(); err != nil {
			t.Errorf("teardown: %v", err)
		}
	})
	base, _, err := l.buildBase(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	snaps, err := l.unpack(base)
	if err != nil {
		t.Fatal(err)
	}
	return l, base, snaps
}

func startWeb(t *testing.T, l *lab, img ocilayout.Image, snaps []snapshot, name string) *container {
	t.Helper()
	c, err := l.newContainer(name, img, snaps)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.start(context.Background(), l); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestPrivExecLandsInEveryNamespaceAndCgroup: a process exec'd into the
// lesson's container is in each of PID 1's namespaces (the inode numbers
// are equal) and in its cgroup.
func TestPrivExecLandsInEveryNamespaceAndCgroup(t *testing.T) {
	l, img, snaps := testLab(t)
	c := startWeb(t, l, img, snaps, "web")
	p, err := l.exec(c, []string{"sleep", "60"}, execOpts{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Signal(os.Kill)
	want, err := nsenter.Inodes(c.Pid())
	if err != nil {
		t.Fatal(err)
	}
	got, err := nsenter.Inodes(p.Pid())
	if err != nil {
		t.Fatal(err)
	}
	host, _ := nsenter.Inodes(os.Getpid())
	for _, kind := range nsenter.All {
		if got[kind] != want[kind] {
			t.Errorf("exec'd process's %s namespace = %d; want PID 1's, %d", kind, got[kind], want[kind])
		}
	}
	if len(p.Joined()) != 7 || host[nsenter.User] == want[nsenter.User] {
		t.Errorf("joined %v; want 7 namespaces, the user namespace among them", p.Joined())
	}
	procs, err := c.Cgroup.Procs()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(procs, p.Pid()) || !slices.Contains(procs, c.Pid()) {
		t.Errorf("cgroup.procs of %s = %v; want PID 1 (%d) and the exec'd process (%d)", c.Cgroup.Path(), procs, c.Pid(), p.Pid())
	}
}

// TestPrivExitCodesPropagate: the program's status, Docker's 126 and 127,
// and a clear error for a container that has stopped.
func TestPrivExitCodesPropagate(t *testing.T) {
	l, img, snaps := testLab(t)
	c := startWeb(t, l, img, snaps, "web")
	if _, st, err := l.run(c, []string{"sh", "-c", "exit 3"}, execOpts{}); err != nil || st.ExitCode() != 3 {
		t.Errorf("sh -c 'exit 3': %v, %v; want exit status 3", st, err)
	}
	for args, code := range map[string]int{"no-such-command": 127, "/etc/motd": 126, "/srv/www": 126} {
		_, _, err := l.run(c, []string{args}, execOpts{})
		var se *nsenter.StartError
		if !errors.As(err, &se) || se.ExitCode() != code {
			t.Errorf("exec %s: %v; want a StartError with exit code %d", args, err, code)
		}
	}
	if err := c.kill(l); err != nil {
		t.Fatal(err)
	}
	_, _, err := l.run(c, []string{"true"}, execOpts{})
	if !errors.Is(err, nsenter.ErrNotRunning) {
		t.Errorf("exec into a stopped container: %v; want ErrNotRunning", err)
	}
}

// commitNames lists the entry names of c's committed layer.
func commitNames(t *testing.T, c *container) []string {
	t.Helper()
	var buf bytes.Buffer
	if _, err := layer.Commit(&buf, c.Upper, layer.DiffOptions{Exclude: commitExclude}); err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, hdr.Name)
	}
}

func change(t *testing.T, l *lab, c *container) {
	t.Helper()
	if out, st, err := l.run(c, []string{"sh", "-ec", changeScript}, execOpts{}); err != nil || st.Code != 0 {
		t.Fatalf("the changes: %v, %v\n%s", st, err, out)
	}
}

// TestPrivCommittedTarMatchesTheChanges: the layer holds exactly step 7's
// changes and their directories, and two containers with the same changes
// made at other times commit to the same digest.
func TestPrivCommittedTarMatchesTheChanges(t *testing.T) {
	l, img, snaps := testLab(t)
	a := startWeb(t, l, img, snaps, "web")
	change(t, l, a)
	want := []string{"etc/", "etc/motd", "srv/", "srv/www/", "srv/www/.wh.about.html", "srv/www/new.html",
		"var/", "var/cache/", "var/cache/app/", "var/cache/app/.wh..wh..opq", "var/cache/app/page-1"}
	if got := commitNames(t, a); !slices.Equal(got, want) {
		t.Errorf("committed layer of web:\n%q\nwant\n%q", got, want)
	}
	time.Sleep(1100 * time.Millisecond) // other mtimes, to the second
	b := startWeb(t, l, img, snaps, "web-b")
	change(t, l, b)
	la, err := layer.Commit(io.Discard, a.Upper, layer.DiffOptions{Exclude: commitExclude})
	if err != nil {
		t.Fatal(err)
	}
	lb, err := layer.Commit(io.Discard, b.Upper, layer.DiffOptions{Exclude: commitExclude})
	if err != nil {
		t.Fatal(err)
	}
	if la.Descriptor.Digest != lb.Descriptor.Digest || la.DiffID != lb.DiffID {
		t.Errorf("the same changes in two containers: %s and %s; want the same digest", la.Descriptor.Digest, lb.Descriptor.Digest)
	}
}

// TestPrivCommittedImageShowsTheChange: a container of the committed image
// sees the changes and none of the left-out files.
func TestPrivCommittedImageShowsTheChange(t *testing.T) {
	l, img, snaps := testLab(t)
	web := startWeb(t, l, img, snaps, "web")
	change(t, l, web)
	ly, err := layer.Store(l.Layout, func(w io.Writer) error {
		return layer.WriteDiff(w, web.Upper, layer.DiffOptions{Exclude: commitExclude})
	})
	if err != nil {
		t.Fatal(err)
	}
	committed, err := l.Layout.WriteImage(img.WithLayer(ly, ocispec.History{CreatedBy: "test"}), committedImage)
	if err != nil {
		t.Fatal(err)
	}
	read, err := l.Layout.Image(committedImage)
	if err != nil || len(read.Layers()) != 3 {
		t.Fatalf("the committed image reads back with %d layers, %v; want 3", len(read.Layers()), err)
	}
	snaps2, err := l.unpack(committed)
	if err != nil {
		t.Fatal(err)
	}
	if snaps2[0].Unpacked || snaps2[1].Unpacked || !snaps2[2].Unpacked {
		t.Errorf("unpacked %v, %v, %v; want only the new layer unpacked, the base's shared", snaps2[0].Unpacked, snaps2[1].Unpacked, snaps2[2].Unpacked)
	}
	web2 := startWeb(t, l, committed, snaps2, "web2")
	out, st, err := l.run(web2, []string{"sh", "-c", "cat /srv/www/new.html /etc/motd /var/cache/app/*; ls /srv/www; cat /etc/hostname; grep -c db /etc/hosts"}, execOpts{})
	if err != nil {
		t.Fatal(err)
	}
	want := "<p>new page</p>\nWelcome to the unbox07 image.\nChanged in the container.\nfresh\nindex.html\nnew.html\nweb2\n0\n"
	if out != want || st.ExitCode() != 1 { // grep -c of nothing exits 1
		t.Errorf("in a container of the committed image: %v\n%q\nwant\n%q", st, out, want)
	}
	if _, err := os.Lstat(filepath.Join(snaps2[2].Dir, "data")); !os.IsNotExist(err) {
		t.Errorf("the committed layer has data/: %v; want the volume's mount point left out", err)
	}
}
