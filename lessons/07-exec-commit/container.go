//go:build linux

package main

// A container of this lesson is lessons 01 to 04 put together: a union of
// the image's snapshots, an init layer and an upper dir (04), a cgroup
// (02), and a re-exec'd child (01) in new user, mount, UTS, IPC, network,
// PID and cgroup namespaces that enters the union as its root (03) and
// execs the image's command as PID 1.
//
// The user namespace maps container IDs 0-65535 to the same IDs on the
// host: files keep their owners, and root inside is root only over what
// the container's namespaces own. In a user namespace mknod(2) of a device
// is refused, so /dev's nodes are the host's, bound in, as rootless
// containers have them.

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/cgroups"
	"github.com/unboxlab/unbox/internal/mount"
	"github.com/unboxlab/unbox/internal/ocilayout"
	"github.com/unboxlab/unbox/internal/overlay"
	"github.com/unboxlab/unbox/internal/procfs"
	"github.com/unboxlab/unbox/internal/reexec"
)

func init() { reexec.Register("ctr-init", containerInit) }

// containerFlags are the namespaces of a container. The cgroup namespace
// comes later: containerInit unshares it once it is in its cgroup, so
// that the cgroup is the root of its view.
const containerFlags = unix.CLONE_NEWUSER | unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC |
	unix.CLONE_NEWNET | unix.CLONE_NEWPID

// idMap is the user namespace's mapping, container ID = host ID.
var idMap = []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 65536}}

// volumeTarget is where the volume is bound in every container.
const volumeTarget = "/data"

// initConfig is what the lesson sends the container's first process.
type initConfig struct {
	Root     string // the union, merged/
	Volume   string // a host directory to bind at /data
	Hostname string
	Args     []string
	Env      []string
	Cwd      string
}

// devices are bound from the host's /dev, in place of mknod.
var devices = []string{"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"}

func rootMounts(volume string) []mount.Mount {
	ms := mount.ContainerMounts()
	for _, d := range devices {
		ms = append(ms, mount.Mount{Source: d, Target: d, Flags: unix.MS_BIND})
	}
	return append(ms, mount.Mount{Source: volume, Target: volumeTarget, Flags: unix.MS_BIND})
}

// containerInit is the container's first process until it execs the
// image's command.
func containerInit(c *reexec.Conn) error {
	var cfg initConfig
	if err := c.Recv(&cfg); err != nil {
		return err
	}
	// In its cgroup now (the lesson sends the configuration only then):
	// a cgroup namespace made here has that cgroup as its root.
	if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
		return fmt.Errorf("unshare(CLONE_NEWCGROUP): %w", err)
	}
	if err := mount.EnterRoot(mount.RootConfig{Dir: cfg.Root, Mounts: rootMounts(cfg.Volume)}, nil); err != nil {
		return err
	}
	if err := unix.Sethostname([]byte(cfg.Hostname)); err != nil {
		return fmt.Errorf("sethostname: %w", err)
	}
	if err := os.Chdir(cfg.Cwd); err != nil {
		return err
	}
	return c.Exec(cfg.Args, cfg.Env)
}

// container is one container: its directories, its cgroup, its PID 1.
type container struct {
	Name  string
	Image ocilayout.Image
	Dir   string
	Init  string
	Upper string
	Work  string
	// Merged is the union, the container's root.
	Merged string
	Layers overlay.Layers
	Mount  mount.Mount // the overlay mount, as applied
	Cgroup cgroups.Manager

	unmount func() error
	pid1    *reexec.Child
}

// newContainer makes containers/<name>/ with its init layer, and mounts
// its union on the image's snapshots.
func (l *lab) newContainer(name string, img ocilayout.Image, snaps []snapshot) (*container, error) {
	dir := l.path("containers", name)
	c := &container{Name: name, Image: img, Dir: dir, Init: filepath.Join(dir, "init"), Upper: filepath.Join(dir, "upper"),
		Work: filepath.Join(dir, "work"), Merged: filepath.Join(dir, "merged")}
	for _, d := range []string{c.Init + "/etc", c.Upper, c.Work, c.Merged} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	for _, f := range initFiles(name) {
		if err := os.WriteFile(filepath.Join(c.Init, f.Path), []byte(f.Content), 0o644); err != nil {
			return nil, fmt.Errorf("init layer of %s: %w", name, err)
		}
	}
	l.Containers = append(l.Containers, c)
	c.Layers = overlay.Layers{Lower: append([]string{c.Init}, lowerDirs(snaps)...), Upper: c.Upper, Work: c.Work}
	opts, err := c.Layers.Options(os.Getpagesize())
	if err != nil {
		return nil, err
	}
	c.Mount = mount.Mount{Source: overlay.FSType, Target: c.Merged, Type: overlay.FSType, Data: opts}
	mounted, err := mount.MountAll("/", []mount.Mount{c.Mount}, nil)
	if err != nil {
		return nil, fmt.Errorf("%w%s", err, overlay.MountHint(err))
	}
	c.unmount = mounted.Unmount
	return c, nil
}

