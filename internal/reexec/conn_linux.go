package reexec

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Conn is one end of the socket between parent and child. Messages are JSON
// values; an error reported by the child arrives at the parent as an error
// from Recv or Wait.
type Conn struct {
	f   *os.File
	enc *json.Encoder
	dec *json.Decoder
	// Args are the child's arguments after the stage name.
	Args []string
}

type envelope struct {
	Data  json.RawMessage `json:"data,omitempty"`
	Error string          `json:"error,omitempty"`
}

func newConn(f *os.File) *Conn {
	return &Conn{f: f, enc: json.NewEncoder(f), dec: json.NewDecoder(f)}
}

// Send sends v as one message.
func (c *Conn) Send(v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.enc.Encode(envelope{Data: data})
}

func (c *Conn) sendError(err error) error {
	return c.enc.Encode(envelope{Error: err.Error()})
}

// Recv waits for one message and decodes it into v; with v nil it only waits
// (a "go on" from the other side). It returns io.EOF when the other side has
// gone without a word, and a *ChildError when it sent an error.
func (c *Conn) Recv(v any) error {
	var env envelope
	if err := c.dec.Decode(&env); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			err = io.EOF
		}
		return err
	}
	if env.Error != "" {
		return &ChildError{Msg: env.Error}
	}
	if v == nil || len(env.Data) == 0 {
		return nil
	}
	return json.Unmarshal(env.Data, v)
}

// Close closes this end of the socket.
func (c *Conn) Close() error { return c.f.Close() }

// Exec replaces the child with argv[0], as every container start ends. The
// socket closes on exec, which tells the parent the exec worked; if it did
// not, the error goes to the parent. Before execve(2) every descriptor above
// stderr is marked close-on-exec, and a working directory outside the root
// is refused: see "Caveats" in the package documentation.
func (c *Conn) Exec(argv []string, env []string) error {
	return c.ExecPreserving(argv, env, 0)
}

// ExecPreserving is [Conn.Exec] that leaves descriptors 3 to 3+preserve-1
// open across execve(2), for a caller that has put descriptors there on
// purpose (runc's --preserve-fds, systemd's socket activation). Everything
// above them is marked close-on-exec, as Exec does.
func (c *Conn) ExecPreserving(argv []string, env []string, preserve int) error {
	if err := cwdInsideRoot(); err != nil {
		return fmt.Errorf("exec %s: %w", argv[0], err)
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return fmt.Errorf("exec %s: %w", argv[0], err)
	}
	if err := closeExecFrom(3 + preserve); err != nil {
		return fmt.Errorf("exec %s: %w", path, err)
	}
	if err := unix.Exec(path, argv, env); err != nil {
		return fmt.Errorf("exec %s: %w", path, err)
	}
	return nil
}

// closeExecFrom marks every descriptor from first up close-on-exec:
// close_range(2) with CLOSE_RANGE_CLOEXEC (Linux 5.11), else one fcntl(2)
// per entry of /proc/self/fd, as runc's CloseExecFrom does.
func closeExecFrom(first int) error {
	if err := unix.CloseRange(uint(first), ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err == nil {
		return nil
	}
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return fmt.Errorf("mark descriptors close-on-exec: %w", err)
	}
	for _, e := range entries {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd >= first {
			unix.CloseOnExec(fd)
		}
	}
	return nil
}

// cwdInsideRoot fails when the working directory cannot be reached from the
// process's root: getcwd(2) then answers "(unreachable)/...", or ENOENT.
func cwdInsideRoot() error {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Getcwd(buf)
	if err != nil {
		return fmt.Errorf("working directory: %w", err)
	}
	if cwd := strings.TrimRight(string(buf[:n]), "\x00"); !strings.HasPrefix(cwd, "/") {
		return fmt.Errorf("working directory %s is outside the root (CVE-2024-21626): chdir into the root first", cwd)
	}
	return nil
}

// ChildError is an error the child reported over the socket.
type ChildError struct{ Msg string }

func (e *ChildError) Error() string { return e.Msg }
