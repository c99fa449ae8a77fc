//go:build linux

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/procfs"
	"github.com/unboxlab/unbox/internal/reexec"
)

// A container is a process, not a machine: it runs on the host's kernel
// (uname(2) reports the kernel's release, which no namespace changes), it
// is a line in the host's ps, and starting it is starting a process. A
// virtual machine boots a kernel of its own.

func init() { reexec.Register("machine", machineChild) }

// vmBoot is how long a VM takes to reach its first process, measured for
// this lesson on the machine named in the README ("VM or container"): the
// VM test lane's kernel (Debian's 6.1) under QEMU 7.2 with software
// emulation (no KVM), 1 vCPU and 512 MiB, from starting QEMU to the first
// line /init prints, median of five boots. A lesson cannot boot a VM in a
// second, so the figure is measured once and the ratio computed each run.
const vmBoot = 2000 * time.Millisecond

// machineView is what the container's process says about its world.
type machineView struct {
	Release string // uname -r
	PID     int
}

func machineChild(c *reexec.Conn) error {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return fmt.Errorf("uname: %w", err)
	}
	if err := c.Send(machineView{Release: unix.ByteSliceToString(u.Release[:]), PID: os.Getpid()}); err != nil {
		return err
	}
	return c.Recv(nil)
}

// machineReport is the step: the child's answer, what the host saw of it,
// and how long it took from clone(2) to the child's first message.
type machineReport struct {
	Inside      machineView
	HostRelease string
	HostPID     int
	Comm, Args  string
	Started     time.Duration
}

// containerFlags are the namespaces `docker run` makes (but the cgroup one,
// lesson 02's business): a container, less its own root filesystem (03).
const containerFlags = unix.CLONE_NEWUTS | unix.CLONE_NEWPID | unix.CLONE_NEWNS | unix.CLONE_NEWIPC | unix.CLONE_NEWNET

func machineDemo(ctx context.Context) (machineReport, error) {
	var r machineReport
	t := time.Now()
	c, err := start(ctx, "machine", containerFlags)
	if err != nil {
		return r, err
	}
	defer c.Close()
	if err := c.Recv(&r.Inside); err != nil {
		return r, err
	}
	r.Started = time.Since(t)
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return r, err
	}
	r.HostRelease = unix.ByteSliceToString(u.Release[:])
	r.HostPID = c.Pid()
	pid := strconv.Itoa(r.HostPID)
	st, err := procfs.ReadStat(pid)
	if err != nil {
		return r, err
	}
	r.Comm = st.Comm
	b, err := os.ReadFile("/proc/" + pid + "/cmdline")
	if err != nil {
		return r, err
	}
	argv := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
	argv[0] = filepath.Base(argv[0])
	r.Args = strings.Join(argv, " ")
	if err := c.Send(nil); err != nil {
		return r, err
	}
	return r, c.Wait()
}

func stepMachine(s *kit.Session) error {
	r, err := machineDemo(s.Ctx)
	if err != nil {
		return err
	}
	if r.Inside.Release != r.HostRelease {
		return fmt.Errorf("uname -r inside is %q and on the host %q: one kernel cannot report two releases", r.Inside.Release, r.HostRelease)
	}
	s.Cmd("unshare --uts --pid --mount --ipc --net --fork <this lesson>    # a container, but its own /")
	s.Inside("uname -r: %s; getpid() = %d", r.Inside.Release, r.Inside.PID)
	s.Host("uname -r: %s: the same kernel", r.HostRelease)
	s.Cmd("ps -o pid,comm,args -p %d", r.HostPID)
	s.Host("host pid %d  %s  %s", r.HostPID, r.Comm, r.Args)
	s.Host("from clone(2) to its first message: %s", r.Started.Round(10*time.Microsecond))
	s.Host("a VM booting its own kernel to its first process: %s (measured for the README)", vmBoot)
	s.Host("the VM took about %d times as long", int(vmBoot/max(r.Started, time.Microsecond)))
	s.Note("One kernel: uname(2) reports the kernel's release in every UTS namespace, and what the kernel\n" +
		"does for one process it does for all (lesson 03 writes to /proc/sys from inside and the host\n" +
		"sees it). The container is a line in the host's ps like any other process, and starting it is\n" +
		"starting a process: milliseconds, against seconds for a VM's kernel to boot. The price is the\n" +
		"isolation: a VM's guest has a kernel of its own to attack; a container shares the host's.")
	return nil
}
