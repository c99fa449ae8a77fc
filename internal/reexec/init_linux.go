package reexec

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	// initArg is argv[1] of a re-exec'd child: "<program> init <stage>".
	initArg = "init"
	// connEnv names the child's inherited end of the socket.
	connEnv = "_UNBOX_INIT_FD"
	// connFD is where the child finds it: the first of exec.Cmd.ExtraFiles.
	connFD = 3
)

// Func is a stage's code, run in the re-exec'd child. It returns an error to
// report failure to the parent, or ends the process with [Conn.Exec].
type Func func(c *Conn) error

var (
	stages      = map[string]Func{}
	stageErrors []error
)

// Register makes fn runnable as stage in a re-exec'd child. Call it from a
// package-level var or init function, so that every stage is known before
// [Init] looks for it.
func Register(stage string, fn Func) {
	if _, dup := stages[stage]; dup {
		stageErrors = append(stageErrors, fmt.Errorf("init stage %q registered twice", stage))
	}
	stages[stage] = fn
}

func init() {
	if IsChild() {
		// Keep the main goroutine on the main thread (the thread group
		// leader) until the stage ends: see the package documentation.
		runtime.LockOSThread()
	}
}

// IsChild reports whether this process is a re-exec'd child.
func IsChild() bool { return len(os.Args) > 2 && os.Args[1] == initArg }

// Init runs the stage and exits if this process is a re-exec'd child;
// otherwise it returns at once. Call it first in main, before any flag
// parsing.
func Init() {
	if !IsChild() {
		return
	}
	os.Exit(runStage(os.Args[2], os.Args[3:]))
}

func runStage(stage string, args []string) int {
	c, err := connFromEnv()
	if err != nil {
		fmt.Fprintf(os.Stderr, "init %s: %v\n", stage, err)
		return 1
	}
	c.Args = args
	defer c.Close()
	fn := stages[stage]
	switch {
	case len(stageErrors) > 0:
		err = errors.Join(stageErrors...)
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

// connFromEnv takes over the socket the parent left at fd 3.
func connFromEnv() (*Conn, error) {
	s, ok := os.LookupEnv(connEnv)
	if !ok || s != fmt.Sprint(connFD) {
		return nil, fmt.Errorf("started as a child, but %s=%q names no inherited socket", connEnv, s)
	}
	// Neither the variable nor the descriptor goes further: a program this
	// child execs, or a grandchild it starts, must not hold the parent's
	// socket open (the parent would never see end-of-file) nor be told
	// about a descriptor it does not have.
	os.Unsetenv(connEnv)
	unix.CloseOnExec(connFD)
	var st unix.Stat_t
	if err := unix.Fstat(connFD, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		return nil, fmt.Errorf("started as a child, but fd %d is not the parent's socket (%v)", connFD, err)
	}
	return newConn(os.NewFile(connFD, "init-conn")), nil
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
