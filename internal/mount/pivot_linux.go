package mount

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/procfs"
)

// MakePrivate is `mount --make-rprivate path`. A new mount namespace copies
// each mount's propagation; where / is shared (systemd makes it so), mounts
// made "inside" would appear on the host, and pivot_root(2) refuses to work
// (mount_namespaces(7)). So this always comes first.
func MakePrivate(path string, trace Tracer) error {
	m := Mount{Target: path, Flags: unix.MS_REC | unix.MS_PRIVATE}
	if err := unix.Mount("", path, "", m.Flags, ""); err != nil {
		return mountError(m, m.Flags, err)
	}
	trace.addCall(OpMount, path, mountCall(m.Flags), "%s", m)
	return nil
}

// BindSelf is `mount --rbind dir dir`: pivot_root(2) needs the new root to be
// a mount point, and a directory becomes one when bound onto itself.
func BindSelf(dir string, trace Tracer) error {
	m := Mount{Source: dir, Target: dir, Flags: unix.MS_BIND | unix.MS_REC}
	if err := unix.Mount(dir, dir, "", m.Flags, ""); err != nil {
		return mountError(m, m.Flags, err)
	}
	trace.addCall(OpMount, dir, mountCall(m.Flags), "%s", m)
	return nil
}

// PivotRoot makes dir, a mount point in the caller's own mount namespace
// with every mount private, the root of that namespace, and takes the old
// root away (pivot_root(2), NOTES):
//
//	cd dir; pivot_root . .; umount -l .; cd /
//
// With new_root and put_old the same directory, pivot_root stacks the old
// root on top of the new one, at /. Lookups of / start at the process's
// root, which is now the new root underneath, so no path leads to the old
// one any more; umount2(".", MNT_DETACH) then resolves "." up the stack to
// the old root and detaches it, with everything mounted under it. No
// directory is made for the old root, so a read-only root works. The
// detach is lazy by design: this very process started from the old root.
//
// It refuses to run in a mount namespace that any other process shares
// (the host's, say): pivot_root moves the root and working directory of
// every process in the namespace that was using the old root.
func PivotRoot(dir string, trace Tracer) error {
	if err := requireOwnNamespace(); err != nil {
		return err
	}
	return pivotRoot(dir, trace)
}

// PivotRootFresh is [PivotRoot] for a caller that made its mount namespace
// itself, at clone(2) or unshare(2) with CLONE_NEWNS, and so knows that no
// other process is in it: it skips the check, which reads
// /proc/<pid>/ns/mnt of every process on the host and, on a busy one, costs
// more than the rest of a container's start. A container runtime's init is
// such a caller; anything else should use PivotRoot.
func PivotRootFresh(dir string, trace Tracer) error { return pivotRoot(dir, trace) }

func pivotRoot(dir string, trace Tracer) error {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open new root %s: %w", dir, err)
	}
	defer unix.Close(fd)
	if err := unix.Fchdir(fd); err != nil {
		return fmt.Errorf("cd %s: %w", dir, err)
	}
	trace.add(OpChdir, dir, "cd %s", dir)
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root . . (in %s): %w%s", dir, err, pivotHint(err))
	}
	trace.add(OpPivot, dir, "pivot_root . .")
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("umount -l . (the old root, after pivot_root): %w", err)
	}
	trace.add(OpUnmount, "/", "umount -l .")
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("cd /: %w", err)
	}
	trace.add(OpChdir, "/", "cd /")
	return nil
}

// pivotHint names the usual causes of a pivot_root(2) error.
func pivotHint(err error) string {
	if !errors.Is(err, unix.EINVAL) {
		return ""
	}
	if rootIsInitramfs() {
		return " (/ is the initial ramfs, the root of the mount tree, which pivot_root(2) cannot move: boot" +
			" from a disk, or make / an ordinary mount first, as switch_root does and internal/vmtest's /init shows)"
	}
	return " (is the new root a mount point, and is every mount private? see pivot_root(2) and mount_namespaces(7))"
}

// rootIsInitramfs reports whether / is the namespace's root mount, which
// lists itself as its own parent in mountinfo (proc(5)).
func rootIsInitramfs() bool {
	ms, err := procfs.ReadMountinfo("self")
	if err != nil {
		return false
	}
	root, ok := procfs.Mounts(ms).At("/")
	return ok && root.ID == root.Parent
}

// requireOwnNamespace fails unless the caller is alone in its mount
// namespace. Comparing with PID 1's namespace is not enough: in a new PID
// namespace with its own /proc, PID 1 is the caller itself. So it looks at
// every process it can see, and names those that share the namespace.
func requireOwnNamespace() error {
	others, err := sharingMountNamespace()
	if err != nil {
		return fmt.Errorf("refusing to pivot_root: cannot tell whether this mount namespace is shared: %w", err)
	}
	if len(others) == 0 {
		return nil
	}
	var names []string
	for i, pid := range others {
		if i == 3 {
			names = append(names, "...")
			break
		}
		st, _ := procfs.ReadStat(strconv.Itoa(pid))
		names = append(names, fmt.Sprintf("%d %s", pid, st.Comm))
	}
	what := "other processes"
	if len(others) == 1 {
		what = "other process"
	}
	return fmt.Errorf("refusing to pivot_root in a mount namespace shared with %d %s (%s), such as the host's: "+
		"pivot_root(2) would move their root too. Run it in a child in a new mount namespace (CLONE_NEWNS)",
		len(others), what, strings.Join(names, ", "))
}

// sharingMountNamespace lists the other processes in the caller's mount
// namespace: those whose /proc/<pid>/ns/mnt is the same namespace file
// (device and inode) as ours. Our own threads are not in /proc's list.
// The PIDs are those of the /proc mounted, which may be the host's.
func sharingMountNamespace() ([]int, error) {
	var ns unix.Stat_t
	if err := unix.Stat("/proc/self/ns/mnt", &ns); err != nil {
		return nil, fmt.Errorf("stat /proc/self/ns/mnt: %w", err)
	}
	pids, err := procfs.PIDs()
	if err != nil {
		return nil, err
	}
	// Our PID as this /proc numbers it: in a new PID namespace we are 1,
	// but the host's /proc, still mounted, knows us by the host's number.
	self, err := os.Readlink("/proc/self")
	if err != nil {
		return nil, err
	}
	me, err := strconv.Atoi(self)
	if err != nil {
		return nil, fmt.Errorf("/proc/self is %q", self)
	}
	var out []int
	for _, pid := range pids {
		var st unix.Stat_t
		if pid == me || unix.Stat("/proc/"+strconv.Itoa(pid)+"/ns/mnt", &st) != nil {
			continue // gone, or a zombie, whose namespaces are gone with it
		}
		if st.Dev == ns.Dev && st.Ino == ns.Ino {
			out = append(out, pid)
		}
	}
	return out, nil
}
