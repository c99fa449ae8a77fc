package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// consoleSocket is the Unix socket a runtime sends a terminal's master to
// (--console-socket): the runtime connects and sends the descriptor with
// SCM_RIGHTS (unix(7)), as runc does for conmon and containerd's shim.
type consoleSocket struct {
	ln   *net.UnixListener
	path string
}

// listenConsole listens on dir/console.sock.
func listenConsole(dir string) (*consoleSocket, error) {
	path := filepath.Join(dir, "console.sock")
	os.Remove(path)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("console socket: %w", err)
	}
	ln.SetUnlinkOnClose(true)
	return &consoleSocket{ln: ln, path: path}, nil
}

// Receive waits for the runtime to connect and send the master.
func (s *consoleSocket) Receive(ctx context.Context) (*os.File, error) {
	stop := context.AfterFunc(ctx, func() { s.ln.Close() })
	defer stop()
	conn, err := s.ln.AcceptUnix()
	if err != nil {
		return nil, fmt.Errorf("console socket: %w", err)
	}
	defer conn.Close()
	oob := make([]byte, unix.CmsgSpace(4))
	buf := make([]byte, 4096) // runc sends the terminal's name as data
	_, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil {
		return nil, fmt.Errorf("console socket: %w", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return nil, errors.New("console socket: no terminal descriptor received")
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return nil, errors.New("console socket: no terminal descriptor received")
	}
	unix.CloseOnExec(fds[0])
	return os.NewFile(uintptr(fds[0]), "console"), nil
}

func (s *consoleSocket) Close() error { return s.ln.Close() }
