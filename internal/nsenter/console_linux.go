package nsenter

import (
	"errors"
	"fmt"
	"os"

	"github.com/creack/pty"
	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// openConsole allocates a pseudo-terminal for a process in the container
// of pid (pty(7)): from the container's own devpts instance when it has
// one, so that the terminal is /dev/pts/N *there*, as runc allocates it;
// otherwise from the host's (creack/pty).
//
// The container's /dev/pts/ptmx is looked up inside its root
// (/proc/<pid>/root, RESOLVE_IN_ROOT through pathrs-lite), since the
// container controls every name on the way and could point /dev at the
// host's; it must be the ptmx node of a devpts filesystem. The slave side
// is opened with TIOCGPTPEER (Linux 4.13) from the master itself, not by a
// name the container could swap.
func openConsole(pid int) (master, slave *os.File, err error) {
	root, err := os.OpenFile(fmt.Sprintf("/proc/%d/root", pid), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("exec: terminal: open the container's root: %w", err)
	}
	defer root.Close()
	h, err := pathrs.OpenatInRoot(root, "dev/pts/ptmx")
	if errors.Is(err, unix.ENOENT) {
		return pty.Open()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("exec: terminal: the container's /dev/pts/ptmx: %w", err)
	}
	defer h.Close()
	var fs unix.Statfs_t
	var st unix.Stat_t
	if err := unix.Fstatfs(int(h.Fd()), &fs); err != nil {
		return nil, nil, fmt.Errorf("exec: terminal: statfs /dev/pts/ptmx: %w", err)
	}
	if err := unix.Fstat(int(h.Fd()), &st); err != nil {
		return nil, nil, fmt.Errorf("exec: terminal: stat /dev/pts/ptmx: %w", err)
	}
	if fs.Type != unix.DEVPTS_SUPER_MAGIC || st.Mode&unix.S_IFMT != unix.S_IFCHR || unix.Major(st.Rdev) != 5 || unix.Minor(st.Rdev) != 2 {
		return nil, nil, errors.New("exec: terminal: the container's /dev/pts/ptmx is not the ptmx of a devpts filesystem")
	}
	opened, err := pathrs.Reopen(h, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC)
	if err != nil {
		return nil, nil, fmt.Errorf("exec: terminal: open /dev/pts/ptmx: %w", err)
	}
	if master, err = pollable(opened); err != nil {
		return nil, nil, fmt.Errorf("exec: terminal: %w", err)
	}
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("exec: terminal: unlockpt: %w", err)
	}
	fd, _, e := unix.Syscall(unix.SYS_IOCTL, master.Fd(), unix.TIOCGPTPEER, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC)
	if e != 0 {
		master.Close()
		return nil, nil, fmt.Errorf("exec: terminal: open the terminal's other side (TIOCGPTPEER): %w", e)
	}
	return master, os.NewFile(fd, "pty-peer"), nil
}

// pollable returns f as a file of Go's network poller, whose Read a Close
// interrupts: a copy of its descriptor in non-blocking mode, which
// os.NewFile registers with the poller. f is closed.
func pollable(f *os.File) (*os.File, error) {
	defer f.Close()
	sc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	fd := -1
	var derr error
	if err := sc.Control(func(old uintptr) { fd, derr = unix.FcntlInt(old, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return nil, err
	}
	if derr != nil {
		return nil, fmt.Errorf("dup: %w", derr)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}
