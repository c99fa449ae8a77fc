//go:build linux

// Command mini runs one container with everything from lessons 01 to 04, in
// their order, in one file: the bridge from the lessons to unbox-runtime.
// Each block is labelled with its lesson and calls the concept package the
// lesson taught; unbox-runtime (capstone/container) does the same things,
// from a config.json, with the rest of the OCI spec around them.
//
//	go run -exec sudo ./capstone/mini                      # a shell
//	go run -exec sudo ./capstone/mini sh -c 'hostname; id'
//
// It needs root, and a kernel with overlayfs.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/cgroups"
	"github.com/unboxlab/unbox/internal/mount"
	"github.com/unboxlab/unbox/internal/overlay"
	"github.com/unboxlab/unbox/internal/reexec"
	"github.com/unboxlab/unbox/internal/rootfs"
)

func main() {
	// Lesson 01: a re-exec'd child is caught here, before anything else.
	reexec.Init()
	err := run(context.Background(), os.Args, os.Stdin, os.Stdout, os.Stderr)
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		os.Exit(exit.ExitCode())
	case err != nil:
		fmt.Fprintln(os.Stderr, "mini:", err)
		os.Exit(1)
	}
}

// request is what the parent sends the child: where its root goes.
type request struct {
	Lower, Upper, Work, Merged string
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	command := args[1:]
	if len(command) == 0 {
		command = []string{"sh"}
	}
	if os.Geteuid() != 0 {
		return errors.New("mini makes namespaces, mounts and cgroups: run it as root (go run -exec sudo ./capstone/mini)")
	}

	// Lesson 03: a root filesystem is just a directory. The fixture's
	// cached tree is shared and never written: it is the image.
	image, _, err := rootfs.Cached(ctx, rootfs.Options{})
	if err != nil {
		return err
	}

	// Lesson 04: the container writes to a layer of its own on top of the
	// image, and overlayfs shows the two as one tree (mounted by the
	// child, in its own mount namespace, so the host never sees it).
	dir, err := os.MkdirTemp("", "unbox-mini-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	req := request{Lower: image, Upper: filepath.Join(dir, "upper"), Work: filepath.Join(dir, "work"), Merged: filepath.Join(dir, "merged")}
	for _, d := range []string{req.Upper, req.Work, req.Merged} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return err
		}
	}

	// Lesson 02: a cgroup holds the container to limits: half a CPU,
	// 64 MiB, 64 tasks. v1 or v2, the one interface.
	host, err := cgroups.OpenHost(cgroups.DefaultRoot)
	if err != nil {
		return err
	}
	cg, err := host.New(cgroups.Config{Parent: "/", Name: "unbox-mini-" + strconv.Itoa(os.Getpid()), Controllers: []string{"cpu", "memory", "pids"}})
	if err != nil {
		return err
	}
	if err := cg.Create(); err != nil {
		return err
	}
	defer cg.Destroy()
	if err := cg.Set(cgroups.Resources{CPUQuota: 50000, CPUPeriod: 100000, Memory: 64 << 20, PidsLimit: 64}); err != nil {
		return err
	}

	// Lesson 01: namespaces. The child is this program again, born in new
	// ones (clone(2) flags), and in the cgroup from its first instruction
	// where the kernel can (CLONE_INTO_CGROUP).
	child := reexec.NewChild("mini", command...)
	defer child.Close()
	child.Cmd.Stdin, child.Cmd.Stdout, child.Cmd.Stderr = stdin, stdout, stderr
	child.Cmd.SysProcAttr.Cloneflags = unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC | unix.CLONE_NEWPID | unix.CLONE_NEWNET
	_, err = cgroups.Start(cg, func(cgroupFD int) (int, error) {
		if cgroupFD >= 0 {
			child.Cmd.SysProcAttr.UseCgroupFD, child.Cmd.SysProcAttr.CgroupFD = true, cgroupFD
		}
		if err := child.Start(ctx); err != nil {
			return 0, err
		}
		return child.Pid(), nil
	})
	if err != nil {
		return err
	}
	if err := child.Send(req); err != nil {
		return err
	}
	return child.Wait()
}

func init() { reexec.Register("mini", container) }

// container is the child: PID 1 of its namespaces, in its cgroup.
func container(c *reexec.Conn) error {
	var req request
	if err := c.Recv(&req); err != nil {
		return err
	}

	// Lesson 01: the UTS namespace is ours to name.
	if err := unix.Sethostname([]byte("mini")); err != nil {
		return fmt.Errorf("sethostname: %w", err)
	}

	// Lesson 04: the image and the container's layer, as one tree. The
	// mount namespace is made private first, so that nothing mounted
	// here propagates to the host.
	opts, err := overlay.Layers{Lower: []string{req.Lower}, Upper: req.Upper, Work: req.Work}.Options(os.Getpagesize())
	if err != nil {
		return err
	}
	if err := mount.MakePrivate("/", nil); err != nil {
		return err
	}
	ovl := mount.Mount{Source: "overlay", Target: req.Merged, Type: overlay.FSType, Data: opts}
	if _, err := mount.MountAll("/", []mount.Mount{ovl}, nil); err != nil {
		return fmt.Errorf("%w%s", err, overlay.MountHint(err))
	}

	// Lesson 03: pivot_root into it, with the filesystems every container
	// gets (/proc of our PID namespace, /sys read-only, a /dev with only
	// the safe devices), every target resolved inside the root.
	cfg := mount.RootConfig{Dir: req.Merged, Mounts: mount.ContainerMounts(), Devices: mount.SafeDevices}
	if err := mount.EnterRoot(cfg, nil); err != nil {
		return err
	}

	// And the program: exec(2) replaces this one, with no descriptor of
	// ours left open and the working directory inside the root.
	env := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "TERM=xterm"}
	return c.Exec(c.Args, env)
}
