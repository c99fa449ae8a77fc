//go:build linux

package main

import (
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/kit"
)

// The mounts the lesson applies are data: these tests check them, and the
// commands the lesson prints for them, without root.

func TestContainerMounts(t *testing.T) {
	const (
		nosuid, nodev, noexec = unix.MS_NOSUID, unix.MS_NODEV, unix.MS_NOEXEC
	)
	want := []struct {
		m   kit.Mount
		cmd string
	}{
		{kit.Mount{Source: "proc", Target: "/proc", Type: "proc", Flags: nosuid | nodev | noexec},
			"mount -t proc -o nosuid,nodev,noexec proc /proc"},
		{kit.Mount{Source: "sysfs", Target: "/sys", Type: "sysfs", Flags: unix.MS_RDONLY | nosuid | nodev | noexec},
			"mount -t sysfs -o ro,nosuid,nodev,noexec sysfs /sys"},
		{kit.Mount{Source: "tmpfs", Target: "/dev", Type: "tmpfs", Flags: nosuid | unix.MS_STRICTATIME, Data: "mode=755,size=65536k"},
			"mount -t tmpfs -o nosuid,strictatime,mode=755,size=65536k tmpfs /dev"},
		{kit.Mount{Source: "devpts", Target: "/dev/pts", Type: "devpts", Flags: nosuid | noexec, Data: "newinstance,ptmxmode=0666,mode=0620"},
			"mount -t devpts -o nosuid,noexec,newinstance,ptmxmode=0666,mode=0620 devpts /dev/pts"},
		{kit.Mount{Source: "shm", Target: "/dev/shm", Type: "tmpfs", Flags: nosuid | nodev | noexec, Data: "mode=1777,size=65536k"},
			"mount -t tmpfs -o nosuid,nodev,noexec,mode=1777,size=65536k shm /dev/shm"},
	}
	got := containerMounts()
	if len(got) != len(want) {
		t.Fatalf("containerMounts() has %d mounts; want %d: %v", len(got), len(want), got)
	}
	for i, w := range want {
		if got[i] != w.m {
			t.Errorf("containerMounts()[%d] = %+v; want %+v", i, got[i], w.m)
		}
		if s := got[i].String(); s != w.cmd {
			t.Errorf("containerMounts()[%d].String() = %q; want %q", i, s, w.cmd)
		}
	}
}

// TestContainerMountsRules states why each flag is there, so that a change
// to the list that weakens a container fails here with the reason.
func TestContainerMountsRules(t *testing.T) {
	var seen []string
	for _, m := range containerMounts() {
		if m.Flags&unix.MS_NOSUID == 0 {
			t.Errorf("%s: no nosuid; a set-uid file in a kernel filesystem must not grant privileges", m)
		}
		if m.Target != "/dev" && m.Target != "/dev/pts" && m.Flags&unix.MS_NODEV == 0 {
			t.Errorf("%s: no nodev; only /dev may hold device nodes", m)
		}
		if m.Target == "/sys" && m.Flags&unix.MS_RDONLY == 0 {
			t.Errorf("%s: /sys must be read-only: writing it changes the host's kernel settings", m)
		}
		if m.Type == "devpts" && !strings.Contains(m.Data, "newinstance") {
			t.Errorf("%s: devpts without newinstance shares the host's terminals", m)
		}
		for _, p := range seen {
			if strings.HasPrefix(p, m.Target+"/") {
				t.Errorf("%s comes after %s, which it would hide", m.Target, p)
			}
		}
		seen = append(seen, m.Target)
	}
}

func TestRootMounts(t *testing.T) {
	const rootfs = "/tmp/unbox-rootfs-1/rootfs"
	got := rootMounts(rootfs)
	want := []struct {
		m   kit.Mount
		cmd string
	}{
		{kit.Mount{Target: "/", Flags: unix.MS_REC | unix.MS_PRIVATE}, "mount --make-rprivate /"},
		{kit.Mount{Source: rootfs, Target: rootfs, Flags: unix.MS_BIND | unix.MS_REC}, "mount --rbind " + rootfs + " " + rootfs},
	}
	if len(got) != len(want) {
		t.Fatalf("rootMounts(%q) = %v; want %d mounts", rootfs, got, len(want))
	}
	for i, w := range want {
		if got[i] != w.m || got[i].String() != w.cmd {
			t.Errorf("rootMounts(%q)[%d] = %+v (%q); want %+v (%q)", rootfs, i, got[i], got[i], w.m, w.cmd)
		}
	}
}

// TestSafeDevices: the six nodes a container's /dev gets, none of which
// reaches hardware or host memory, and the standard links.
func TestSafeDevices(t *testing.T) {
	want := []kit.Device{
		{Path: "/dev/null", Major: 1, Minor: 3}, {Path: "/dev/zero", Major: 1, Minor: 5},
		{Path: "/dev/full", Major: 1, Minor: 7}, {Path: "/dev/random", Major: 1, Minor: 8},
		{Path: "/dev/urandom", Major: 1, Minor: 9}, {Path: "/dev/tty", Major: 5, Minor: 0},
	}
	if !slices.Equal(kit.SafeDevices, want) {
		t.Errorf("kit.SafeDevices = %v; want %v", kit.SafeDevices, want)
	}
	links := map[string]string{}
	for _, l := range kit.DevSymlinks {
		links[l[0]] = l[1]
	}
	for link, target := range map[string]string{
		"/dev/fd": "/proc/self/fd", "/dev/stdin": "/proc/self/fd/0", "/dev/stdout": "/proc/self/fd/1",
		"/dev/stderr": "/proc/self/fd/2", "/dev/ptmx": "pts/ptmx",
	} {
		if links[link] != target {
			t.Errorf("link %s -> %q; want -> %q", link, links[link], target)
		}
	}
}

