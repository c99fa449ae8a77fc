package container

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/mount"
)

// The console of a container whose process.terminal is true: a pty made
// inside the container (its own devpts, so the slave's number means
// nothing to the host), whose master goes to the caller over a Unix socket
// with SCM_RIGHTS (unix(7)), as runc's --console-socket does, and whose
// slave becomes the process's controlling terminal and stdio.

// openPty opens a new pty pair from the container's /dev/ptmx (pty(7)).
func openPty() (master *os.File, slavePath string, err error) {
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, "", fmt.Errorf("open /dev/ptmx: %w: is devpts mounted at /dev/pts with ptmxmode=0666?", err)
	}
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		unix.Close(fd)
		return nil, "", fmt.Errorf("unlockpt: %w", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		unix.Close(fd)
		return nil, "", fmt.Errorf("ptsname: %w", err)
	}
	return os.NewFile(uintptr(fd), "/dev/ptmx"), "/dev/pts/" + strconv.Itoa(n), nil
}

// setupConsole makes the pty, sizes it, binds its slave onto /dev/console,
// sends the master over sock, and makes the slave this process's
// controlling terminal and stdio. This process is the container's init or
// exec'd process, in its root already.
func setupConsole(sock *os.File, p Process, bindConsole bool) error {
	master, slavePath, err := openPty()
	if err != nil {
		return err
	}
	defer master.Close()
	if p.ConsoleHeight != 0 || p.ConsoleWidth != 0 {
		ws := &unix.Winsize{Row: p.ConsoleHeight, Col: p.ConsoleWidth}
		if err := unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, ws); err != nil {
			return fmt.Errorf("set the console size: %w", err)
		}
	}
	slave, err := unix.Open(slavePath, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", slavePath, err)
	}
	defer unix.Close(slave)
	if bindConsole {
		// /dev/console is what programs that want "the" console open
		// (runc binds it the same way).
		if _, err := mount.MountAll("/", []mount.Mount{{Source: slavePath, Target: "/dev/console", Flags: unix.MS_BIND}}, nil); err != nil {
			return err
		}
	}
	if err := sendFd(sock, master); err != nil {
		return err
	}
	if _, err := unix.Setsid(); err != nil {
		return fmt.Errorf("setsid: %w", err)
	}
	if err := unix.IoctlSetInt(slave, unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("make %s the controlling terminal: %w", slavePath, err)
	}
	for _, to := range []int{0, 1, 2} {
		if err := unix.Dup3(slave, to, 0); err != nil {
			return fmt.Errorf("dup %s to %d: %w", slavePath, to, err)
		}
	}
	return nil
}

// sendFd sends f over the connected Unix socket sock, with f's name as the
// message, as runc's utils.SendFd does (conmon and containerd read it so).
func sendFd(sock, f *os.File) error {
	oob := unix.UnixRights(int(f.Fd()))
	if err := unix.Sendmsg(int(sock.Fd()), []byte(f.Name()), oob, nil, 0); err != nil {
		return fmt.Errorf("send the console to the console socket: %w", err)
	}
	return nil
}

// recvFd receives one descriptor sent by sendFd.
func recvFd(sock *os.File) (*os.File, error) {
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := unix.Recvmsg(int(sock.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("receive the console: %w", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return nil, fmt.Errorf("receive the console: %w", err)
	}
	if len(msgs) != 1 {
		return nil, errors.New("receive the console: no descriptor in the message (the container failed before making its terminal?)")
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return nil, fmt.Errorf("receive the console: %v", err)
	}
	return os.NewFile(uintptr(fds[0]), string(buf[:n])), nil
}

// dialConsole connects to the caller's --console-socket and returns the
// connection as a file to hand to the child (socket(2), connect(2): the
// net package would be a lot of program for one connection).
func dialConsole(path string) (*os.File, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("console socket: %w", err)
	}
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("connect to the console socket %s: %w", path, err)
	}
	return os.NewFile(uintptr(fd), path), nil
}

// consolePair is a connected socket pair for a caller that wants the
// master itself (run -t, exec -t without --console-socket): one end goes to
// the child, the other is read with recvFd.
func consolePair() (ours, theirs *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("socketpair for the console: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "console"), os.NewFile(uintptr(fds[1]), "console-child"), nil
}

// takeConsole receives the master on our end of a consolePair, and closes
// that end.
func takeConsole(ours *os.File) (*os.File, error) {
	defer ours.Close()
	return recvFd(ours)
}
