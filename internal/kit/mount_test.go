//go:build linux

package kit_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/kit/kittest"
)

func TestMountString(t *testing.T) {
	for _, c := range []struct {
		m    kit.Mount
		want string
	}{
		{kit.Mount{Source: "proc", Target: "/proc", Type: "proc", Flags: unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC},
			"mount -t proc -o nosuid,nodev,noexec proc /proc"},
		{kit.Mount{Source: "tmpfs", Target: "/dev", Type: "tmpfs", Flags: unix.MS_NOSUID | unix.MS_STRICTATIME, Data: "mode=755"},
			"mount -t tmpfs -o nosuid,strictatime,mode=755 tmpfs /dev"},
		{kit.Mount{Source: "/srv/data", Target: "/data", Flags: unix.MS_BIND | unix.MS_RDONLY},
			"mount --bind -o ro /srv/data /data"},
		{kit.Mount{Source: "/r", Target: "/r", Flags: unix.MS_BIND | unix.MS_REC}, "mount --rbind /r /r"},
		{kit.Mount{Target: "/", Flags: unix.MS_REC | unix.MS_PRIVATE}, "mount --make-rprivate /"},
	} {
		if got := c.m.String(); got != c.want {
			t.Errorf("Mount%+v.String() = %q; want %q", c.m, got, c.want)
		}
	}
}

func TestContainerMountsParentsFirst(t *testing.T) {
	var targets []string
	for _, m := range kit.ContainerMounts() {
		if i := slices.IndexFunc(targets, func(p string) bool { return strings.HasPrefix(p, m.Target+"/") }); i >= 0 {
			t.Errorf("%s is mounted after %s, which it would hide", m.Target, targets[i])
		}
		targets = append(targets, m.Target)
	}
	want := []string{"/proc", "/sys", "/dev", "/dev/pts", "/dev/shm"}
	if !slices.Equal(targets, want) {
		t.Errorf("container mounts = %v; want %v", targets, want)
	}
}

type enterReport struct {
	Dev      []string
	ProcSelf string
	OldRoot  bool // is /.oldroot still there
	HostFile bool // can the child still see the test binary's path
	Mounts   []string
}

func init() {
	kit.RegisterInit("kit-enter", func(c *kit.Conn) error {
		var cfg struct{ Root, HostFile string }
		if err := c.Recv(&cfg); err != nil {
			return err
		}
		if err := kit.EnterRoot(cfg.Root, kit.ContainerMounts(), kit.SafeDevices); err != nil {
			return err
		}
		var r enterReport
		entries, _ := os.ReadDir("/dev")
		for _, e := range entries {
			r.Dev = append(r.Dev, e.Name())
		}
		r.ProcSelf, _ = os.Readlink("/proc/self")
		_, err := os.Stat(kit.OldRoot)
		r.OldRoot = err == nil
		_, err = os.Stat(cfg.HostFile)
		r.HostFile = err == nil
		b, _ := os.ReadFile("/proc/self/mounts")
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if f := strings.Fields(l); len(f) > 2 {
				r.Mounts = append(r.Mounts, f[1]+" "+f[2])
			}
		}
		return c.Send(r)
	})
}

// TestPrivEnterRoot runs the whole runtime sequence in a child and checks
// what it sees: its own /proc, only the safe devices, no way back.
func TestPrivEnterRoot(t *testing.T) {
	kittest.Privileged(t, kit.NeedNamespaces("mnt", "pid")...)
	root := filepath.Join(t.TempDir(), "rootfs")
	if _, err := kit.Rootfs(context.Background(), root, kit.RootfsOptions{}); err != nil {
		t.Fatal(err)
	}
	exe, _ := os.Executable()
	c, err := kit.NewChild("kit-enter")
	if err != nil {
		t.Fatal(err)
	}
	c.Cmd.SysProcAttr.Cloneflags = unix.CLONE_NEWNS | unix.CLONE_NEWPID
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Send(struct{ Root, HostFile string }{root, exe}); err != nil {
		t.Fatal(err)
	}
	var r enterReport
	if err := c.Recv(&r); err != nil {
		t.Fatal(err)
	}
	if err := c.Wait(); err != nil {
		t.Fatal(err)
	}
	want := []string{"fd", "full", "null", "ptmx", "pts", "random", "shm", "stderr", "stdin", "stdout", "tty", "urandom", "zero"}
	if !slices.Equal(r.Dev, want) {
		t.Errorf("ls /dev = %v; want %v", r.Dev, want)
	}
	if r.ProcSelf != "1" {
		t.Errorf("/proc/self = %q; want 1, a /proc of the child's PID namespace", r.ProcSelf)
	}
	if r.OldRoot || r.HostFile {
		t.Errorf("old root still there: %v; host file %s visible: %v", r.OldRoot, exe, r.HostFile)
	}
	for _, m := range []string{"/ ", "/proc proc", "/sys sysfs", "/dev tmpfs", "/dev/pts devpts", "/dev/shm tmpfs"} {
		if !slices.ContainsFunc(r.Mounts, func(s string) bool { return strings.HasPrefix(s, m) }) {
			t.Errorf("mount table lacks %q: %v", m, r.Mounts)
		}
	}
}

func TestPrivMountAllUndoesInReverse(t *testing.T) {
	kittest.Privileged(t)
	root := t.TempDir()
	ms := []kit.Mount{
		{Source: "tmpfs", Target: "/a", Type: "tmpfs"},
		{Source: "tmpfs", Target: "/a/b", Type: "tmpfs"},
	}
	unmount, err := kit.MountAll(root, ms)
	if err != nil {
		t.Fatal(err)
	}
	if err := unmount(); err != nil {
		t.Errorf("unmount: %v (a mount on top must come off first)", err)
	}
	// A failing mount undoes the ones before it.
	bad := append(ms, kit.Mount{Source: "none", Target: "/a/c", Type: "no-such-fs"})
	if _, err := kit.MountAll(root, bad); err == nil || !strings.Contains(err.Error(), "mount -t no-such-fs none /a/c") {
		t.Errorf("MountAll with a bad mount: %v; want the failing mount named", err)
	}
	// The leak check proves nothing stayed mounted.
}
