package nsenter

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"
)

// Proc is a process started by [Start]: a child of the caller, running in
// the target's namespaces.
type Proc struct {
	pid     int
	process *os.Process
	joined  []Namespace
	console *os.File // the terminal's master side, with Process.Terminal

	childFiles      []*os.File  // what child 2 gets as 0, 1 and 2
	closeAfterStart []io.Closer // the parent's copies of the child's ends
	closeAfterWait  []io.Closer // the parent's ends of pipes, the console
	copiers         []copier

	// For error messages.
	argv0      string
	candidates []string
	inPath     bool
	cwd        string
	uid, gid   uint32
	groups     []uint32
	rlimits    []Rlimit
	keep       []any // what child 2 reads (C strings, the filter), alive until the fork

	waitOnce sync.Once
	status   ExitStatus
	waitErr  error
	copyErrs chan error // from the copiers Wait waits for
	done     chan struct{}
}

// copier moves one stream between the caller and the process.
type copier struct {
	run  func() error
	wait bool // Wait waits for it: output; not input, which may never end
}

// drainTimeout is how long Wait lets output copying go on once the process
// has exited: a process it started in the background may hold the pipe or
// terminal open for ever (os/exec.Cmd.WaitDelay does the same).
const drainTimeout = 2 * time.Second

// Pid is the process's PID in the caller's PID namespace (the host's).
func (p *Proc) Pid() int { return p.pid }

// Joined lists the namespaces the process joined, in order: those of the
// target that the caller did not share.
func (p *Proc) Joined() []Namespace { return p.joined }

// Console is the master side of the process's terminal, with
// Process.Terminal; nil otherwise. Reads give the terminal's output,
// writes are its input. Wait closes it.
func (p *Proc) Console() *os.File { return p.console }

// Signal sends sig to the process. It goes through a pidfd, so a process
// that has exited and been reaped is an error, never another process that
// got its PID.
func (p *Proc) Signal(sig os.Signal) error { return p.process.Signal(sig) }

// ForwardSignals relays each of sigs that the caller receives to the
// process, as `docker run --sig-proxy` does, until stop is called or the
// process has been waited for.
func (p *Proc) ForwardSignals(sigs ...os.Signal) (stop func()) {
	ch := make(chan os.Signal, 8)
	signal.Notify(ch, sigs...)
	quit := make(chan struct{})
	var once sync.Once
	go func() {
		for {
			select {
			case sig := <-ch:
				_ = p.Signal(sig)
			case <-quit:
				return
			case <-p.done:
				return
			}
		}
	}()
	return func() {
		once.Do(func() {
			signal.Stop(ch)
			close(quit)
		})
	}
}

// Resize sets the size of the process's terminal; the kernel sends the
// process SIGWINCH.
func (p *Proc) Resize(size Winsize) error {
	if p.console == nil {
		return errors.New("resize: the process has no terminal")
	}
	if err := pty.Setsize(p.console, &pty.Winsize{Rows: size.Rows, Cols: size.Cols}); err != nil {
		return fmt.Errorf("resize terminal to %dx%d: %w", size.Cols, size.Rows, err)
	}
	return nil
}

// TerminalSize is the size of the terminal f, for [Process.Size] and
// [Proc.Resize]: what `stty size` reads.
func TerminalSize(f *os.File) (Winsize, error) {
	ws, err := pty.GetsizeFull(f)
	if err != nil {
		return Winsize{}, fmt.Errorf("terminal size of %s: %w", f.Name(), err)
	}
	return Winsize{Rows: ws.Rows, Cols: ws.Cols}, nil
}

// Wait waits for the process to exit and for its output to be copied, and
// returns how it ended. The error is about waiting or copying, never the
// process's own status.
func (p *Proc) Wait() (ExitStatus, error) {
	p.waitOnce.Do(func() {
		defer close(p.done)
		st, err := p.process.Wait()
		if err != nil {
			p.waitErr = fmt.Errorf("wait for process %d: %w", p.pid, err)
			return
		}
		if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			p.status.Signal = ws.Signal()
		} else {
			p.status.Code = st.ExitCode()
		}
		pending := 0
		for _, c := range p.copiers {
			if c.wait {
				pending++
			}
		}
		// Closing the parent's ends makes the copiers return (they are
		// pollable files); one that still does not is left behind.
		timeout, closed := time.After(drainTimeout), false
		for pending > 0 {
			select {
			case err := <-p.copyErrs:
				pending--
				if err != nil && p.waitErr == nil {
					p.waitErr = err
				}
			case <-timeout:
				if closed {
					pending = 0
					break
				}
				closeAll(p.closeAfterWait)
				timeout, closed = time.After(drainTimeout), true
			}
		}
		closeAll(p.closeAfterWait)
	})
	return p.status, p.waitErr
}

