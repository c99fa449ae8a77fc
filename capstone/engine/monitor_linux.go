package engine

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/procfs"
	"github.com/unboxlab/unbox/internal/reexec"
	"github.com/unboxlab/unbox/internal/statefile"
)

// The monitor is this program again, "unbox init monitor" (internal/reexec),
// one per running container, as podman runs a conmon per container. The CLI
// starts it in a session of its own and leaves; the monitor
//
//   - is the container's init's parent (a child subreaper, prctl(2)
//     PR_SET_CHILD_SUBREAPER, so an init that a runtime binary leaves behind
//     is reparented to it), and so the one process that learns its exit
//     status, which it records;
//   - owns the container's stdio: pipes, or the master of its terminal,
//     copied into the json-file log and to attached clients;
//   - serves attach on <state>/containers/<short id>/attach.sock;
//   - runs the container's healthcheck and records its health (health.go);
//   - applies the restart policy, and removes the container with --rm.
//
// Its PID and start time are in monitor.json beside the socket: a command
// that finds a container running with its monitor gone repairs it.

func init() { reexec.Register("monitor", monitorStage) }

// monitorRequest is what the CLI sends the monitor.
type monitorRequest struct {
	Options Options `json:"options"`
	ID      string  `json:"id"`
	// Rows and Cols size the terminal of a container with one.
	Rows uint16 `json:"rows,omitempty"`
	Cols uint16 `json:"cols,omitempty"`
	// Attached: descriptor 4 is an attach connection from the CLI,
	// there before the container starts, so that no output is missed.
	Attached bool `json:"attached,omitempty"`
}

// monitorReply is the monitor's word to the CLI: "registered" (its
// monitor.json is written), then "started" or "failed".
type monitorReply struct {
	Stage    string `json:"stage"`
	Pid      int    `json:"pid,omitempty"`
	ExitCode int    `json:"exitCode,omitempty"`
	Error    string `json:"error,omitempty"`
}

// monitorInfo is monitor.json.
type monitorInfo struct {
	Pid   int    `json:"pid"`
	Start uint64 `json:"start"` // clock ticks after boot (proc(5), stat field 22)
}

const attachFD = 4 // the CLI's attach connection, the first ExtraFile after reexec's socket

type monitor struct {
	e   *Engine
	id  string
	hub *hub
	log *jsonLog
	ln  *net.UnixListener

	mu        sync.Mutex // the fields below, and runtime commands
	rt        Runtime
	stdin     io.WriteCloser // the container's stdin (pipe or terminal), nil if closed
	console   *os.File
	stdinOnce bool
	pumps     sync.WaitGroup
}

func monitorStage(conn *reexec.Conn) error {
	var req monitorRequest
	if err := conn.Recv(&req); err != nil {
		return err
	}
	// A monitor idles for the container's whole life: one P (GOMAXPROCS,
	// set by the CLI that starts it), and a heap kept small (it holds
	// little but buffers).
	debug.SetGCPercent(50)
	signal.Ignore(unix.SIGHUP, unix.SIGINT, unix.SIGTERM, unix.SIGQUIT, unix.SIGTTIN, unix.SIGTTOU)
	if err := os.Chdir("/"); err != nil {
		return err
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("become a subreaper: %w", err)
	}
	e, err := Open(req.Options)
	if err != nil {
		return err
	}
	m := &monitor{e: e, id: req.ID, hub: newHub()}
	if err := m.register(); err != nil {
		return err
	}
	defer m.unregister()
	if err := conn.Send(monitorReply{Stage: "registered"}); err != nil {
		return err
	}
	if req.Attached {
		// FileConn dups the descriptor; the *os.File must close the
		// original itself. Closing the number behind its back (as this
		// did) leaves the File's finalizer to close the number again when
		// the GC gets to it: by then it was the container's stdout pipe,
		// and the container's output ended in EPIPE.
		f := os.NewFile(attachFD, "attach")
		c, err := net.FileConn(f)
		f.Close()
		if err == nil {
			m.accept(c)
		}
	}
	go m.serve()
	m.run(conn, req)
	return nil
}

