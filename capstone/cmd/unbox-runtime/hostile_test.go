//go:build linux

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/unboxlab/unbox/capstone/specconv"
	"github.com/unboxlab/unbox/internal/rootfs/rootfstest"
)

// hostileBundle is a bundle whose root is h's, with its hostname bound
// onto /etc/hostname and a volume on /data: the targets h made symlinks to
// the host.
func hostileBundle(t *testing.T, h *rootfstest.Hostile, args ...string) string {
	t.Helper()
	dir := t.TempDir()
	hostname := filepath.Join(dir, "hostname")
	volume := filepath.Join(dir, "volume")
	if err := os.WriteFile(hostname, []byte("unbox-hostile\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(volume, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(volume, "on-volume"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s := specconv.Example()
	s.Root.Path = h.Root
	s.Process.Terminal = false
	s.Process.Args = args
	s.Mounts = append(s.Mounts,
		specs.Mount{Destination: "/etc/hostname", Source: hostname, Options: []string{"bind", "ro"}},
		specs.Mount{Destination: "/data", Source: volume, Options: []string{"rbind"}},
	)
	writeSpec(t, dir, s)
	return dir
}

// TestPrivHostileRootStaysInside runs containers in the hostile roots of
// internal/rootfs/rootfstest (the concept packages' test, through the
// runtime): /dev, /etc/hostname and the volume's target are symlinks that,
// followed from the host, lead to a bait directory on the host. Every mount
// must land inside the root, where the links lead when resolved as if the
// root were /, and the bait must be as it was.
func TestPrivHostileRootStaysInside(t *testing.T) {
	privileged(t)
	for _, style := range []rootfstest.Style{rootfstest.Relative, rootfstest.Absolute} {
		t.Run(string(style), func(t *testing.T) {
			r := newRT(t)
			h := rootfstest.NewHostile(t, style, "/dev", "/etc/hostname", "/data")
			// Inside, the links lead where they would with the root as
			// /: to <root>/<bait>/..., where the mounts went.
			b := hostileBundle(t, h, "sh", "-c", "cat /etc/hostname; ls /data; test -c /dev/null && echo dev-null-ok; grep -c ' "+h.Bait+"/dev tmpfs' /proc/self/mounts")
			res := r.run("run", "--bundle", b, "ubx-hostile")
			if res.code != 0 || res.stdout != "unbox-hostile\non-volume\ndev-null-ok\n1\n" {
				t.Errorf("in the hostile root: %s; want the hostname, the volume, /dev/null, and /dev's tmpfs where the link leads inside", res)
			}
			h.CheckBaitUntouched(t)
		})
	}
}

// TestPrivHostileProcRefused: a root whose /proc or /sys is a symlink is
// refused before anything is mounted where the link leads.
func TestPrivHostileProcRefused(t *testing.T) {
	privileged(t)
	for _, entry := range []string{"/proc", "/sys"} {
		t.Run(entry, func(t *testing.T) {
			r := newRT(t)
			h := rootfstest.NewHostile(t, rootfstest.Absolute, entry)
			res := r.run("run", "--bundle", hostileBundle(t, h, "true"), "ubx-hostile-proc")
			if want := "proc and sysfs are mounted only on an ordinary directory"; res.code != 1 || !strings.Contains(res.msg(), want) {
				t.Errorf("run in a root whose %s is a symlink: %s; want %q", entry, res, want)
			}
			h.CheckBaitUntouched(t)
			if exists(r.stateDir("ubx-hostile-proc")) {
				t.Errorf("the refused container left its state")
			}
		})
	}
}
