//go:build linux

package mount_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/kit/kittest"
	"github.com/unboxlab/unbox/internal/mount"
	"github.com/unboxlab/unbox/internal/procfs"
	"github.com/unboxlab/unbox/internal/reexec"
	"github.com/unboxlab/unbox/internal/rootfs"
)

// enterRequest is what the test sends the "enter" child.
type enterRequest struct {
	Config mount.RootConfig
	// ReadOnlyRoot makes Config.Dir a read-only mount before entering, as
	// an image on a read-only filesystem would be.
	ReadOnlyRoot bool
	// MountAfter are mounted under the new / once entered, where there is
	// no /proc until the first of them is mounted.
	MountAfter []mount.Mount
	// Look are paths to report on from inside.
	Look []string
	// HostFile must not be visible inside.
	HostFile string
}

// enterReport is what the child saw from inside.
type enterReport struct {
	Trace    []mount.Step
	Dev      []string
	ProcSelf string
	HostFile bool
	Mounts   []string // "<point> <type>", from /proc/self/mountinfo
	RootRO   string   // the error from creating a file in /, or ""
	Look     map[string]string
}

func init() {
	reexec.Register("enter", func(c *reexec.Conn) error {
		var req enterRequest
		if err := c.Recv(&req); err != nil {
			return err
		}
		if req.ReadOnlyRoot {
			// Private first, as EnterRoot will: where / is shared (systemd),
			// this bind would otherwise appear on the host too.
			if err := mount.MakePrivate("/", nil); err != nil {
				return err
			}
			dir := req.Config.Dir
			if err := unix.Mount(dir, dir, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
				return err
			}
			if err := unix.Mount("", dir, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, ""); err != nil {
				return err
			}
		}
		var r enterReport
		trace := func(s mount.Step) { r.Trace = append(r.Trace, s) }
		if err := mount.EnterRoot(req.Config, trace); err != nil {
			return err
		}
		if len(req.MountAfter) > 0 {
			if _, err := mount.MountAll("/", req.MountAfter, trace); err != nil {
				return err
			}
		}
		entries, _ := os.ReadDir("/dev")
		for _, e := range entries {
			r.Dev = append(r.Dev, e.Name())
		}
		r.ProcSelf, _ = os.Readlink("/proc/self")
		_, err := os.Stat(req.HostFile)
		r.HostFile = err == nil
		ms, err := procfs.ReadMountinfo("self")
		if err != nil {
			return err
		}
		for _, m := range ms {
			r.Mounts = append(r.Mounts, m.Point+" "+m.Type)
		}
		if err := os.WriteFile("/unbox-write-test", nil, 0o644); err != nil {
			r.RootRO = errors.Unwrap(err).Error()
		}
		r.Look = map[string]string{}
		for _, p := range req.Look {
			r.Look[p] = look(p)
		}
		return c.Send(r)
	})
}

// look is what `cat` or `ls` says about p, in one line.
func look(p string) string {
	fi, err := os.Stat(p)
	switch {
	case err != nil:
		return errors.Unwrap(err).Error()
	case fi.IsDir():
		entries, _ := os.ReadDir(p)
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		return "dir: " + strings.Join(names, " ")
	case fi.Mode()&os.ModeCharDevice != 0:
		return "char device"
	}
	b, _ := os.ReadFile(p)
	return "file: " + strings.TrimSpace(string(b))
}

// enter runs req in a child in new mount and PID namespaces.
func enter(t *testing.T, req enterRequest) (enterReport, error) {
	t.Helper()
	exe, _ := os.Executable()
	req.HostFile = exe
	c := reexec.NewChild("enter")
	c.Cmd.SysProcAttr.Cloneflags = unix.CLONE_NEWNS | unix.CLONE_NEWPID
	defer c.Close()
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := c.Send(req); err != nil {
		t.Fatal(err)
	}
	var r enterReport
	if err := c.Recv(&r); err != nil {
		return r, err
	}
	return r, c.Wait()
}

