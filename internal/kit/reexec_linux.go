package kit

// The re-exec pattern, used by every lesson to run code inside new namespaces.
//
// Why Go needs it: a Go program is multi-threaded from its first instruction,
// and unshare(2) and setns(2) change the namespaces of the calling *thread*
// only, while the Go scheduler moves goroutines between threads at will. A C
// program would fork(2) and call unshare in the child; Go cannot fork without
// exec. So the program starts itself again ("/proc/self/exe init <stage>"),
// asking clone(2) to create the new namespaces for that new process
// (exec.Cmd's SysProcAttr.Cloneflags), and the new process runs the stage's
// code from its first instruction, inside them. runc does the same (its
// "runc init").
//
// The rules, as in runc:
//   - the "init" argument is caught before any flag parsing ([MaybeRunInit],
//     first thing in [Main] and in kittest.Main), and the main goroutine is
//     locked to the main thread from package init, so code that does call
//     unshare or setns acts on the thread it will keep running on;
//   - configuration goes over an inherited socket (fd 3, announced by one
//     environment variable), not over argv or the environment, and the
//     child's report comes back the same way;
//   - the child gets SIGKILL if the parent dies (Pdeathsig), so no lesson
//     leaves orphans behind;
//   - the child ends in exec(2) or in a non-zero exit after sending its
//     error to the parent;
//   - its stage is visible: `ps` shows "<program> init <stage>" and the
//     thread name (comm) is the stage.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	initArg = "init"
	// connEnv names the inherited fd of the parent-child socket.
	connEnv = "_UNBOX_INIT_FD"
)

// InitFunc is a stage's code, run in the re-exec'd child. It returns an error
// to report failure to the parent, or ends the process with [Conn.Exec].
type InitFunc func(c *Conn) error

var (
	inits       = map[string]InitFunc{}
	initsErrors []error
)

// RegisterInit makes fn runnable as stage in a re-exec'd child. Call it from
// a package-level var or init function, so every stage is known before
// [MaybeRunInit] looks for it.
func RegisterInit(stage string, fn InitFunc) {
	if _, dup := inits[stage]; dup {
		initsErrors = append(initsErrors, fmt.Errorf("init stage %q registered twice", stage))
	}
	inits[stage] = fn
}

func init() {
	if isInit() {
		// Keep the main goroutine on the main thread (the thread group
		// leader) until the stage ends: see the comment at the top.
		runtime.LockOSThread()
	}
}

func isInit() bool { return len(os.Args) > 2 && os.Args[1] == initArg }

// MaybeRunInit runs the stage and exits if this process is a re-exec'd child;
// otherwise it returns at once. [Main] and kittest.Main call it first.
func MaybeRunInit() {
	if !isInit() {
		return
	}
	os.Exit(runInit(os.Args[2], os.Args[3:]))
}

func runInit(stage string, args []string) int {
	c, err := connFromEnv()
	if err != nil {
		fmt.Fprintf(os.Stderr, "init %s: %v\n", stage, err)
		return 1
	}
	c.Args = args
	defer c.Close()
	fn := inits[stage]
	switch {
	case len(initsErrors) > 0:
		err = errors.Join(initsErrors...)
	case fn == nil:
		err = fmt.Errorf("no init stage %q in this program", stage)
	default:
		// comm is 15 bytes at most; the full stage is in argv for ps.
		setComm(stage)
		err = fn(c)
	}
	if err != nil {
		_ = c.sendError(err)
		return 1
	}
	return 0
}

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

func connFromEnv() (*Conn, error) {
	s := os.Getenv(connEnv)
	fd, err := strconv.Atoi(s)
	if err != nil {
		return nil, fmt.Errorf("started as a child, but %s=%q names no inherited socket", connEnv, s)
	}
	// Not inherited further: anything this child execs must not hold the
	// parent's socket open (the parent would never see end-of-file).
	unix.CloseOnExec(fd)
	return newConn(os.NewFile(uintptr(fd), "init-conn")), nil
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
// gone without a word.
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
// not, the error goes to the parent.
func (c *Conn) Exec(argv []string, env []string) error {
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return fmt.Errorf("exec %s: %w", argv[0], err)
	}
	if err := unix.Exec(path, argv, env); err != nil {
		return fmt.Errorf("exec %s: %w", path, err)
	}
	return nil
}

// ChildError is an error the child reported over the socket.
type ChildError struct{ Msg string }

func (e *ChildError) Error() string { return e.Msg }