// register writes monitor.json and listens for attach clients.
func (m *monitor) register() error {
	dir := m.e.runDir(m.id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	st, err := procfs.ReadStat("self")
	if err != nil {
		return err
	}
	sock := filepath.Join(dir, "attach.sock")
	os.Remove(sock)
	m.ln, err = net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		return fmt.Errorf("attach socket: %w", err)
	}
	return statefile.WriteJSON(filepath.Join(dir, "monitor.json"), monitorInfo{Pid: os.Getpid(), Start: st.StartTime}, 0o600)
}

func (m *monitor) unregister() {
	if m.ln != nil {
		m.ln.Close()
	}
	os.RemoveAll(m.e.runDir(m.id))
}

// serve accepts attach clients until the monitor ends.
func (m *monitor) serve() {
	for {
		c, err := m.ln.Accept()
		if err != nil {
			return
		}
		m.accept(c)
	}
}

// accept reads a client's hello, adds it, and serves its frames.
func (m *monitor) accept(conn net.Conn) {
	go func() {
		h, err := readHello(conn)
		if err != nil {
			conn.Close()
			return
		}
		a := &attachClient{conn: conn, hello: h}
		m.hub.add(a)
		for {
			typ, p, err := readFrame(conn)
			if err != nil {
				break
			}
			switch typ {
			case frameStdin:
				m.writeStdin(p)
			case frameCloseStdin:
				m.closeStdin()
			case frameResize:
				if len(p) == 4 {
					m.resize(binary.BigEndian.Uint16(p), binary.BigEndian.Uint16(p[2:]))
				}
			case frameSignal:
				if len(p) == 4 {
					m.signal(unix.Signal(binary.BigEndian.Uint32(p)))
				}
			}
		}
		m.hub.remove(a)
		if h.Stdin && m.stdinOnce {
			m.closeStdin()
		}
	}()
}

func (m *monitor) writeStdin(p []byte) {
	m.mu.Lock()
	w := m.stdin
	m.mu.Unlock()
	if w != nil {
		w.Write(p)
	}
}

// closeStdin ends the container's stdin (a pipe; a terminal gets ^D).
func (m *monitor) closeStdin() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stdin == nil {
		return
	}
	if m.console != nil {
		m.console.Write([]byte{4})
	} else {
		m.stdin.Close()
	}
	m.stdin = nil
}

func (m *monitor) resize(rows, cols uint16) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.console != nil {
		unix.IoctlSetWinsize(int(m.console.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols})
	}
}

func (m *monitor) signal(sig unix.Signal) {
	m.mu.Lock()
	rt := m.rt
	m.mu.Unlock()
	if rt != nil {
		rt.Kill(context.Background(), m.id, sig, false)
	}
}

// run starts the container, waits for it, and starts it again as its
// restart policy says, until it is done.
func (m *monitor) run(conn *reexec.Conn, req monitorRequest) {
	first, backoff := true, 100*time.Millisecond
	var report exitReport
	for {
		began := time.Now()
		pid, err := m.startOnce(req.Rows, req.Cols)
		if first {
			if err != nil {
				conn.Send(monitorReply{Stage: "failed", ExitCode: codeOf(err), Error: err.Error()})
			} else {
				conn.Send(monitorReply{Stage: "started", Pid: pid})
			}
			conn.Close()
			// What starting took (the engine's state, the runtime's
			// set-up) is garbage now: give it back before idling.
			debug.FreeOSMemory()
		}
		if err != nil {
			report = exitReport{ExitCode: codeOf(err), Error: err.Error()}
			m.e.update(m.id, func(c *Container) error {
				c.State.Error, c.State.ExitCode = err.Error(), codeOf(err)
				if !first {
					c.State.set(Exited)
					c.State.FinishedAt = time.Now().UTC()
				}
				return nil
			})
			break
		}
		first = false
		code := m.wait(pid, m.watchHealth(pid))
		m.stopRun()
		report = exitReport{ExitCode: code}
		var again bool
		c, err := m.e.update(m.id, func(c *Container) error {
			c.State.set(Exited)
			c.NetworkSettings.clearRuntime() // stopRun took it off its networks
			c.State.ExitCode, c.State.FinishedAt = code, time.Now().UTC()
			again = restartDue(c, code)
			if again {
				c.State.set(Restarting)
			}
			return nil
		})
		if err != nil || !again {
			break
		}
		m.hub.exit(report)
		if time.Since(began) > 10*time.Second {
			backoff = 100 * time.Millisecond
		}
		if !m.sleep(backoff) {
			m.e.update(m.id, func(c *Container) error { c.State.set(Exited); return nil })
			break
		}
		backoff = min(2*backoff, time.Minute)
		m.e.update(m.id, func(c *Container) error { c.RestartCount++; return nil })
		_ = c
	}
	if m.log != nil {
		m.log.Close()
	}
	c, err := m.e.load(m.id)
	if err == nil && c.HostConfig.AutoRemove {
		m.unregister()
		if err := m.e.remove(context.Background(), c.ID, true, true); err == nil {
			report.Removed = true
		}
	}
	m.hub.exit(report)
}

