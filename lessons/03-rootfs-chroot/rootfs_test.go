//go:build linux

package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/kit/kittest"
	"github.com/unboxlab/unbox/internal/mount"
	"github.com/unboxlab/unbox/internal/procfs"
	"github.com/unboxlab/unbox/internal/rootfs"
)

// Each test runs the same functions the steps narrate, and asserts what
// would break if the mechanism broke. kittest.Privileged's leak check then
// proves the host kept none of the mounts.

const notFound = "no such file or directory"

// testWorkdir makes a work directory where the lesson would (see
// workParent), removed when the test ends.
func testWorkdir(t *testing.T, source rootfs.Source) *workdir {
	t.Helper()
	parent, err := workParent()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp(parent, "unbox-rootfs-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	w, err := newWorkdir(context.Background(), filepath.Join(dir, "work"), source)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestPrivChrootShell(t *testing.T) {
	kittest.Privileged(t)
	w := testWorkdir(t, rootfs.Auto)
	v, err := chrootShell(context.Background(), w.Rootfs)
	if err != nil {
		t.Fatal(err)
	}
	top, _ := ls(w.Rootfs)
	if !slices.Equal(v.Root, visible(top)) {
		t.Errorf("ls / in the chroot = %v; want the rootfs, %v", v.Root, visible(top))
	}
	if !slices.Equal(v.Users, []string{"root", "nobody"}) {
		t.Errorf("users in the chroot = %v; want the rootfs's root and nobody", v.Users)
	}
	if len(v.Proc) != 0 {
		t.Errorf("ls /proc in the chroot = %v; want it empty (nothing mounted there)", v.Proc)
	}
	if host, _ := os.Hostname(); v.Hostname != host {
		t.Errorf("uname -n in the chroot = %q; want the host's %q (chroot makes no UTS namespace)", v.Hostname, host)
	}
	if v.PID != v.HostPID {
		t.Errorf("$$ in the chroot = %d; want the host PID %d (chroot makes no PID namespace)", v.PID, v.HostPID)
	}
}

// TestPrivChrootEscapes: the escape of step 3 is real. A root process in a
// chroot reads the host's file.
func TestPrivChrootEscapes(t *testing.T) {
	kittest.Privileged(t)
	w := testWorkdir(t, rootfs.Auto)
	r, err := runEscape(context.Background(), escapeConfig{Chroot: w.Rootfs, Marker: w.Marker})
	if err != nil {
		t.Fatal(err)
	}
	if r.Before != notFound {
		t.Errorf("cat %s inside the chroot, before = %q; want %q", w.Marker, r.Before, notFound)
	}
	if want := "(unreachable)" + w.Rootfs; len(r.Cwd) == 0 || r.Cwd[0] != want {
		t.Errorf("getcwd after chroot into a subdirectory = %q; want %q, outside the root", r.Cwd, want)
	}
	if depth := strings.Count(w.Rootfs, "/"); r.Ups != depth {
		t.Errorf("cd .. %d times to the top; want %d, the depth of %s", r.Ups, depth, w.Rootfs)
	}
	if last := r.Cwd[len(r.Cwd)-1]; last != "(unreachable)/" {
		t.Errorf("getcwd at the top = %q; want (unreachable)/, the host's /", last)
	}
	if r.After != "/" {
		t.Errorf("getcwd after chroot . = %q; want /", r.After)
	}
	if r.Marker != markerText+"\n" || r.MarkerErr != "" {
		t.Errorf("cat %s after the escape = %q (error %q); want the host's file, %q", w.Marker, r.Marker, r.MarkerErr, markerText)
	}
}

// TestPrivPivotRoot runs steps 4 to 7 in one container, as the lesson does,
// and checks each from inside and from the host.
func TestPrivPivotRoot(t *testing.T) {
	kittest.Privileged(t, kit.NeedNamespaces("mnt", "pid")...)
	w := testWorkdir(t, rootfs.Auto)
	ctr, err := startContainer(context.Background(), w)
	if err != nil {
		t.Fatal(err)
	}
	defer ctr.close()

	t.Run("pivot_root", func(t *testing.T) {
		r := ctr.pivot
		if r.PropagationAfter != "private" || r.SharedAfter != 0 {
			t.Errorf("after make-rprivate: / is %q, %d shared mounts; want private, 0", r.PropagationAfter, r.SharedAfter)
		}
		if !r.MountPoint {
			t.Errorf("after the bind mount, %s is not a mount point", w.Rootfs)
		}
		// pivot_root . .: the old root stacked on the new one, still mounted
		// with the host's mounts, but no path leads to the host's file.
		if r.Pivoted.AtRoot != 2 || !r.Pivoted.OnTop || r.Pivoted.Under == 0 {
			t.Errorf("right after pivot_root: %d mounts at /, old root on top %v, %d under it; want 2, true, the host's",
				r.Pivoted.AtRoot, r.Pivoted.OnTop, r.Pivoted.Under)
		}
		if r.Pivoted.Marker != notFound || r.Dropped.Marker != notFound {
			t.Errorf("cat %s after pivot_root = %q, after the detach = %q; want %q both times", w.Marker, r.Pivoted.Marker, r.Dropped.Marker, notFound)
		}
		if !slices.Equal(r.Dropped.Points, []string{"/"}) {
			t.Errorf("the mount table inside after umount -l . = %v; want / alone", r.Dropped.Points)
		}
		if want := []string{"mount --make-rprivate /", "mount --rbind " + w.Rootfs + " " + w.Rootfs, "cd " + w.Rootfs,
			"pivot_root . .", "umount -l .", "cd /"}; !slices.Equal(commands(r.Trace), want) {
			t.Errorf("step 4's trace = %q; want %q", commands(r.Trace), want)
		}
		var points []string
		for _, m := range ctr.mounts {
			points = append(points, m.Point)
		}
		if !slices.Equal(points, []string{"/"}) {
			t.Errorf("the container's mount table, from the host = %v; want / alone", points)
		}
	})

	p, err := ctr.populate()
	if err != nil {
		t.Fatal(err)
	}
	t.Run("populate", func(t *testing.T) {
		if p.ProcSelf != "1" || !slices.Equal(p.Procs, []string{"1"}) {
			t.Errorf("/proc/self = %q, processes %v; want 1 and [1], the container's PID namespace", p.ProcSelf, p.Procs)
		}
		if p.SysWrite != "read-only file system" {
			t.Errorf("mkdir /sys/unbox = %q; want read-only file system", p.SysWrite)
		}
		if !slices.Equal(p.Pts, []string{"ptmx"}) {
			t.Errorf("ls /dev/pts = %v; want [ptmx], a new devpts instance", p.Pts)
		}
		if p.ShmMode != "drwxrwxrwt" {
			t.Errorf("/dev/shm mode = %s; want drwxrwxrwt", p.ShmMode)
		}
		var names []string
		for _, e := range p.Dev {
			names = append(names, e.Name)
		}
		allowed := []string{"fd", "full", "null", "ptmx", "pts", "random", "shm", "stderr", "stdin", "stdout", "tty", "urandom", "zero"}
		if !slices.Equal(names, allowed) {
			t.Errorf("ls /dev = %v; want only %v", names, allowed)
		}
		for _, d := range mount.SafeDevices {
			i := slices.IndexFunc(p.Dev, func(e devEntry) bool { return "/dev/"+e.Name == d.Path })
			if i < 0 {
				continue // reported above
			}
			if e := p.Dev[i]; !e.Char || e.Major != d.Major || e.Minor != d.Minor || e.Mode != "crw-rw-rw-" {
				t.Errorf("%s = %+v; want crw-rw-rw- c %d %d", d.Path, e, d.Major, d.Minor)
			}
		}
		if p.Zero != "00 00 00 00" || p.Full != "no space left on device" {
			t.Errorf("/dev/zero read %q, /dev/full write %q; want zeros and ENOSPC", p.Zero, p.Full)
		}
		var points []string
		for _, m := range p.Mounts {
			points = append(points, m.Point)
			if m.Point == "/sys" && !strings.HasPrefix(m.Options, "ro,") {
				t.Errorf("/sys options %q; want read-only", m.Options)
			}
		}
		if want := []string{"/", "/proc", "/sys", "/dev", "/dev/pts", "/dev/shm"}; !slices.Equal(points, want) {
			t.Errorf("mount table inside = %v; want %v", points, want)
		}
	})

	t.Run("host table", func(t *testing.T) {
		host, err := procfs.ReadMountinfo("self")
		if err != nil {
			t.Fatal(err)
		}
		if u := procfs.Mounts(host).Under(w.Base); len(u) > 0 {
			t.Errorf("the host's mount table has the container's mounts: %v", u)
		}
		inside, err := procfs.ReadMountinfo(ctr.pid())
		if err != nil {
			t.Fatal(err)
		}
		if len(inside) != 6 {
			t.Errorf("/proc/<child>/mountinfo from the host: %d mounts; want 6", len(inside))
		}
	})

	e, err := ctr.escape()
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(w.Rootfs, escapeDir))
	t.Run("escape fails", func(t *testing.T) {
		if e.Before != notFound || e.MarkerErr != notFound || e.Marker != "" {
			t.Errorf("cat %s inside, before and after the escape = %q, %q (read %q); want %q both times",
				w.Marker, e.Before, e.MarkerErr, e.Marker, notFound)
		}
		if !slices.Equal(e.Cwd, []string{"(unreachable)/"}) || e.Ups != 0 {
			t.Errorf("getcwd = %q after %d cd ..; want [(unreachable)/] after 0: at the container's /, .. is /", e.Cwd, e.Ups)
		}
		if e.After != "/" || !slices.Contains(e.Root, "bin") || slices.Contains(e.Root, ".oldroot") {
			t.Errorf("after chroot .: getcwd %q, ls / %v; want the container's own /", e.After, e.Root)
		}
		if len(e.Found) != 0 {
			t.Errorf("find / -xdev -name %s inside = %v; want nothing", markerName, e.Found)
		}
	})

	if err := ctr.finish(); err != nil {
		t.Errorf("container exit: %v", err)
	}
}

// TestPrivPivotRootHostTools: the same pivot with a root filesystem made of
// the host's own tools, what the kit builds when there is no static busybox.
func TestPrivPivotRootHostTools(t *testing.T) {
	kittest.Privileged(t, kit.NeedNamespaces("mnt", "pid")...)
	w := testWorkdir(t, rootfs.Host)
	ctr, err := startContainer(context.Background(), w)
	if err != nil {
		t.Fatal(err)
	}
	defer ctr.close()
	if ctr.pivot.Dropped.Marker != notFound || !slices.Equal(ctr.pivot.Dropped.Points, []string{"/"}) {
		t.Errorf("after pivot_root with a host-tools rootfs: cat %s = %q, mounts %v; want %q and / alone",
			w.Marker, ctr.pivot.Dropped.Marker, ctr.pivot.Dropped.Points, notFound)
	}
}

func commands(trace []mount.Step) []string {
	var out []string
	for _, s := range trace {
		out = append(out, s.Command)
	}
	return out
}
