//go:build linux

package mount_test

import (
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/kit/kittest"
	"github.com/unboxlab/unbox/internal/mount"
)

func TestMain(m *testing.M) { kittest.Main(m, nil) }

// Mounts are data: these tests check them, and the commands printed for
// them, without root.

func TestMountString(t *testing.T) {
	for _, c := range []struct {
		m    mount.Mount
		want string
	}{
		{mount.Mount{Source: "proc", Target: "/proc", Type: "proc", Flags: unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC},
			"mount -t proc -o nosuid,nodev,noexec proc /proc"},
		{mount.Mount{Source: "tmpfs", Target: "/dev", Type: "tmpfs", Flags: unix.MS_NOSUID | unix.MS_STRICTATIME, Data: "mode=755"},
			"mount -t tmpfs -o nosuid,strictatime,mode=755 tmpfs /dev"},
		{mount.Mount{Source: "/srv/data", Target: "/data", Flags: unix.MS_BIND | unix.MS_RDONLY},
			"mount --bind -o ro /srv/data /data"},
		{mount.Mount{Source: "/srv/data", Target: "/data", Flags: unix.MS_BIND | unix.MS_REC | unix.MS_RDONLY | unix.MS_NOSUID},
			"mount --rbind -o ro=recursive,nosuid=recursive /srv/data /data"},
		{mount.Mount{Source: "/r", Target: "/r", Flags: unix.MS_BIND | unix.MS_REC}, "mount --rbind /r /r"},
		{mount.Mount{Target: "/", Flags: unix.MS_REC | unix.MS_PRIVATE}, "mount --make-rprivate /"},
		{mount.Mount{Target: "/mnt", Flags: unix.MS_SLAVE}, "mount --make-slave /mnt"},
	} {
		if got := c.m.String(); got != c.want {
			t.Errorf("Mount%+v.String() = %q; want %q", c.m, got, c.want)
		}
	}
}

func TestFlagNames(t *testing.T) {
	for _, c := range []struct {
		flags uintptr
		want  string
	}{
		{unix.MS_BIND | unix.MS_REC | unix.MS_RDONLY, "MS_RDONLY|MS_BIND|MS_REC"},
		{0, "0"},
		{unix.MS_PRIVATE | 1<<30, "MS_PRIVATE|0x40000000"},
	} {
		if got := mount.FlagNames(c.flags); got != c.want {
			t.Errorf("FlagNames(%#x) = %q; want %q", c.flags, got, c.want)
		}
	}
}

// TestContainerMountsRules states why each flag is there, so that a change
// to the list that weakens a container fails here with the reason.
func TestContainerMountsRules(t *testing.T) {
	var targets []string
	for _, m := range mount.ContainerMounts() {
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
		if i := slices.IndexFunc(targets, func(p string) bool { return strings.HasPrefix(p, m.Target+"/") }); i >= 0 {
			t.Errorf("%s is mounted after %s, which it would hide", m.Target, targets[i])
		}
		targets = append(targets, m.Target)
	}
	if want := []string{"/proc", "/sys", "/dev", "/dev/pts", "/dev/shm"}; !slices.Equal(targets, want) {
		t.Errorf("container mounts = %v; want %v", targets, want)
	}
}

// TestSafeDevices: the six nodes a container's /dev gets, none of which
// reaches hardware or host memory, and the standard links.
func TestSafeDevices(t *testing.T) {
	want := []mount.Device{
		{Path: "/dev/null", Major: 1, Minor: 3}, {Path: "/dev/zero", Major: 1, Minor: 5},
		{Path: "/dev/full", Major: 1, Minor: 7}, {Path: "/dev/random", Major: 1, Minor: 8},
		{Path: "/dev/urandom", Major: 1, Minor: 9}, {Path: "/dev/tty", Major: 5, Minor: 0},
	}
	if !slices.Equal(mount.SafeDevices, want) {
		t.Errorf("SafeDevices = %v; want %v", mount.SafeDevices, want)
	}
	links := map[string]string{}
	for _, l := range mount.DevLinks {
		links[l.Path] = l.Target
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
