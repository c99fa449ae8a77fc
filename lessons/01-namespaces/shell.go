//go:build linux

package main

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/reexec"
)

func init() { reexec.Register("shell", shellChild) }

// shellChild sets up the namespaces it was born in, then becomes the host's
// shell: the child ends in exec, as every container start does.
func shellChild(c *reexec.Conn) error {
	if err := unix.Sethostname([]byte(containerHostname)); err != nil {
		return fmt.Errorf("sethostname: %w", err)
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("mount --make-rprivate /: %w", err)
	}
	if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mount -t proc proc /proc: %w", err)
	}
	env := append(os.Environ(), "PS1="+containerHostname+"# ")
	return c.Exec([]string{"/bin/sh"}, env)
}

// shell drops the learner into /bin/sh in new UTS, PID, mount, IPC and
// network namespaces: try hostname, ps, ip link, mount.
func shell(s *kit.Session) error {
	s.Step(len(s.Lesson.Steps)+1, len(s.Lesson.Steps)+1, "A shell in new namespaces",
		"The host's own /bin/sh, as PID 1 in new UTS, PID, mount, IPC and network namespaces.\n"+
			"Try: hostname; ps; ls /proc; cat /proc/self/cgroup. Type exit to leave.")
	s.Cmd("unshare --uts --pid --fork --mount-proc --ipc --net sh")
	c := reexec.NewChild("shell")
	c.Cmd.SysProcAttr.Cloneflags = unix.CLONE_NEWUTS | unix.CLONE_NEWPID | unix.CLONE_NEWNS | unix.CLONE_NEWIPC | unix.CLONE_NEWNET
	c.Cmd.Stdin, c.Cmd.Stdout, c.Cmd.Stderr = s.In, s.Out, s.Err
	return s.Foreground(func() error {
		if err := c.Start(s.Ctx); err != nil {
			return err
		}
		defer c.Close()
		if err := c.Wait(); err != nil {
			return fmt.Errorf("shell: %w", err)
		}
		return nil
	})
}
