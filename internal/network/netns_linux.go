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
// /proc/self/task/<tid>/ns/net on the file.
//
// Go runs goroutines on any of its threads, and unshare changes only the
// calling thread, so this happens on a goroutine locked to its thread that
// never unlocks it: when the goroutine ends the runtime throws the thread
// away, and no other goroutine ever runs in the new namespace by accident.
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
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: see above
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("unshare(CLONE_NEWNET): %w", err)
			return
		}
		src := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
		if err := unix.Mount(src, ns.Path, "", unix.MS_BIND, ""); err != nil {
			errc <- fmt.Errorf("mount --bind %s %s: %w", src, ns.Path, err)
			return
		}
		errc <- nil
	}()
	if err := <-errc; err != nil {
		os.Remove(ns.Path)
		return fmt.Errorf("ip netns add %s: %w", ns.Name, err)
	}
	return nil
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
// The thread goes back to the host's namespace afterwards; if it cannot,
// it stays locked and the runtime discards it.
func (ns *NetNS) Do(fn func() error) error {
	target, err := ns.open()
	if err != nil {
		return err
	}
	defer target.Close()
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
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("setns into %s: %w", ns.Name, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(int(home.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("setns back from %s: %w", ns.Name, err))
			return // still locked: the thread is discarded
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}
