package container

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// sealedExe opens this program's file in a form the container cannot write
// through /proc/<pid>/exe (CVE-2019-5736): the process that runs it in the
// container, the init or an exec'd process before it execs, has it as its
// executable, and a process in the container that opens that link for
// writing (O_PATH first, then /proc/self/fd/N once the runtime is gone, as
// the exploit did) would overwrite the host's runtime binary.
//
// The cheap way: a detached bind mount of the file alone (open_tree(2),
// OPEN_TREE_CLONE), made read-only (mount_setattr(2), MOUNT_ATTR_RDONLY).
// It is in no mount table, so there is nothing to unmount: it goes with the
// last descriptor. The kernel checks the mount's read-only flag on every
// open for writing, whichever path leads there, so the open fails with
// EROFS. Two system calls, where copying the binary costs a read and a
// write of the whole file.
//
// Where the kernel lacks either call (before 5.12), or a caller without
// CAP_SYS_ADMIN cannot make mounts, it falls back to runc's first fix: a
// copy in a memfd, sealed against writes (memfd_create(2), F_SEAL_WRITE).
func sealedExe() (*os.File, error) {
	f, err := roBindExe()
	if err == nil {
		return f, nil
	}
	m, merr := memfdExe()
	if merr != nil {
		return nil, fmt.Errorf("make the runtime binary read-only for the container (CVE-2019-5736): %w; %w", err, merr)
	}
	return m, nil
}

func roBindExe() (*os.File, error) {
	fd, err := unix.OpenTree(unix.AT_FDCWD, "/proc/self/exe", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("open_tree /proc/self/exe: %w", err)
	}
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV}
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, &attr); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("mount_setattr MOUNT_ATTR_RDONLY: %w", err)
	}
	return os.NewFile(uintptr(fd), "unbox-runtime (read-only)"), nil
}

func memfdExe() (*os.File, error) {
	src, err := os.Open("/proc/self/exe")
	if err != nil {
		return nil, err
	}
	defer src.Close()
	fd, err := unix.MemfdCreate("unbox-runtime", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	m := os.NewFile(uintptr(fd), "unbox-runtime (memfd)")
	if _, err := io.Copy(m, src); err != nil {
		m.Close()
		return nil, fmt.Errorf("copy the runtime into a memfd: %w", err)
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(m.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		m.Close()
		return nil, fmt.Errorf("seal the memfd: %w", err)
	}
	return m, nil
}
