//go:build linux

package main

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/mount"
	"github.com/unboxlab/unbox/internal/reexec"
)

func init() { reexec.Register("shell", shellChild) }

// containerHostname is the hostname of the --shell container.
const containerHostname = "unbox-03"

// shellChild is a whole container start in one function: a hostname, the
// root filesystem entered (steps 4 and 5, in the runtime's order), then
// exec, as every container start ends.
func shellChild(c *reexec.Conn) error {
	var rootfs string
	if err := c.Recv(&rootfs); err != nil {
		return err
	}
	if err := unix.Sethostname([]byte(containerHostname)); err != nil {
		return fmt.Errorf("sethostname: %w", err)
	}
	// The runtime's whole sequence, as lesson 04 and the capstone run it:
	// the mounts before the pivot, every target resolved inside the root.
	cfg := mount.RootConfig{Dir: rootfs, Mounts: mount.ContainerMounts(), Devices: mount.SafeDevices}
	if err := mount.EnterRoot(cfg, nil); err != nil {
		return err
	}
	env := []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "PS1=" + containerHostname + "# "}
	if term := os.Getenv("TERM"); term != "" {
		env = append(env, "TERM="+term)
	}
	return c.Exec([]string{"/bin/sh"}, env)
}

// shell drops the learner into the root filesystem's /bin/sh, as PID 1 of
// new UTS, PID, mount and IPC namespaces, in the pivoted root.
func (st *state) shell(s *kit.Session) error {
	w, err := st.workdir(s)
	if err != nil {
		return err
	}
	n := len(s.Lesson.Steps) + 1
	s.Step(n, n, "A shell inside the container",
		"The root filesystem's own /bin/sh, as PID 1, in the pivoted root with /proc, /sys and /dev.\n"+
			"Try: ls /; ps; mount; ls -l /dev; cat /proc/1/mountinfo; cd /..; pwd. Type exit to leave.")
	s.Cmd("unshare --uts --pid --fork --mount --ipc sh    # then steps 4 and 5, then: exec /bin/sh")
	c := reexec.NewChild("shell")
	c.Cmd.SysProcAttr.Cloneflags = unix.CLONE_NEWUTS | unix.CLONE_NEWPID | unix.CLONE_NEWNS | unix.CLONE_NEWIPC
	c.Cmd.Stdin, c.Cmd.Stdout, c.Cmd.Stderr = s.In, s.Out, s.Err
	return s.Foreground(func() error {
		if err := c.Start(s.Ctx); err != nil {
			return err
		}
		defer c.Close()
		if err := c.Send(w.Rootfs); err != nil {
			return err
		}
		if err := c.Wait(); err != nil {
			return fmt.Errorf("shell: %w", err)
		}
		return nil
	})
}
