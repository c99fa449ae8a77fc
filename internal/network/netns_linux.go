package network

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/unix"
)

// CreateNetNS makes a new network namespace and pins it at ns.Path, as
// `ip netns add` does (ip-netns(8)): create an empty file, unshare(2) a new
// network namespace on one thread, bind-mount that thread's
// /proc/self/task/<tid>/ns/net on the file, and go back.
//
// Go runs goroutines on any of its threads, and unshare changes only the
// calling thread, so this happens on a goroutine locked to its thread,
// which setns(2)es back to where it was before it unlocks. It must not
// simply let the thread die: a child process started earlier from that
// thread (exec.Cmd with Pdeathsig, as every re-exec'd child here is) would
// be killed with it, since the parent-death signal follows the thread
// (prctl(2), PR_SET_PDEATHSIG). Only if it cannot go back does the thread
// stay locked, and the runtime discards it.
//
// Unlike ip(8) we do not make NetNSDir a shared mount: nothing we start
// keeps a copy of these mounts for longer than the namespace lives (a
// container's pivot_root drops its copy of the host's mounts).
func CreateNetNS(ns *NetNS) error {
	if err := os.MkdirAll(filepath.Dir(ns.Path), 0o755); err != nil {
		return fmt.Errorf("ip netns add %s: %w", ns.Name, err)
	}
	f, err := os.OpenFile(ns.Path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("ip netns add %s: %s exists: a namespace of that name is there already "+
				"(remove it with `ip netns delete %s` if it is a leftover)", ns.Name, ns.Path, ns.Name)
		}
		return fmt.Errorf("ip netns add %s: %w", ns.Name, err)
	}
	f.Close()
	err = onThread(func() error {
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("unshare(CLONE_NEWNET): %w", err)
		}
		src := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
		if err := unix.Mount(src, ns.Path, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("mount --bind %s %s: %w", src, ns.Path, err)
		}
		return nil
	})
	if err != nil {
		os.Remove(ns.Path)
		return fmt.Errorf("ip netns add %s: %w", ns.Name, err)
	}
	return nil
}

// onThread runs fn on a goroutine locked to its thread and puts the
// thread back in the network namespace it started in afterwards, whatever
// fn did to it. If it cannot, the thread stays locked and is discarded.
func onThread(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		home, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer home.Close()
		ferr := fn()
		if err := unix.Setns(int(home.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("setns back to the host's network namespace: %w", err))
			return // still locked: the thread is discarded
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// DeleteNetNS unpins the namespace, as `ip netns delete` does: unmount the
// file and remove it. The namespace itself goes when the last process in
// it exits and the last file descriptor on it is closed; its links go with
// it (a veth's peer on the host included), but only then, and the kernel
// does that work asynchronously, so delete host links first. A namespace
// that is already gone is no error.
func DeleteNetNS(ns *NetNS) error {
	err := unix.Unmount(ns.Path, unix.MNT_DETACH)
	if err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("ip netns delete %s: umount %s: %w", ns.Name, ns.Path, err)
	}
	if err := os.Remove(ns.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("ip netns delete %s: %w", ns.Name, err)
	}
	return nil
}

// Exists reports whether the namespace is pinned at its path: the file is
// there and is an nsfs mount.
func (ns *NetNS) Exists() bool {
	var st unix.Statfs_t
	return unix.Statfs(ns.Path, &st) == nil && st.Type == unix.NSFS_MAGIC
}

// open returns a file descriptor on the namespace, for setns(2) and for
// netlink sockets opened inside it.
func (ns *NetNS) open() (*os.File, error) {
	f, err := os.Open(ns.Path)
	if err != nil {
		return nil, fmt.Errorf("network namespace %s: %w", ns.Name, err)
	}
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &st); err != nil || st.Type != unix.NSFS_MAGIC {
		f.Close()
		return nil, fmt.Errorf("network namespace %s: %s is not a namespace (not an nsfs mount): "+
			"it was not created, or was deleted", ns.Name, ns.Path)
	}
	return f, nil
}

// Do runs fn on a thread that has joined the namespace, as
// `ip netns exec` runs a command there. Sockets fn opens belong to the
// namespace for their whole life, whichever thread uses them later; a
// process fn starts (exec.Cmd.Start) is born in it. fn must not hand work
// to other goroutines and expect it to run in the namespace.
//
// The thread goes back to the host's namespace afterwards and lives on
// (see CreateNetNS for why that matters); if it cannot, it stays locked
// and the runtime discards it.
func (ns *NetNS) Do(fn func() error) error {
	target, err := ns.open()
	if err != nil {
		return err
	}
	defer target.Close()
	return onThread(func() error {
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("setns into %s: %w", ns.Name, err)
		}
		return fn()
	})
}
