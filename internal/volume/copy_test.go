//go:build linux

package volume_test

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/kit/kittest"
	"github.com/unboxlab/unbox/internal/rootfs/rootfstest"
	"github.com/unboxlab/unbox/internal/volume"
)

// image makes a root filesystem at root with, at var/lib/app, the kinds
// of entry a copy-up must keep: nested directories, modes, a hard link,
// symlinks (one out of the root, by absolute path and by ".."), a FIFO,
// user xattrs and old times.
func image(t *testing.T, root string) string {
	t.Helper()
	app := filepath.Join(root, "var/lib/app")
	for _, d := range []string{"data/deep", "empty"} {
		if err := os.MkdirAll(filepath.Join(app, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(name, text string, mode uint32) {
		p := filepath.Join(app, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		// unix.Chmod: os.Chmod takes Go's own set-uid bit, not 04000.
		if err := unix.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	write("config.json", `{"debug": false}`+"\n", 0o640)
	write("data/deep/seed.txt", "seed\n", 0o600)
	write("run.sh", "#!/bin/sh\n", 0o4755)
	for _, l := range [][2]string{{"current", "data"}, {"etc", "/etc"}, {"up", "../../../../../etc"}} {
		if err := os.Symlink(l[1], filepath.Join(app, l[0])); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Link(filepath.Join(app, "config.json"), filepath.Join(app, "data/config.link")); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(filepath.Join(app, "pipe"), 0o620); err != nil {
		t.Fatal(err)
	}
	// user.* xattrs need Linux 6.6 on tmpfs (the VM lane's /tmp);
	// trusted.* need root. Either shows a copied xattr.
	xattrErr := unix.Lsetxattr(filepath.Join(app, "config.json"), "user.origin", []byte("image"), 0)
	if xattrErr != nil {
		xattrErr = unix.Lsetxattr(filepath.Join(app, "config.json"), "trusted.origin", []byte("image"), 0)
	}
	if xattrErr != nil {
		t.Logf("no xattr on config.json (%v): the copy of xattrs goes unchecked here", xattrErr)
	}
	if err := os.Chmod(app, 0o750); err != nil {
		t.Fatal(err)
	}
	old := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, p := range []string{"config.json", "data/deep", "data", "."} {
		if err := os.Chtimes(filepath.Join(app, p), old, old); err != nil {
			t.Fatal(err)
		}
	}
	return app
}

// describe lists a tree as "path type mode uid:gid size link xattrs
// mtime", sorted, symlinks not followed: two trees copied faithfully
// describe the same.
func describe(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	inodes := map[uint64]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		line := fmt.Sprintf("%s %o %d:%d", rel, st.Mode, st.Uid, st.Gid)
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			b, _ := os.ReadFile(p)
			line += fmt.Sprintf(" %q", b)
			if st.Nlink > 1 {
				if first, ok := inodes[st.Ino]; ok {
					line += " =" + first
				} else {
					inodes[st.Ino] = rel
				}
			}
		case unix.S_IFLNK:
			target, _ := os.Readlink(p)
			line += " -> " + target
		}
		if st.Mode&unix.S_IFMT != unix.S_IFLNK {
			line += " " + time.Unix(st.Mtim.Unix()).UTC().Format(time.DateOnly)
		}
		buf := make([]byte, 1024)
		if n, err := unix.Llistxattr(p, buf); err == nil && n > 0 {
			xattrs := strings.Split(strings.TrimRight(string(buf[:n]), "\x00"), "\x00")
			slices.Sort(xattrs) // in the order set on some filesystems, by name on others
			for _, name := range xattrs {
				v := make([]byte, 256)
				m, _ := unix.Lgetxattr(p, name, v)
				line += fmt.Sprintf(" %s=%q", name, v[:m])
			}
		}
		out = append(out, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCopyUpKeepsTheTree: a new volume over an image directory gets a
// faithful copy (modes with set-uid, a hard link, symlinks as symlinks,
// a FIFO, xattrs, times, the root's mode), once: a second mount does not
// bring back what a container deleted.
func TestCopyUpKeepsTheTree(t *testing.T) {
	root := t.TempDir()
	app := image(t, root)
	s := openStore(t)
	var events []string
	s.Trace = func(e volume.Event) { events = append(events, e.Command) }
	v, _, err := s.Create("appdata", volume.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	stats, copied, err := s.CopyUp("appdata", root, "/var/lib/app")
	if err != nil || !copied {
		t.Fatalf("CopyUp = %+v, %v, %v; want a copy", stats, copied, err)
	}
	want, got := describe(t, app), describe(t, v.Mountpoint)
	if !slices.Equal(got, want) {
		t.Errorf("the volume differs from the image directory:\nimage:\n  %s\nvolume:\n  %s", strings.Join(want, "\n  "), strings.Join(got, "\n  "))
	}
	if stats.Dirs != 3 || stats.Files != 3 || stats.HardLinks != 1 || stats.Symlinks != 3 || stats.Others != 1 {
		t.Errorf("CopyStats = %+v; want 3 directories, 3 files, 1 hard link, 3 symlinks, 1 FIFO", stats)
	}
	if len(events) != 2 || events[1] != "cp -a "+app+"/. "+v.Mountpoint+"/" {
		t.Errorf("trace = %q; want the mkdir and the cp -a", events)
	}

	if err := os.Remove(filepath.Join(v.Mountpoint, "config.json")); err != nil {
		t.Fatal(err)
	}
	if _, copied, err := s.CopyUp("appdata", root, "/var/lib/app"); err != nil || copied {
		t.Errorf("second CopyUp = %v, %v; want nothing copied: only the first mount fills a volume", copied, err)
	}
	if _, err := os.Lstat(filepath.Join(v.Mountpoint, "config.json")); !os.IsNotExist(err) {
		t.Errorf("config.json came back after the second mount: %v", err)
	}
}

// TestCopyUpOnlyIntoEmpty: a volume that holds anything, or a target the
// image does not have or that is a file, gets nothing, and is marked
// mounted; nocopy marks it without copying.
func TestCopyUpOnlyIntoEmpty(t *testing.T) {
	root := t.TempDir()
	image(t, root)
	s := openStore(t)
	full, _, _ := s.Create("full", volume.CreateOptions{})
	if err := os.WriteFile(filepath.Join(full.Mountpoint, "mine"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{"full": "/var/lib/app", "none": "/no/such", "file": "/var/lib/app/config.json"} {
		s.Create(name, volume.CreateOptions{})
		if _, copied, err := s.CopyUp(name, root, target); err != nil || copied {
			t.Errorf("CopyUp(%s, %s) = %v, %v; want nothing copied", name, target, copied, err)
		}
		if v, _ := s.Get(name); v.CopyUp {
			t.Errorf("volume %s still waits for its copy-up after its first mount", name)
		}
	}
	if got := describe(t, full.Mountpoint); len(got) != 2 {
		t.Errorf("the full volume holds %v; want only its own file", got)
	}
	s.Create("nocopy", volume.CreateOptions{})
	if err := s.NoCopyUp("nocopy"); err != nil {
		t.Fatal(err)
	}
	if _, copied, _ := s.CopyUp("nocopy", root, "/var/lib/app"); copied {
		t.Errorf("a nocopy volume was filled")
	}
}

// TestPrivCopyUpKeepsOwnersAndCapabilities: ownership, set-uid bits and
// file capabilities survive the copy (chown(2) clears the last two, so it
// must come first), and trusted.* xattrs are copied but overlayfs's own.
func TestPrivCopyUpKeepsOwnersAndCapabilities(t *testing.T) {
	kittest.Privileged(t)
	root := t.TempDir()
	app := image(t, root)
	err := filepath.WalkDir(app, func(p string, d fs.DirEntry, err error) error {
		if err == nil {
			err = os.Lchown(p, 1000, 1001)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// cap_net_bind_service, effective and permitted (vfs_cap_data, revision 2).
	capability := []byte{1, 0, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	for _, x := range []struct {
		name  string
		value []byte
	}{{"security.capability", capability}, {"trusted.app", []byte("kept")}, {"trusted.overlay.opaque", []byte("y")}} {
		if err := unix.Setxattr(filepath.Join(app, "run.sh"), x.name, x.value, 0); err != nil {
			t.Fatalf("setxattr %s: %v", x.name, err)
		}
	}
	// Set-uid and set-gid last: some filesystems clear them when a
	// capability is set.
	if err := unix.Chmod(filepath.Join(app, "run.sh"), 0o6755); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(app, "run.sh")); err != nil || fi.Mode()&(os.ModeSetuid|os.ModeSetgid) == 0 {
		t.Fatalf("run.sh in the image: %v, %v; want it set-uid and set-gid, to check the copy keeps that", fi.Mode(), err)
	}
	s := openStore(t)
	v, _, _ := s.Create("owned", volume.CreateOptions{})
	if _, _, err := s.CopyUp("owned", root, "/var/lib/app"); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, l := range describe(t, app) {
		want = append(want, strings.Replace(l, ` trusted.overlay.opaque="y"`, "", 1))
	}
	if got := describe(t, v.Mountpoint); !slices.Equal(got, want) {
		t.Errorf("the volume differs from the image directory (less trusted.overlay.*):\nimage:\n  %s\nvolume:\n  %s",
			strings.Join(want, "\n  "), strings.Join(got, "\n  "))
	}
	got := make([]byte, 64)
	n, err := unix.Getxattr(filepath.Join(v.Mountpoint, "run.sh"), "security.capability", got)
	if err != nil || !bytes.Equal(got[:n], capability) {
		t.Errorf("run.sh's security.capability in the volume = %x, %v; want %x", got[:n], err, capability)
	}
}

// TestPrivCopyUpStaysInTheRoot: in a hostile image whose /data is a
// symlink to a directory on the host, a volume on /data is filled from
// what /data means inside the root (nothing), never from the host
// directory the link names; and the links inside the image directory are
// copied as links, their targets untouched.
func TestPrivCopyUpStaysInTheRoot(t *testing.T) {
	kittest.Privileged(t)
	for _, style := range []rootfstest.Style{rootfstest.Relative, rootfstest.Absolute} {
		t.Run(string(style), func(t *testing.T) {
			h := rootfstest.NewHostile(t, style, "/data")
			s := openStore(t)
			v, _, _ := s.Create("data", volume.CreateOptions{})
			if _, copied, err := s.CopyUp("data", h.Root, "/data"); err != nil || copied {
				t.Errorf("CopyUp over /data -> %s = %v, %v; want nothing copied", h.Links["/data"], copied, err)
			}
			if got := describe(t, v.Mountpoint); len(got) != 1 {
				t.Errorf("the volume holds %v; want it empty (the host's bait must not be copied)", got)
			}
			// /etc inside the root, reached through the link, is what
			// a volume on /etc-link gets.
			if err := os.Symlink("/etc", filepath.Join(h.Root, "etc-link")); err != nil {
				t.Fatal(err)
			}
			s.Create("etc", volume.CreateOptions{})
			if _, _, err := s.CopyUp("etc", h.Root, "/etc-link"); err != nil {
				t.Fatal(err)
			}
			rootEtc, _ := os.ReadFile(filepath.Join(h.Root, "etc/passwd"))
			copied, err := os.ReadFile(filepath.Join(s.Path("etc"), "_data/passwd"))
			if err != nil || !bytes.Equal(copied, rootEtc) {
				t.Errorf("volume on /etc-link: passwd = %q, %v; want the root's own /etc/passwd", copied, err)
			}
			h.CheckBaitUntouched(t)
		})
	}
}
