package engine

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Session is a CLI's attach connection to a container's monitor: the
// container's output arrives on it, stdin goes out on it, and it ends
// with the container's exit.
type Session struct {
	conn net.Conn
}

// Attach connects to a running container's stdio (`unbox attach`), its
// input too with stdin; it never starts one, as Start with Attach does.
func (e *Engine) Attach(ref string, stdin bool) (*Session, error) {
	c, err := e.Lookup(ref)
	if err != nil {
		return nil, err
	}
	switch {
	case !e.monitorAlive(c.ID):
		return nil, errors.New("you cannot attach to a stopped container, start it first")
	case c.State.Status == Paused:
		return nil, errors.New("you cannot attach to a paused container, unpause it first")
	}
	return e.attach(c.ID, attachHello{Stdin: stdin, Output: true})
}

// attach connects to the monitor of a running container.
func (e *Engine) attach(id string, h attachHello) (*Session, error) {
	conn, err := net.Dial("unix", filepath.Join(e.runDir(id), "attach.sock"))
	if err != nil {
		return nil, fmt.Errorf("attach to %s: %w", Short(id), err)
	}
	s := &Session{conn: conn}
	if err := s.hello(h); err != nil {
		conn.Close()
		return nil, err
	}
	return s, nil
}

// attachPair is a connected pair: the CLI's Session, and the end the
// monitor gets as descriptor 4, with the hello already written on it.
func attachPair(h attachHello) (*Session, *os.File, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("attach: socketpair: %w", err)
	}
	mine := os.NewFile(uintptr(fds[0]), "attach")
	theirs := os.NewFile(uintptr(fds[1]), "attach-monitor")
	conn, err := net.FileConn(mine)
	mine.Close()
	if err != nil {
		theirs.Close()
		return nil, nil, err
	}
	s := &Session{conn: conn}
	if err := s.hello(h); err != nil {
		conn.Close()
		theirs.Close()
		return nil, nil, err
	}
	return s, theirs, nil
}

func (s *Session) hello(h attachHello) error {
	b, _ := json.Marshal(h)
	return writeFrame(s.conn, frameHello, b)
}

// Resize passes a terminal's new size on to the container's.
func (s *Session) Resize(rows, cols uint16) error {
	var p [4]byte
	binary.BigEndian.PutUint16(p[:], rows)
	binary.BigEndian.PutUint16(p[2:], cols)
	return writeFrame(s.conn, frameResize, p[:])
}

// Signal sends sig to the container's process (docker's --sig-proxy).
func (s *Session) Signal(sig unix.Signal) error {
	var p [4]byte
	binary.BigEndian.PutUint32(p[:], uint32(sig))
	return writeFrame(s.conn, frameSignal, p[:])
}

// ErrDetached is what a session's stdin returns when the user typed the
// detach keys (Docker's ctrl-p ctrl-q): the CLI leaves, the container
// runs on.
var ErrDetached = errors.New("read escape sequence")

// ExitError is a container's run that ended with a status other than 0,
// or failed: the CLI exits with Code.
type ExitError struct {
	Code int
	Msg  string
}

func (e *ExitError) Error() string {
	if e.Msg != "" {
		return e.Msg
	}
	return fmt.Sprintf("the container exited with status %d", e.Code)
}

// Copy streams the container's output to stdout and stderr, and stdin
// (when not nil) to the container, until the container exits; it returns
// its exit status. With a terminal, all output arrives as stdout.
//
// A stdin that fails with ErrDetached (the detach keys were typed) ends
// the session there, the container's stdin left open, and Copy returns
// ErrDetached: the container goes on, as after `run -d`.
func (s *Session) Copy(stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	defer s.conn.Close()
	var detached atomic.Bool
	if stdin != nil {
		go func() {
			buf := make([]byte, 32<<10)
			for {
				n, err := stdin.Read(buf)
				if n > 0 && writeFrame(s.conn, frameStdin, buf[:n]) != nil {
					return
				}
				if errors.Is(err, ErrDetached) {
					detached.Store(true)
					s.conn.Close()
					return
				}
				if err != nil {
					writeFrame(s.conn, frameCloseStdin, nil)
					return
				}
			}
		}()
	}
	for {
		typ, p, err := readFrame(s.conn)
		if err != nil {
			if detached.Load() {
				return 0, ErrDetached
			}
			if errors.Is(err, io.EOF) {
				return 0, errors.New("the container's monitor went away before the container exited")
			}
			return 0, err
		}
		switch typ {
		case frameStdout:
			stdout.Write(p)
		case frameStderr:
			stderr.Write(p)
		case frameExit:
			var r exitReport
			if err := json.Unmarshal(p, &r); err != nil {
				return 0, err
			}
			if r.Error != "" {
				return r.ExitCode, &ExitError{Code: r.ExitCode, Msg: r.Error}
			}
			return r.ExitCode, nil
		}
	}
}

// Close ends the session; the container goes on.
func (s *Session) Close() error { return s.conn.Close() }