// setupStdio decides what child 2 gets as 0, 1 and 2, as os/exec does, or
// a terminal.
func (p *Proc) setupStdio(t *target, proc Process) error {
	if proc.Terminal {
		master, slave, err := openConsole(t.pid)
		if err != nil {
			return err
		}
		p.console = master
		p.closeAfterWait = append(p.closeAfterWait, master)
		p.closeAfterStart = append(p.closeAfterStart, slave)
		if proc.Size != (Winsize{}) {
			if err := p.Resize(proc.Size); err != nil {
				return err
			}
		}
		p.childFiles = []*os.File{slave, slave, slave}
		if proc.Stdin != nil {
			p.copiers = append(p.copiers, copier{run: func() error { _, err := io.Copy(master, proc.Stdin); return err }})
		}
		if proc.Stdout != nil {
			p.copiers = append(p.copiers, copier{wait: true, run: func() error { return ignoreEIO(io.Copy(proc.Stdout, master)) }})
		}
		return nil
	}
	in, err := p.input(proc.Stdin)
	if err != nil {
		return err
	}
	out, err := p.output(proc.Stdout)
	if err != nil {
		return err
	}
	errOut := out
	if !sameWriter(proc.Stdout, proc.Stderr) {
		if errOut, err = p.output(proc.Stderr); err != nil {
			return err
		}
	}
	p.childFiles = []*os.File{in, out, errOut}
	return nil
}

// sameWriter reports whether stdout and stderr are one writer that is not
// a file, which then gets one pipe for both, so that their lines stay in
// the order they were written (os/exec does the same).
func sameWriter(a, b io.Writer) (same bool) {
	if a == nil || b == nil {
		return false
	}
	if _, ok := a.(*os.File); ok {
		return false
	}
	defer func() { recover() }() // an uncomparable type is not the same
	return a == b
}

func (p *Proc) input(r io.Reader) (*os.File, error) {
	if r == nil {
		return p.devNull(os.O_RDONLY)
	}
	if f, ok := r.(*os.File); ok {
		return f, nil
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("exec: stdin pipe: %w", err)
	}
	p.closeAfterStart = append(p.closeAfterStart, pr)
	p.closeAfterWait = append(p.closeAfterWait, pw)
	p.copiers = append(p.copiers, copier{run: func() error {
		_, err := io.Copy(pw, r)
		pw.Close()
		return err
	}})
	return pr, nil
}

func (p *Proc) output(w io.Writer) (*os.File, error) {
	if w == nil {
		return p.devNull(os.O_WRONLY)
	}
	if f, ok := w.(*os.File); ok {
		return f, nil
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("exec: output pipe: %w", err)
	}
	p.closeAfterStart = append(p.closeAfterStart, pw)
	p.closeAfterWait = append(p.closeAfterWait, pr)
	p.copiers = append(p.copiers, copier{wait: true, run: func() error {
		_, err := io.Copy(w, pr)
		if errors.Is(err, os.ErrClosed) {
			err = nil // Wait closed it after drainTimeout
		}
		return err
	}})
	return pw, nil
}

func (p *Proc) devNull(flag int) (*os.File, error) {
	f, err := os.OpenFile(os.DevNull, flag, 0)
	if err != nil {
		return nil, fmt.Errorf("exec: %w", err)
	}
	p.closeAfterStart = append(p.closeAfterStart, f)
	return f, nil
}

// ignoreEIO: reading a terminal's master side fails with EIO once no
// process has the terminal open any more, which is its end of file.
func ignoreEIO(_ int64, err error) error {
	if errors.Is(err, syscall.EIO) || errors.Is(err, os.ErrClosed) {
		return nil
	}
	return err
}

// startCopies starts copying stdio once the program runs.
func (p *Proc) startCopies() {
	p.copyErrs = make(chan error, len(p.copiers))
	for _, c := range p.copiers {
		if c.wait {
			go func() { p.copyErrs <- c.run() }()
		} else {
			go func() { _ = c.run() }()
		}
	}
}

// closeChildEnds closes the parent's copies of what child 2 got.
func (p *Proc) closeChildEnds() {
	closeAll(p.closeAfterStart)
	p.closeAfterStart = nil
}

// closeAll closes everything the Proc holds, after a failed start.
func (p *Proc) closeAll() {
	p.closeChildEnds()
	closeAll(p.closeAfterWait)
	p.closeAfterWait = nil
}

func closeAll(cs []io.Closer) {
	for _, c := range cs {
		c.Close()
	}
}
