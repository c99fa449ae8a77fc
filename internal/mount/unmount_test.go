//go:build linux

package mount_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/kit/kittest"
	"github.com/unboxlab/unbox/internal/mount"
	"github.com/unboxlab/unbox/internal/procfs"
)

// nested are three mounts, each on the one before: the order matters.
func nested(src string) []mount.Mount {
	return []mount.Mount{
		{Source: "tmpfs", Target: "/a", Type: "tmpfs", Data: "size=1m"},
		{Source: "tmpfs", Target: "/a/b", Type: "tmpfs", Data: "size=1m"},
		{Source: src, Target: "/a/b/c", Flags: unix.MS_BIND},
	}
}

func mountsUnder(t *testing.T, dir string) []string {
	t.Helper()
	ms, err := procfs.ReadMountinfo("self")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range procfs.Mounts(ms).Under(dir) {
		out = append(out, m.Point)
	}
	return out
}

// TestPrivUnmountInReverse: nested mounts come off last first, each with a
// plain umount(2). Had the order been wrong, the kernel would have said
// EBUSY, the lazy fallback would have run, and Unmount would have returned
// a *LazyUnmountError: so a nil error proves the order.
func TestPrivUnmountInReverse(t *testing.T) {
	kittest.Privileged(t)
	root, src := t.TempDir(), t.TempDir()
	var trace []mount.Step
	m, err := mount.MountAll(root, nested(src), func(s mount.Step) { trace = append(trace, s) })
	if err != nil {
		t.Fatal(err)
	}
	want := []string{root + "/a", root + "/a/b", root + "/a/b/c"}
	if got := mountsUnder(t, root); !slices.Equal(got, want) {
		t.Fatalf("mounted %v; want %v", got, want)
	}
	if got := m.Points(); !slices.Equal(got, want) {
		t.Errorf("Points() = %v; want %v", got, want)
	}
	trace = nil
	if err := m.Unmount(); err != nil {
		t.Fatalf("Unmount() = %v; want nil: no lazy fallback", err)
	}
	if got, want := commands(trace), []string{"umount " + want[2], "umount " + want[1], "umount " + want[0]}; !slices.Equal(got, want) {
		t.Errorf("unmount trace = %v; want %v", got, want)
	}
	if got := mountsUnder(t, root); len(got) != 0 {
		t.Errorf("after Unmount, still mounted: %v", got)
	}
	if err := m.Unmount(); err != nil {
		t.Errorf("a second Unmount() = %v; want nil", err)
	}
}

// TestPrivUnmountInWrongOrderIsReported: the same mounts undone first to
// last, which the kernel refuses with EBUSY; the fallback detaches them,
// and says so. This is what makes TestPrivUnmountInReverse able to fail.
func TestPrivUnmountInWrongOrderIsReported(t *testing.T) {
	kittest.Privileged(t)
	root, src := t.TempDir(), t.TempDir()
	m, err := mount.MountAll(root, nested(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	err = m.UnmountInOrderMade()
	var lazy *mount.LazyUnmountError
	if !errors.As(err, &lazy) || !errors.Is(err, unix.EBUSY) || !slices.Contains(lazy.Paths, root+"/a") {
		t.Errorf("unmounting in the order made = %v; want a *LazyUnmountError naming %s/a", err, root)
	}
	if got := mountsUnder(t, root); len(got) != 0 {
		t.Errorf("after the lazy fallback, still in the table: %v", got)
	}
}

// TestPrivUnmountBusyIsReported: a mount held by an open file can only be
// detached, and Unmount says which.
func TestPrivUnmountBusyIsReported(t *testing.T) {
	kittest.Privileged(t)
	root := t.TempDir()
	m, err := mount.MountAll(root, nested(t.TempDir())[:1], nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(root, "a", "held"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	err = m.Unmount()
	var lazy *mount.LazyUnmountError
	if !errors.As(err, &lazy) || !slices.Equal(lazy.Paths, []string{root + "/a"}) {
		t.Errorf("Unmount() with a file open in it = %v; want a *LazyUnmountError naming %s/a", err, root)
	}
}

// TestPrivMountAllUndoesOnFailure: a failing mount undoes the ones before
// it, and the error names it as the command and its flags.
func TestPrivMountAllUndoesOnFailure(t *testing.T) {
	kittest.Privileged(t)
	root := t.TempDir()
	bad := append(nested(t.TempDir())[:2], mount.Mount{Source: "none", Target: "/a/b/c", Type: "no-such-fs", Flags: unix.MS_NOSUID})
	_, err := mount.MountAll(root, bad, nil)
	if want := "mount -t no-such-fs -o nosuid none " + root + "/a/b/c (MS_NOSUID): no such device"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("MountAll with a bad mount: %v; want %q", err, want)
	}
	if got := mountsUnder(t, root); len(got) != 0 {
		t.Errorf("after a failed MountAll, still mounted: %v", got)
	}
}

// TestPrivReadOnlyBindHoldsOnSubmounts: a recursive read-only bind is
// read-only all the way down, a plain one on its own mount; the source
// stays writable on the host.
func TestPrivReadOnlyBindHoldsOnSubmounts(t *testing.T) {
	kittest.Privileged(t)
	root, src := t.TempDir(), t.TempDir()
	sub := filepath.Join(src, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", sub, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(sub, 0) })

	var trace []mount.Step
	m, err := mount.MountAll(root, []mount.Mount{
		{Source: src, Target: "/rec", Flags: unix.MS_BIND | unix.MS_REC | unix.MS_RDONLY},
		{Source: src, Target: "/plain", Flags: unix.MS_BIND | unix.MS_RDONLY | unix.MS_NOSUID},
	}, func(s mount.Step) { trace = append(trace, s) })
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		dir  string
		want error
	}{
		{root + "/rec", unix.EROFS},
		{root + "/rec/sub", unix.EROFS},
		{root + "/plain", unix.EROFS},
		{sub, nil},
		{src, nil},
	} {
		err := os.WriteFile(filepath.Join(c.dir, "x"), nil, 0o644)
		if !errors.Is(err, c.want) && !(c.want == nil && err == nil) {
			t.Errorf("write in %s: %v; want %v", c.dir, err, c.want)
		}
	}
	for _, want := range []string{
		"mount --rbind " + src + " " + root + "/rec",
		"mount -o remount,bind,ro=recursive " + root + "/rec",
		"mount -o remount,bind,ro,nosuid " + root + "/plain",
	} {
		if !slices.Contains(commands(trace), want) {
			t.Errorf("trace %q lacks %q", commands(trace), want)
		}
	}
	if err := m.Unmount(); err != nil {
		t.Errorf("Unmount() = %v; want nil (a recursive bind comes off with its submounts)", err)
	}
	if got := mountsUnder(t, root); len(got) != 0 {
		t.Errorf("after Unmount, still mounted: %v", got)
	}
}