// restartDue applies the restart policy to an exit with code.
func restartDue(c *Container, code int) bool {
	p := c.HostConfig.RestartPolicy
	if c.State.ManuallyStopped {
		return false
	}
	switch p.Name {
	case "always", "unless-stopped":
		return true
	case "on-failure":
		return code != 0 && (p.MaximumRetryCount == 0 || c.RestartCount < p.MaximumRetryCount)
	}
	return false
}

// sleep waits d before a restart, and reports false if the container was
// stopped (or is being removed) meanwhile.
func (m *monitor) sleep(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		time.Sleep(min(100*time.Millisecond, time.Until(deadline)))
		c, err := m.e.load(m.id)
		if err != nil || c.State.ManuallyStopped || c.State.Status == Removing {
			return false
		}
	}
	return true
}

func codeOf(err error) int {
	var ec *ExitCodeError
	if errors.As(err, &ec) {
		return ec.Code
	}
	return 125
}

// startOnce makes and starts the container once: init layer, overlay,
// spec, stdio, runtime create, network, runtime start, the record. On
// failure it undoes what it made.
func (m *monitor) startOnce(rows, cols uint16) (pid int, err error) {
	ctx := context.Background()
	e := m.e
	c, unlock, err := e.lock(m.id)
	if err != nil {
		return 0, err
	}
	defer unlock()
	if c.State.Status == Removing {
		return 0, errors.New("the container is being removed")
	}
	rt, err := e.runtimeFor(c.HostConfig.Runtime)
	if err != nil {
		return 0, err
	}
	netw, err := e.network(c)
	if err != nil {
		return 0, err
	}
	var sio *stdio
	defer func() {
		if err != nil {
			if sio != nil {
				sio.closeAll()
			}
			m.teardownRun(c, rt, netw)
			err = startFailure(err)
		}
	}()
	setup, err := netw.Prepare(c)
	if err != nil {
		return 0, err
	}
	setup = withNameOptions(c, setup)
	if err := e.writeInitLayer(c, setup); err != nil {
		return 0, err
	}
	if err := e.mountRootfs(c); err != nil {
		return 0, err
	}
	ss := startSpec{Rows: rows, Cols: cols, Net: setup}
	if c.HostConfig.Init {
		if ss.InitBinary, err = e.reaper(); err != nil {
			return 0, err
		}
	}
	sp, err := e.spec(c, ss)
	if err != nil {
		return 0, err
	}
	if err := statefile.WriteJSON(filepath.Join(e.bundle(c.ID), "config.json"), sp, 0o600); err != nil {
		return 0, err
	}
	if m.log == nil {
		if m.log, err = openLog(c.LogPath, m.hub); err != nil {
			return 0, err
		}
	}
	sio, err = m.openStdio(c)
	if err != nil {
		return 0, err
	}
	_ = rt.Delete(ctx, c.ID, true) // what a monitor killed before left
	m.mu.Lock()
	m.rt = rt
	m.mu.Unlock()
	pid, err = rt.Create(ctx, c.ID, e.bundle(c.ID), sio.create)
	sio.closeChildEnds()
	if err != nil {
		return 0, err
	}
	if err := sio.takeConsole(ctx); err != nil {
		return 0, err
	}
	if err := netw.Attach(c, pid); err != nil {
		return 0, err
	}
	m.startPumps(sio)
	if err := rt.Start(ctx, c.ID); err != nil {
		return 0, err
	}
	c.State.set(Running)
	c.State.Pid, c.State.StartedAt, c.State.ExitCode, c.State.Error = pid, time.Now().UTC(), 0, ""
	if healthEnabled(c.Config.Healthcheck) {
		if c.State.Health == nil {
			c.State.Health = &Health{}
		}
		c.State.Health.start()
	} else {
		c.State.Health = nil
	}
	return pid, e.save(c)
}

