package container

// Joining namespaces that already exist (setns(2)), for a container whose
// spec names namespace paths: its init joins them. (`exec` goes through
// internal/nsenter, which joins a user namespace too: exec_linux.go.)

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/nsenter"
)

// nsFile names a namespace's file under /proc/<pid>/ns, by the spec's type.
var nsFile = map[string]string{
	"pid": "pid", "network": "net", "mount": "mnt", "ipc": "ipc", "uts": "uts", "user": "user", "cgroup": "cgroup", "time": "time",
}

// joinThenStart runs start on a fresh thread that first joins each of
// joins (setns(2) with the namespace's clone flag, which makes the kernel
// check the file is that kind of namespace). A child started from that
// thread is born in them: namespaces are per thread, and clone(2) copies the
// calling thread's. The PID namespace can only be joined this way (setns
// with CLONE_NEWPID changes the namespace of the caller's future
// children). The thread is thrown away afterwards
// (nsenter.OnThrowawayThread), never handed to other code while in a
// container's namespaces.
func joinThenStart(joins []Namespace, start func() error) error {
	if len(joins) == 0 {
		return start()
	}
	return nsenter.OnThrowawayThread(func() error {
		for _, ns := range joins {
			if err := setns(ns.Path, ns.Flag); err != nil {
				return fmt.Errorf("join the %s namespace %s: %w", ns.Type, ns.Path, err)
			}
		}
		return start()
	})
}

func setns(path string, flag uintptr) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Setns(fd, int(flag))
}

// joinMountNS moves the calling thread into the mount namespace of fd.
// setns(2) refuses CLONE_NEWNS to a thread that shares its filesystem
// attributes (root, working directory) with others, which every thread of
// a Go program does; unshare(CLONE_FS) gives this thread its own first. The
// thread must be locked, and must be the one that execs.
func joinMountNS(f *os.File) error {
	if err := unix.Unshare(unix.CLONE_FS); err != nil {
		return fmt.Errorf("unshare CLONE_FS: %w", err)
	}
	if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("join the mount namespace %s: %w", f.Name(), err)
	}
	return nil
}

// parentJoins are the namespaces of cfg to join before the child starts:
// those with a path, but two the child joins itself, after it has started:
// the mount namespace (joinMountNS), and the cgroup namespace, which must be
// joined from inside the container's cgroup (with cgroup v2's nsdelegate,
// clone3 into a cgroup outside the caller's cgroup namespace fails with
// ENOENT).
func parentJoins(cfg *Config) []Namespace {
	var out []Namespace
	for _, ns := range cfg.Namespaces {
		if ns.Path != "" && ns.Type != "mount" && ns.Type != "cgroup" {
			out = append(out, ns)
		}
	}
	return out
}

// joinCgroupNS moves the calling thread into the cgroup namespace of fd.
func joinCgroupNS(fd int) error {
	if err := unix.Setns(fd, unix.CLONE_NEWCGROUP); err != nil {
		return fmt.Errorf("join the cgroup namespace: %w", err)
	}
	return nil
}

// newNamespaces are the clone(2) flags of the namespaces cfg creates at
// clone. A new cgroup namespace is left out: the init unshares it once it
// is in its cgroup, so that the cgroup is its namespace's root.
func newNamespaces(cfg *Config) uintptr {
	var flags uintptr
	for _, ns := range cfg.Namespaces {
		if ns.Path == "" && ns.Type != "cgroup" {
			flags |= ns.Flag
		}
	}
	return flags
}