func fixture(t *testing.T) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "rootfs")
	if _, err := rootfs.Build(context.Background(), root, rootfs.Options{}); err != nil {
		t.Fatal(err)
	}
	return root
}

var containerDev = []string{"fd", "full", "null", "ptmx", "pts", "random", "shm", "stderr", "stdin", "stdout", "tty", "urandom", "zero"}

func commands(trace []mount.Step) []string {
	var out []string
	for _, s := range trace {
		out = append(out, s.Command)
	}
	return out
}

// TestPrivEnterRoot runs the whole runtime sequence in a child and checks
// what it sees: its own /proc, only the safe devices, no way back, and a
// trace that says what was done, in order.
func TestPrivEnterRoot(t *testing.T) {
	kittest.Privileged(t, kit.NeedNamespaces("mnt", "pid")...)
	root := fixture(t)
	r, err := enter(t, enterRequest{Config: mount.RootConfig{Dir: root, Mounts: mount.ContainerMounts(), Devices: mount.SafeDevices}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.Dev, containerDev) {
		t.Errorf("ls /dev = %v; want %v", r.Dev, containerDev)
	}
	if r.ProcSelf != "1" {
		t.Errorf("/proc/self = %q; want 1, a /proc of the child's PID namespace", r.ProcSelf)
	}
	if r.HostFile {
		t.Errorf("the host's test binary is visible inside")
	}
	want := []string{"/ ", "/proc proc", "/sys sysfs", "/dev tmpfs", "/dev/pts devpts", "/dev/shm tmpfs"}
	if len(r.Mounts) != len(want) {
		t.Errorf("mount table inside = %v; want %d mounts", r.Mounts, len(want))
	}
	for i, w := range want {
		if i < len(r.Mounts) && !strings.HasPrefix(r.Mounts[i], w) {
			t.Errorf("mount %d inside = %q; want %q", i, r.Mounts[i], w)
		}
	}
	cmds := commands(r.Trace)
	wantOrder := []string{
		"mount --make-rprivate /",
		"mount --rbind " + root + " " + root,
		"mount -t proc -o nosuid,nodev,noexec proc " + root + "/proc",
		"mknod -m 666 " + root + "/dev/null c 1 3",
		"ln -s pts/ptmx " + root + "/dev/ptmx",
		"cd " + root,
		"pivot_root . .",
		"umount -l .",
		"cd /",
	}
	last := -1
	for _, w := range wantOrder {
		i := slices.Index(cmds, w)
		if i <= last {
			t.Errorf("trace lacks %q after step %d:\n  %s", w, last, strings.Join(cmds, "\n  "))
			break
		}
		last = i
	}
	if cmds[len(cmds)-1] != "cd /" {
		t.Errorf("trace ends with %q; want cd /", cmds[len(cmds)-1])
	}
}

// TestPrivEnterReadOnlyRoot: pivot_root(".", ".") needs no directory for
// the old root, so a root filesystem on a read-only mount can be entered.
// Mounts still go on its existing directories, /dev's inside the tmpfs.
func TestPrivEnterReadOnlyRoot(t *testing.T) {
	kittest.Privileged(t, kit.NeedNamespaces("mnt", "pid")...)
	root := fixture(t)
	r, err := enter(t, enterRequest{ReadOnlyRoot: true,
		Config: mount.RootConfig{Dir: root, Mounts: mount.ContainerMounts(), Devices: mount.SafeDevices}})
	if err != nil {
		t.Fatalf("entering a read-only root: %v", err)
	}
	if r.RootRO != "read-only file system" {
		t.Errorf("creating a file in / = %q; want read-only file system", r.RootRO)
	}
	if !slices.Equal(r.Dev, containerDev) || r.ProcSelf != "1" {
		t.Errorf("in the read-only root: ls /dev = %v, /proc/self = %q; want the container's", r.Dev, r.ProcSelf)
	}
}

// TestPrivEnterRootReadOnly: RootConfig.ReadOnly (docker run --read-only)
// makes / read-only once entered, and leaves /dev's tmpfs as it was.
func TestPrivEnterRootReadOnly(t *testing.T) {
	kittest.Privileged(t, kit.NeedNamespaces("mnt", "pid")...)
	root := fixture(t)
	r, err := enter(t, enterRequest{Look: []string{"/dev/shm"},
		Config: mount.RootConfig{Dir: root, Mounts: mount.ContainerMounts(), Devices: mount.SafeDevices, ReadOnly: true}})
	if err != nil {
		t.Fatal(err)
	}
	if r.RootRO != "read-only file system" {
		t.Errorf("creating a file in / with ReadOnly = %q; want read-only file system", r.RootRO)
	}
	if cmds := commands(r.Trace); cmds[len(cmds)-1] != "mount -o remount,bind,ro /" {
		t.Errorf("trace ends with %q; want the read-only remount", cmds[len(cmds)-1])
	}
}

// TestPrivMountAfterPivot: once entered, there is no /proc until one is
// mounted; the first mount reaches its target through the working
// directory instead of /proc/self/fd, as lesson 03's step 5 does.
func TestPrivMountAfterPivot(t *testing.T) {
	kittest.Privileged(t, kit.NeedNamespaces("mnt", "pid")...)
	root := fixture(t)
	r, err := enter(t, enterRequest{Config: mount.RootConfig{Dir: root}, MountAfter: mount.ContainerMounts()})
	if err != nil {
		t.Fatal(err)
	}
	if r.ProcSelf != "1" || len(r.Mounts) != 6 {
		t.Errorf("after mounting inside: /proc/self = %q, mounts %v; want 1 and 6 mounts", r.ProcSelf, r.Mounts)
	}
	if got := commands(r.Trace); !slices.Contains(got, "mount -t proc -o nosuid,nodev,noexec proc /proc") {
		t.Errorf("trace = %v; want /proc mounted at /proc", got)
	}
}

func init() {
	// "shared-ns" is a child in a new mount namespace that starts a second
	// process in that same namespace, then tries to pivot: it must refuse,
	// and change nothing (/ stays as it was).
	reexec.Register("shared-ns", func(c *reexec.Conn) error {
		var root string
		if err := c.Recv(&root); err != nil {
			return err
		}
		sibling := reexec.NewChild("hang")
		if err := sibling.Start(context.Background()); err != nil {
			return err
		}
		defer sibling.Close()
		var errs [2]string
		if err := mount.EnterRoot(mount.RootConfig{Dir: root, Mounts: mount.ContainerMounts()}, nil); err != nil {
			errs[0] = err.Error()
		}
		if err := mount.PivotRoot(root, nil); err != nil {
			errs[1] = err.Error()
		}
		return c.Send(errs)
	})
	reexec.Register("hang", func(c *reexec.Conn) error { return c.Recv(nil) })
}

// TestPrivRefusesSharedNamespace: EnterRoot and PivotRoot refuse to run in
// a mount namespace that another process shares, before changing anything.
func TestPrivRefusesSharedNamespace(t *testing.T) {
	kittest.Privileged(t, kit.NeedNamespace("mnt"))
	others, err := mount.SharingMountNamespace()
	if err != nil || len(others) == 0 {
		t.Errorf("SharingMountNamespace() in the test's own namespace = %v, %v; want the processes it shares with", others, err)
	}
	root := fixture(t)
	c := reexec.NewChild("shared-ns")
	c.Cmd.SysProcAttr.Cloneflags = unix.CLONE_NEWNS
	defer c.Close()
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := c.Send(root); err != nil {
		t.Fatal(err)
	}
	var errs [2]string
	if err := c.Recv(&errs); err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"EnterRoot", "PivotRoot"} {
		if !strings.Contains(errs[i], "refusing to pivot_root in a mount namespace shared with 1 other process (") {
			t.Errorf("%s with a second process in the namespace = %q; want a refusal", name, errs[i])
		}
	}
}