// Child is a re-exec'd copy of this program, about to run (or running) one
// stage. Set namespaces and the like on Cmd.SysProcAttr before Start.
type Child struct {
	Cmd   *exec.Cmd
	Stage string

	conn     *Conn
	childEnd *os.File
	stopKill func() bool

	waitOnce sync.Once
	waitErr  error
	reported *ChildError // an error the child sent, already read by Recv
}

// NewChild prepares "<this program> init <stage> args..." with the socket
// inherited as fd 3 and SIGKILL on parent death. Its stdio is /dev/null
// except stderr, which is ours, so a crash in the child is not silent.
func NewChild(stage string, args ...string) (*Child, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socketpair: %w", err)
	}
	parentEnd := os.NewFile(uintptr(fds[0]), "init-conn-parent")
	childEnd := os.NewFile(uintptr(fds[1]), "init-conn-child")

	cmd := exec.Command("/proc/self/exe")
	cmd.Args = append([]string{os.Args[0], initArg, stage}, args...)
	cmd.ExtraFiles = []*os.File{childEnd} // fd 3 in the child
	cmd.Env = append(os.Environ(), connEnv+"=3")
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return &Child{Cmd: cmd, Stage: stage, conn: newConn(parentEnd), childEnd: childEnd}, nil
}

// Start starts the child. Cancelling ctx kills it.
func (c *Child) Start(ctx context.Context) error {
	err := c.Cmd.Start()
	// Our copy of the child's end must go, or we would never see EOF when
	// the child dies.
	c.childEnd.Close()
	if err != nil {
		c.conn.Close()
		return fmt.Errorf("start %s child (%s): %w", c.Stage, CloneFlagNames(c.Cmd.SysProcAttr.Cloneflags), err)
	}
	c.stopKill = context.AfterFunc(ctx, func() { _ = c.Cmd.Process.Kill() })
	return nil
}

// Pid is the child's PID as the parent sees it.
func (c *Child) Pid() int { return c.Cmd.Process.Pid }

// Send sends v to the child.
func (c *Child) Send(v any) error {
	if err := c.conn.Send(v); err != nil {
		return fmt.Errorf("send to %s child: %w", c.Stage, c.deathCause(err))
	}
	return nil
}

// Recv waits for the child's next message. If the child failed, the error
// says why in the child's own words, or how it died.
func (c *Child) Recv(v any) error {
	err := c.conn.Recv(v)
	if err == nil {
		return nil
	}
	var ce *ChildError
	if errors.As(err, &ce) {
		c.reported = ce
		c.Wait()
		return fmt.Errorf("%s child: %w", c.Stage, err)
	}
	return fmt.Errorf("%s child: %w", c.Stage, c.deathCause(err))
}

// deathCause explains a broken socket by how the child ended.
func (c *Child) deathCause(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) {
		if werr := c.Wait(); werr != nil {
			return fmt.Errorf("it ended without answering: %w", werr)
		}
		return errors.New("it ended without answering")
	}
	return err
}

// Wait waits for the child to exit. An error the child reported comes back
// as the error; otherwise a non-zero exit or a signal does.
func (c *Child) Wait() error {
	c.waitOnce.Do(func() {
		werr := c.Cmd.Wait()
		if c.stopKill != nil {
			c.stopKill()
		}
		if werr != nil && c.reported != nil {
			werr = c.reported
		} else if werr != nil {
			// A child that failed normally sent its reason before exiting;
			// prefer it to "exit status 1".
			for {
				var env envelope
				if c.conn.dec.Decode(&env) != nil {
					break
				}
				if env.Error != "" {
					werr = &ChildError{Msg: env.Error}
					break
				}
			}
		}
		c.conn.Close()
		c.waitErr = werr
	})
	return c.waitErr
}

// Close kills the child if it is still running and reaps it. It is safe to
// call more than once and after Wait, so `defer c.Close()` right after
// Start is always right.
func (c *Child) Close() error {
	if c.Cmd.Process != nil && c.Cmd.ProcessState == nil {
		_ = c.Cmd.Process.Kill()
		c.Wait()
	}
	return nil
}

// setComm sets the thread name that ps -o comm and top show (prctl(2),
// PR_SET_NAME; 15 bytes at most).
func setComm(name string) {
	if len(name) > 15 {
		name = name[:15]
	}
	if p, err := unix.BytePtrFromString(name); err == nil {
		_ = unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(p)), 0, 0, 0)
	}
}
