//go:build linux

package mount_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/kit/kittest"
	"github.com/unboxlab/unbox/internal/mount"
	"github.com/unboxlab/unbox/internal/rootfs/rootfstest"
)

// hostileMounts are what a container of the hostile root gets: the usual
// filesystems, its hostname bound onto /etc/hostname, and a volume on /data.
func hostileMounts(t *testing.T) (ms []mount.Mount, volume string) {
	dir := t.TempDir()
	hostname := filepath.Join(dir, "hostname")
	if err := os.WriteFile(hostname, []byte("unbox-hostile\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	volume = filepath.Join(dir, "volume")
	if err := os.Mkdir(volume, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(volume, "on-volume"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return append(mount.ContainerMounts(),
		mount.Mount{Source: hostname, Target: "/etc/hostname", Flags: unix.MS_BIND},
		mount.Mount{Source: volume, Target: "/data", Flags: unix.MS_BIND | unix.MS_REC},
	), volume
}

// TestPrivHostileRootStaysInside enters root filesystems whose /dev,
// /etc/hostname and volume target are symlinks to a directory on the host
// (by "../../.." and by absolute path), with the container mount sequence.
// A mount that escaped the root would go under the old root, and leave the
// container's mount table with it: so every mount must be in that table,
// the links must lead (inside the root) to what was mounted, and the bait
// on the host must be as it was.
func TestPrivHostileRootStaysInside(t *testing.T) {
	kittest.Privileged(t, kit.NeedNamespaces("mnt", "pid")...)
	for _, style := range []rootfstest.Style{rootfstest.Relative, rootfstest.Absolute} {
		t.Run(string(style), func(t *testing.T) {
			h := rootfstest.NewHostile(t, style, "/dev", "/etc/hostname", "/data")
			ms, _ := hostileMounts(t)
			r, err := enter(t, enterRequest{
				Config: mount.RootConfig{Dir: h.Root, Mounts: ms, Devices: mount.SafeDevices},
				Look:   []string{"/etc/hostname", "/data", "/dev/null", "/dev/pts", h.Bait + "/dev"},
			})
			if err != nil {
				t.Fatalf("entering the hostile root: %v", err)
			}
			if len(r.Mounts) != 1+len(ms) {
				t.Errorf("mount table inside has %d mounts; want %d, one per mount and the root: one escaped\n%s",
					len(r.Mounts), 1+len(ms), strings.Join(r.Mounts, "\n"))
			}
			for _, want := range []string{h.Bait + "/dev tmpfs", h.Bait + "/dev/pts devpts", h.Bait + "/hostname", h.Bait + "/data"} {
				if !containsPrefix(r.Mounts, want) {
					t.Errorf("mount table inside lacks %q (where the link leads, inside the root):\n%s", want, strings.Join(r.Mounts, "\n"))
				}
			}
			for p, want := range map[string]string{
				"/etc/hostname": "file: unbox-hostile",
				"/data":         "dir: on-volume",
				"/dev/null":     "char device",
			} {
				if got := r.Look[p]; got != want {
					t.Errorf("inside, %s = %q; want %q", p, got, want)
				}
			}
			for _, s := range r.Trace {
				if s.Op != mount.OpChdir && s.Op != mount.OpPivot && s.Path != "/" && !strings.HasPrefix(s.Path, h.Root) {
					t.Errorf("trace: %q acted on %s, outside the root %s", s.Command, s.Path, h.Root)
				}
			}
			h.CheckBaitUntouched(t)
		})
	}
}

// TestPrivHostileProcRefused: proc and sysfs go only on ordinary
// directories. A root whose /proc (or /sys) is a symlink is refused, before
// anything was mounted where the link leads, and the bait is untouched.
func TestPrivHostileProcRefused(t *testing.T) {
	kittest.Privileged(t, kit.NeedNamespaces("mnt", "pid")...)
	for _, style := range []rootfstest.Style{rootfstest.Relative, rootfstest.Absolute} {
		for _, entries := range [][]string{rootfstest.Entries, {"/sys"}} {
			t.Run(string(style)+strings.Join(entries, ""), func(t *testing.T) {
				h := rootfstest.NewHostile(t, style, entries...)
				ms, _ := hostileMounts(t)
				_, err := enter(t, enterRequest{Config: mount.RootConfig{Dir: h.Root, Mounts: ms, Devices: mount.SafeDevices}})
				want := h.Root + entries[0] + " is a symlink or not a directory: proc and sysfs are mounted only on an ordinary directory"
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("entering a root whose %s is a symlink: %v; want %q", entries[0], err, want)
				}
				h.CheckBaitUntouched(t)
			})
		}
	}
}

func containsPrefix(lines []string, prefix string) bool {
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}