// wait waits for the container's init to exit and its output to drain,
// and returns its exit status as a shell reports it. stopHealth ends the
// healthcheck's probes once the init has exited, before what else ended
// is reaped (a probe's process is this process's child).
func (m *monitor) wait(pid int, stopHealth func()) int {
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(pid, &ws, 0, nil)
		if err != unix.EINTR {
			break
		}
	}
	stopHealth()
	done := make(chan struct{})
	go func() { m.pumps.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second): // a process outside the PID namespace holds the pipe
	}
	m.mu.Lock()
	if m.stdin != nil {
		m.stdin.Close()
		m.stdin = nil
	}
	if m.console != nil {
		m.console.Close()
		m.console = nil
	}
	// Reap what else ended as our child meanwhile (a runtime's helper);
	// no runtime command runs while the lock is held.
	for {
		p, err := unix.Wait4(-1, nil, unix.WNOHANG, nil)
		if p <= 0 || err != nil {
			break
		}
	}
	m.mu.Unlock()
	return waitStatus(ws)
}

// stopRun undoes a start once the container has exited.
func (m *monitor) stopRun() {
	c, err := m.e.load(m.id)
	if err != nil {
		return
	}
	rt, err := m.e.runtimeFor(c.HostConfig.Runtime)
	if err != nil {
		return
	}
	netw, err := m.e.network(c)
	if err != nil {
		return
	}
	m.teardownRun(c, rt, netw)
}

func (m *monitor) teardownRun(c *Container, rt Runtime, netw Network) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.e.teardown(c, rt, netw)
	m.rt = nil
}

// teardown removes what a start of c made, whoever made it (a monitor
// after the exit; rm or repair for a container whose monitor died): the
// runtime's container and its processes, the cgroup (the runtime's job,
// made sure of), the network, the overlay mount.
func (e *Engine) teardown(c *Container, rt Runtime, netw Network) error {
	var errs []error
	if rt != nil {
		if err := rt.Delete(context.Background(), c.ID, true); err != nil {
			errs = append(errs, err)
		}
	}
	if err := e.destroyCgroup(c); err != nil {
		errs = append(errs, err)
	}
	if netw != nil {
		if err := netw.Detach(c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := unmount(e.rootfs(c.ID)); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// readMonitor reads a container's monitor.json.
func (e *Engine) readMonitor(id string) (monitorInfo, error) {
	var mi monitorInfo
	err := statefile.ReadJSON(filepath.Join(e.runDir(id), "monitor.json"), &mi)
	return mi, err
}

// monitorAlive reports whether the container's monitor is running: the
// process monitor.json names is alive and started when it says (so a
// reused PID is not taken for it).
func (e *Engine) monitorAlive(id string) bool {
	mi, err := e.readMonitor(id)
	return err == nil && alive(mi.Pid, mi.Start)
}

func alive(pid int, start uint64) bool {
	if pid <= 0 {
		return false
	}
	st, err := procfs.ReadStat(strconv.Itoa(pid))
	return err == nil && st.StartTime == start && st.State != "Z" && st.State != "X"
}

// killMonitor ends the container's monitor, if it runs, and waits until
// it is gone (it is not this process's child: its parent is init).
func (e *Engine) killMonitor(id string) {
	mi, err := e.readMonitor(id)
	if err != nil || !alive(mi.Pid, mi.Start) {
		return
	}
	unix.Kill(mi.Pid, unix.SIGKILL)
	for deadline := time.Now().Add(5 * time.Second); alive(mi.Pid, mi.Start) && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
}
