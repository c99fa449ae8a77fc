//go:build linux

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/mount"
	"github.com/unboxlab/unbox/internal/overlay"
	"github.com/unboxlab/unbox/internal/reexec"
)

// Entering the union as a container is lesson 03's sequence, from the kit:
// a child in new mount, PID and UTS namespaces makes its mounts private,
// binds the merged directory onto itself, mounts /proc, /sys, /dev and a
// volume under it, makes the safe device nodes, and pivot_root(2)s into it
// (mount.EnterRoot). From inside, the union is simply "/".

func init() { reexec.Register("unionfs-enter", enterChild) }

// enterConfig is what the parent sends the child.
type enterConfig struct {
	Root   string // the merged directory
	Volume string // a host directory to bind at /data
}

// enterReport is what the child sees from inside.
type enterReport struct {
	PID         int
	Hostname    string
	RootType    string         // the filesystem type of /
	RootLayers  overlay.Layers // the layers of /, as mountinfo shows them inside
	AppConf     string
	WWW         string
	Motd        string
	WroteRoot   string // a file written to /root
	WroteVolume string // a file written to /data
}

// volumeTarget is where the volume appears inside.
const volumeTarget = "/data"

// containerMounts are the mounts every container gets, plus the volume.
func containerMounts(volume string) []mount.Mount {
	return append(mount.ContainerMounts(), mount.Mount{Source: volume, Target: volumeTarget, Flags: unix.MS_BIND})
}

func enterChild(c *reexec.Conn) error {
	var cfg enterConfig
	if err := c.Recv(&cfg); err != nil {
		return err
	}
	if err := mount.EnterRoot(mount.RootConfig{Dir: cfg.Root, Mounts: containerMounts(cfg.Volume), Devices: mount.SafeDevices}, nil); err != nil {
		return err
	}
	// A runtime sets the hostname it wrote into the init layer.
	name, err := os.ReadFile("/etc/hostname")
	if err != nil {
		return err
	}
	if err := unix.Sethostname([]byte(strings.TrimSpace(string(name)))); err != nil {
		return fmt.Errorf("sethostname: %w", err)
	}
	r := enterReport{PID: os.Getpid()}
	r.Hostname, _ = os.Hostname()
	root, err := mountedAt("/")
	if err != nil {
		return err
	}
	r.RootType = root.Type
	if r.RootLayers, err = overlay.FromMount(root); err != nil {
		return err
	}
	r.AppConf, r.WWW, r.Motd = look("/etc/app.conf"), look("/srv/www"), look("/etc/motd")
	r.WroteRoot, r.WroteVolume = "/root/from-inside", volumeTarget+"/on-volume"
	for _, p := range []string{r.WroteRoot, r.WroteVolume} {
		if err := os.WriteFile(p, []byte("hello from inside\n"), 0o644); err != nil {
			return err
		}
	}
	if err := c.Send(r); err != nil {
		return err
	}
	return c.Recv(nil)
}

// hostView is what the parent sees on the host while the child runs.
type hostView struct {
	UpperFile   string // look() of upper/root/from-inside
	VolumeFile  string // look() of the volume's on-volume
	UpperData   string // look() of upper/data, the volume's mount point
	UpperVolume string // look() of upper/data/on-volume (should not exist)
}

// enter runs a child in c's union and returns what it saw from inside and
// what the host saw meanwhile.
func enter(ctx context.Context, c *container, volume string) (enterReport, hostView, error) {
	var r enterReport
	var h hostView
	child := reexec.NewChild("unionfs-enter")
	child.Cmd.SysProcAttr.Cloneflags = unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWUTS
	if err := child.Start(ctx); err != nil {
		return r, h, err
	}
	defer child.Close()
	if err := child.Send(enterConfig{Root: c.Merged, Volume: volume}); err != nil {
		return r, h, err
	}
	if err := child.Recv(&r); err != nil {
		return r, h, err
	}
	h = hostView{
		UpperFile:   look(filepath.Join(c.Upper, r.WroteRoot)),
		VolumeFile:  look(filepath.Join(volume, filepath.Base(r.WroteVolume))),
		UpperData:   look(filepath.Join(c.Upper, volumeTarget)),
		UpperVolume: look(filepath.Join(c.Upper, r.WroteVolume)),
	}
	if err := child.Send(nil); err != nil {
		return r, h, err
	}
	return r, h, child.Wait()
}

func (l *lab) stepEnter(s *kit.Session) error {
	c := l.container("a")
	volume := l.path("volumes", "data")
	if err := os.MkdirAll(volume, 0o755); err != nil {
		return err
	}
	s.Cmd("M=$PWD/%s\n"+
		"unshare --mount --pid --uts --fork sh    # a child in new namespaces (lesson 01)\n"+
		"mount --make-rprivate / && mount --rbind $M $M", l.rel(c.Merged))
	var cmds []string
	for _, m := range containerMounts(volume) {
		m.Target = "$M" + m.Target
		cmds = append(cmds, m.String())
	}
	s.Cmd("%s\n# the last one is a volume: a host directory, mounted over the union", strings.Join(cmds, "\n"))
	s.Cmd("mknod $M/dev/null c 1 3 ...    # and zero, full, random, urandom, tty\n" +
		"cd $M && pivot_root . . && umount -l .    # lesson 03\n" +
		"hostname $(cat /etc/hostname)")
	r, h, err := enter(s.Ctx, c, volume)
	if err != nil {
		return err
	}
	s.Inside("PID %d, hostname %s", r.PID, r.Hostname)
	layers, err := r.RootLayers.Options(l.PageSize)
	if err != nil {
		return err
	}
	s.Inside("/ is %s, with the host's paths in its options:", r.RootType)
	s.Inside("%s", strings.ReplaceAll(strings.ReplaceAll(layers, ":", "\n  :"), ",", "\n,"))
	s.Inside("cat /etc/app.conf: %s", shown(s, r.AppConf))
	s.Inside("ls /srv/www: %s; ls /etc/motd: %s", shown(s, r.WWW), shown(s, r.Motd))
	s.Cmd("echo hello from inside > %s; echo hello from inside > %s", r.WroteRoot, r.WroteVolume)
	s.Host("%s: %s", l.rel(filepath.Join(c.Upper, r.WroteRoot)), shown(s, h.UpperFile))
	s.Host("%s: %s", l.rel(filepath.Join(volume, filepath.Base(r.WroteVolume))), shown(s, h.VolumeFile))
	s.Host("%s: %s", l.rel(filepath.Join(c.Upper, volumeTarget)), shown(s, h.UpperData))
	s.Host("%s: %s", l.rel(filepath.Join(c.Upper, r.WroteVolume)), shown(s, h.UpperVolume))
	s.Note("Inside, the union is just /, with a's changes and nothing of b's. A write to / lands in a's\n" +
		"upper dir; a write to the volume goes past the union to the host directory, so no commit will\n" +
		"carry it and it outlives the container (lesson 05). Note that /proc/self/mountinfo shows the\n" +
		"host paths of every layer to anyone inside.")
	return nil
}