func TestParseMountinfo(t *testing.T) {
	text := `26 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw,discard
21 26 0:20 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
40 26 0:37 /srv /mnt/with\040space rw master:3 propagate_from:2 - tmpfs tmp\134fs rw,size=4k
41 26 0:38 / /tmp/unbox-rootfs-7/rootfs rw,relatime - tmpfs tmpfs rw
`
	ms, err := parseMountinfo(text)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 4 {
		t.Fatalf("parseMountinfo: %d mounts; want 4", len(ms))
	}
	want := mountInfo{ID: 40, Parent: 26, Root: "/srv", Point: "/mnt/with space", Options: "rw",
		Optional: []string{"master:3", "propagate_from:2"}, Type: "tmpfs", Source: `tmp\fs`, Super: "rw,size=4k"}
	got := ms[2]
	if got.ID != want.ID || got.Parent != want.Parent || got.Root != want.Root || got.Point != want.Point ||
		got.Options != want.Options || !slices.Equal(got.Optional, want.Optional) || got.Type != want.Type ||
		got.Source != want.Source || got.Super != want.Super {
		t.Errorf("parseMountinfo line 3 = %+v; want %+v", got, want)
	}
	for _, c := range []struct {
		m      mountInfo
		prop   string
		shared bool
	}{{ms[0], "shared:1", true}, {ms[2], "master:3 propagate_from:2", false}, {ms[3], "private", false}} {
		if p := c.m.propagation(); p != c.prop || c.m.shared() != c.shared {
			t.Errorf("%s: propagation() = %q, shared() = %v; want %q, %v", c.m.Point, p, c.m.shared(), c.prop, c.shared)
		}
	}
	if root, ok := rootMount(ms); !ok || root.ID != 26 {
		t.Errorf("rootMount = %+v, %v; want mount 26", root, ok)
	}
	if !isMountPoint(ms, "/tmp/unbox-rootfs-7/rootfs") || isMountPoint(ms, "/tmp") {
		t.Error("isMountPoint: want the rootfs and not /tmp")
	}
	if u := under(ms, "/tmp/unbox-rootfs-7"); len(u) != 1 || u[0].ID != 41 {
		t.Errorf("under(/tmp/unbox-rootfs-7) = %v; want mount 41", u)
	}
	if u := under(ms, "/"); len(u) != 4 {
		t.Errorf("under(/) = %d mounts; want all 4", len(u))
	}
	if got := ms[1].mountLine(); got != "proc on /proc type proc (rw,nosuid,nodev,noexec,relatime)" {
		t.Errorf("mountLine() = %q", got)
	}
	for _, bad := range []string{"26 1 254:0 / / rw", "x 1 254:0 / / rw - ext4 /dev/vda rw"} {
		if _, err := parseMountinfo(bad); err == nil {
			t.Errorf("parseMountinfo(%q): no error", bad)
		}
	}
}

// TestRootMountIsTheTopOne: with a mount stacked on / (as after
// kit.LiftRoot), the process's root is the last one listed.
func TestRootMountIsTheTopOne(t *testing.T) {
	ms, err := parseMountinfo("25 25 0:2 / / rw - rootfs rootfs rw\n30 25 0:2 / / rw - rootfs rootfs rw\n")
	if err != nil {
		t.Fatal(err)
	}
	if root, _ := rootMount(ms); root.ID != 30 {
		t.Errorf("rootMount = mount %d; want 30, the one on top", root.ID)
	}
}

func TestModeString(t *testing.T) {
	for _, c := range []struct {
		mode uint32
		want string
	}{
		{unix.S_IFCHR | 0o666, "crw-rw-rw-"},
		{unix.S_IFDIR | 0o755, "drwxr-xr-x"},
		{unix.S_IFDIR | unix.S_ISVTX | 0o777, "drwxrwxrwt"},
		{unix.S_IFDIR | unix.S_ISVTX | 0o770, "drwxrwx--T"},
		{unix.S_IFLNK | 0o777, "lrwxrwxrwx"},
		{unix.S_IFREG | unix.S_ISUID | 0o755, "-rwsr-xr-x"},
		{unix.S_IFREG | unix.S_ISGID | 0o640, "-rw-r-S---"},
		{unix.S_IFBLK | 0o600, "brw-------"},
	} {
		if got := modeString(c.mode); got != c.want {
			t.Errorf("modeString(%#o) = %q; want %q", c.mode, got, c.want)
		}
	}
}

func TestCount(t *testing.T) {
	for n, want := range map[int]string{0: "0 mounts", 1: "1 mount", 6: "6 mounts"} {
		if got := count(n, "mount"); got != want {
			t.Errorf("count(%d, mount) = %q; want %q", n, got, want)
		}
	}
}