// initFiles are a container's init layer: the files a runtime writes for
// one container, which a commit leaves out (layer.InitFiles).
func initFiles(hostname string) []struct{ Path, Content string } {
	return []struct{ Path, Content string }{
		{"etc/hostname", hostname + "\n"},
		{"etc/hosts", "127.0.0.1 localhost\n127.0.1.1 " + hostname + "\n"},
		// A documentation address (RFC 5737): the container has no network.
		{"etc/resolv.conf", "nameserver 192.0.2.53\n"},
	}
}

// start makes the container's cgroup and starts its PID 1 in it (`docker
// start`). A container that ran before gets a new PID 1 on the same union.
func (c *container) start(ctx context.Context, l *lab) error {
	h, err := l.host()
	if err != nil {
		return err
	}
	if c.Cgroup == nil {
		if c.Cgroup, err = h.New(cgroups.Config{Parent: l.parent.Path(), Name: c.Name, Controllers: controllers}); err != nil {
			return err
		}
		if err := c.Cgroup.Create(); err != nil {
			return err
		}
	}
	volume := l.path("volumes", "data")
	if err := os.MkdirAll(volume, 0o755); err != nil {
		return err
	}
	var child *reexec.Child
	var execed *os.File // closes (end of file) when the child execs or exits
	_, err = cgroups.Start(c.Cgroup, func(cgroupFD int) (int, error) {
		child = reexec.NewChild("ctr-init", c.Name)
		attr := child.Cmd.SysProcAttr
		attr.Cloneflags = containerFlags
		attr.UidMappings, attr.GidMappings, attr.GidMappingsEnableSetgroups = idMap, idMap, true
		if cgroupFD >= 0 {
			attr.UseCgroupFD, attr.CgroupFD = true, cgroupFD
		}
		// PID 1's parent is the lesson, as a container's is its shim or
		// monitor: it must outlive whatever thread started it.
		attr.Pdeathsig = 0
		r, w, err := os.Pipe()
		if err != nil {
			return 0, err
		}
		// fd 4 in the child, which reexec.Conn.Exec closes on exec.
		child.Cmd.ExtraFiles = []*os.File{w}
		err = child.Start(ctx)
		w.Close()
		if err != nil {
			r.Close()
			return 0, err
		}
		execed = r
		return child.Pid(), nil
	})
	if err != nil {
		if child != nil {
			child.Close()
		}
		return fmt.Errorf("start container %s: %w", c.Name, err)
	}
	defer execed.Close()
	c.pid1 = child
	cfg := c.Image.Config.Config
	if err := child.Send(initConfig{Root: c.Merged, Volume: volume, Hostname: c.Name, Args: cfg.Cmd, Env: cfg.Env, Cwd: cfg.WorkingDir}); err != nil {
		return err
	}
	io.Copy(io.Discard, execed)
	// Exec'd, the process has the command's name; a child that failed
	// still has the stage's, and its error comes back from Wait.
	if st, err := procfs.ReadStat(strconv.Itoa(child.Pid())); err != nil || st.Comm == "ctr-init" {
		if werr := child.Wait(); werr != nil {
			return fmt.Errorf("start container %s: %w", c.Name, werr)
		}
		return fmt.Errorf("start container %s: its first process ended before it ran %s", c.Name, cfg.Cmd[0])
	}
	return nil
}

// Pid is the host PID of the container's PID 1, or 0 when it is not
// running.
func (c *container) Pid() int {
	if c.pid1 == nil || c.pid1.Cmd.ProcessState != nil {
		return 0
	}
	return c.pid1.Pid()
}

// kill sends PID 1 SIGKILL (`docker kill`) and waits for it, after the
// processes exec'd into the container: PID 1's exit waits until every
// process of its PID namespace is reaped (kernel/pid_namespace.c,
// zap_pid_ns_processes), and theirs is the lesson.
func (c *container) kill(l *lab) error {
	if c.pid1 == nil || c.pid1.Cmd.ProcessState != nil {
		return nil
	}
	if err := c.pid1.Cmd.Process.Kill(); err != nil {
		return err
	}
	for _, p := range l.execs {
		p.Wait()
	}
	done := make(chan struct{})
	go func() { c.pid1.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("container %s: PID 1 (host pid %d) has not exited 10 s after SIGKILL", c.Name, c.pid1.Pid())
	}
}

// stop kills the container and removes its cgroup.
func (c *container) stop(l *lab) error {
	if err := c.kill(l); err != nil {
		return err
	}
	if c.Cgroup != nil {
		if err := c.Cgroup.Destroy(); err != nil {
			return err
		}
	}
	return nil
}

func (c *container) unmountRoot() error {
	if c.unmount == nil {
		return nil
	}
	err := c.unmount()
	c.unmount = nil
	return err
}
