//go:build linux

package mount_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/kit/kittest"
	"github.com/unboxlab/unbox/internal/mount"
	"github.com/unboxlab/unbox/internal/procfs"
	"github.com/unboxlab/unbox/internal/reexec"
)

// propagationReport is what a container saw of /media after the host
// mounted something under its source.
type propagationReport struct {
	Media   string // "<propagation>" of /media, as mountinfo shows it
	USB     string // look("/media/usb")
	Mounted bool   // /media/usb is in the mount table
}

func init() {
	reexec.Register("propagation", func(c *reexec.Conn) error {
		var cfg mount.RootConfig
		if err := c.Recv(&cfg); err != nil {
			return err
		}
		if err := mount.EnterRoot(cfg, nil); err != nil {
			return err
		}
		if err := c.Send("entered"); err != nil {
			return err
		}
		if err := c.Recv(nil); err != nil { // the host has mounted
			return err
		}
		ms, err := procfs.ReadMountinfo("self")
		if err != nil {
			return err
		}
		var r propagationReport
		media, _ := procfs.Mounts(ms).At("/media")
		_, r.Mounted = procfs.Mounts(ms).At("/media/usb")
		r.Media, r.USB = media.Propagation(), look("/media/usb")
		return c.Send(r)
	})
}

// TestPrivPropagationReachesSlavesOnly: a directory the host shares is
// bound into containers with each propagation mode; then the host mounts a
// tmpfs under it. Only the rslave and rshared containers see it, and only
// because their / was made a slave tree (RootPropagation): rprivate cuts
// the copy off. Nothing the containers mount shows on the host (the leak
// check).
func TestPrivPropagationReachesSlavesOnly(t *testing.T) {
	kittest.Privileged(t, kit.NeedNamespaces("mnt", "pid")...)
	root := fixture(t)
	media := filepath.Join(t.TempDir(), "media")
	usb := filepath.Join(media, "usb")
	if err := os.MkdirAll(usb, 0o755); err != nil {
		t.Fatal(err)
	}
	// A mount point of its own, in a peer group of its own, as a host
	// shares a directory it means to mount things in later.
	shared, err := mount.MountAll("/", []mount.Mount{
		{Source: media, Target: media, Flags: unix.MS_BIND},
		{Target: media, Flags: unix.MS_PRIVATE},
		{Target: media, Flags: unix.MS_SHARED},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { shared.Unmount() })

	for _, c := range []struct {
		mode      string
		prop      uintptr
		sees      bool
		mediaProp string // its propagation inside, as mountinfo shows it
	}{
		{"rprivate", 0, false, "private"},
		{"rslave", unix.MS_SLAVE | unix.MS_REC, true, "master:"},
		{"rshared", unix.MS_SHARED | unix.MS_REC, true, "shared:"},
	} {
		t.Run(c.mode, func(t *testing.T) {
			ms := append(mount.ContainerMounts(), mount.Bind(media, "/media", false, c.prop)...)
			cfg := mount.RootConfig{Dir: root, Mounts: ms, Devices: mount.SafeDevices, Propagation: mount.RootPropagation(ms)}
			child := reexec.NewChild("propagation")
			child.Cmd.SysProcAttr.Cloneflags = unix.CLONE_NEWNS | unix.CLONE_NEWPID
			if err := child.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			defer child.Close()
			if err := child.Send(cfg); err != nil {
				t.Fatal(err)
			}
			if err := child.Recv(nil); err != nil {
				t.Fatal(err)
			}
			later, err := mount.MountAll("/", []mount.Mount{{Source: "tmpfs", Target: usb, Type: "tmpfs", Data: "size=1m"}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer later.Unmount()
			if err := os.WriteFile(filepath.Join(usb, "photo"), []byte("from the host\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := child.Send(nil); err != nil {
				t.Fatal(err)
			}
			var r propagationReport
			if err := child.Recv(&r); err != nil {
				t.Fatal(err)
			}
			want := "dir: "
			if c.sees {
				want = "dir: photo"
			}
			if r.Mounted != c.sees || r.USB != want {
				t.Errorf("-v %s:/media:%s, then the host mounts %s: inside, /media/usb mounted %v, %q; want %v, %q",
					media, c.mode, usb, r.Mounted, r.USB, c.sees, want)
			}
			if !strings.Contains(r.Media, c.mediaProp) {
				t.Errorf("-v ...:%s: /media inside is %q; want %q", c.mode, r.Media, c.mediaProp)
			}
		})
	}
}

// TestPrivRootPropagationRefusesShared: EnterRoot never makes / shared,
// which would show the container's own mounts on the host.
func TestPrivRootPropagationRefusesShared(t *testing.T) {
	kittest.Privileged(t, kit.NeedNamespaces("mnt", "pid")...)
	_, err := enter(t, enterRequest{Config: mount.RootConfig{Dir: fixture(t), Propagation: unix.MS_SHARED | unix.MS_REC}})
	if err == nil || !strings.Contains(err.Error(), "root propagation MS_REC|MS_SHARED") {
		t.Errorf("EnterRoot with a shared root = %v; want it refused", err)
	}
}
