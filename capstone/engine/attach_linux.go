package engine

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// The attach protocol between the monitor and a CLI (`run` without -d,
// `start -a`, `wait`, `stop`): frames over a Unix stream socket, each an
// 8-byte header (the frame's type, three zero bytes, the payload's length
// as a big-endian uint32) and the payload, the header Docker's attach
// stream multiplexes stdout and stderr with. The first frame from the
// client is a hello; from then on stdin flows one way, output and the
// container's end the other.
const (
	frameStdin      byte = 0 // client → monitor: bytes for the container's stdin
	frameStdout     byte = 1 // monitor → client
	frameStderr     byte = 2 // monitor → client
	frameExit       byte = 3 // monitor → client: exitReport, JSON; the last frame
	frameResize     byte = 4 // client → monitor: rows, columns (uint16 each)
	frameCloseStdin byte = 5 // client → monitor: end of the stdin it sends
	frameSignal     byte = 6 // client → monitor: a signal for the container (--sig-proxy)
	frameHello      byte = 7 // client → monitor: attachHello, JSON
)

// maxFrame bounds a frame's payload: a peer that says more is not one.
const maxFrame = 1 << 20

// attachHello is what a client asks for.
type attachHello struct {
	Stdin  bool `json:"stdin"`
	Output bool `json:"output"`
}

// exitReport is how a run of the container ended, as the exit frame says.
type exitReport struct {
	ExitCode int    `json:"exitCode"`
	Error    string `json:"error,omitempty"`
	// Removed: the container went with it (--rm).
	Removed bool `json:"removed,omitempty"`
}

func writeFrame(w io.Writer, typ byte, p []byte) error {
	var h [8]byte
	h[0] = typ
	binary.BigEndian.PutUint32(h[4:], uint32(len(p)))
	_, err := w.Write(append(h[:], p...))
	return err
}

func readFrame(r io.Reader) (byte, []byte, error) {
	var h [8]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(h[4:])
	if n > maxFrame {
		return 0, nil, fmt.Errorf("attach: a frame of %d bytes; the limit is %d", n, maxFrame)
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		return 0, nil, err
	}
	return h[0], p, nil
}

// attachClient is one connected CLI, on the monitor's side.
type attachClient struct {
	conn  net.Conn
	hello attachHello
	mu    sync.Mutex // one frame at a time
}

// send writes a frame, giving up on a client that has not read for a
// while: a stuck terminal must not stop the container's log.
func (a *attachClient) send(typ byte, p []byte) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return writeFrame(a.conn, typ, p)
}

// hub is the monitor's set of attached clients.
type hub struct {
	mu      sync.Mutex
	clients map[*attachClient]bool
}

func newHub() *hub { return &hub{clients: map[*attachClient]bool{}} }

func (h *hub) add(a *attachClient) {
	h.mu.Lock()
	h.clients[a] = true
	h.mu.Unlock()
}

func (h *hub) remove(a *attachClient) {
	h.mu.Lock()
	delete(h.clients, a)
	h.mu.Unlock()
	a.conn.Close()
}

// output sends a chunk of the container's output to every client that
// asked for it.
func (h *hub) output(typ byte, p []byte) {
	h.mu.Lock()
	var cs []*attachClient
	for a := range h.clients {
		if a.hello.Output {
			cs = append(cs, a)
		}
	}
	h.mu.Unlock()
	for _, a := range cs {
		if err := a.send(typ, p); err != nil {
			h.remove(a)
		}
	}
}

// exit tells every client how the container ended, and lets them go.
func (h *hub) exit(r exitReport) {
	b, _ := json.Marshal(r)
	h.mu.Lock()
	cs := h.clients
	h.clients = map[*attachClient]bool{}
	h.mu.Unlock()
	for a := range cs {
		a.send(frameExit, b)
		a.conn.Close()
	}
}

// readHello reads a client's first frame.
func readHello(conn net.Conn) (attachHello, error) {
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	defer conn.SetReadDeadline(time.Time{})
	typ, p, err := readFrame(conn)
	if err != nil {
		return attachHello{}, err
	}
	var h attachHello
	if typ != frameHello || json.Unmarshal(p, &h) != nil {
		return h, errors.New("attach: the first frame is not a hello")
	}
	return h, nil
}
