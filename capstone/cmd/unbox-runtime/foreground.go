//go:build linux

package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"sync"

	"golang.org/x/sys/unix"
)

// foreground is what run and exec do while their process runs in the
// foreground: until it has started, SIGINT, SIGTERM and SIGHUP cancel the
// setup (which then undoes itself); after, every signal is passed on to the
// process, as runc does, but those that are about this process itself:
// SIGCHLD, SIGURG (the Go scheduler's), SIGPIPE, and SIGWINCH, which resizes
// the terminal instead.
type foreground struct {
	ctx    context.Context
	cancel context.CancelFunc
	ch     chan os.Signal

	mu      sync.Mutex
	target  func(unix.Signal) error
	console *os.File
	done    chan struct{}
}

func newForeground() *foreground {
	f := &foreground{ch: make(chan os.Signal, 64), done: make(chan struct{})}
	f.ctx, f.cancel = context.WithCancel(context.Background())
	signal.Notify(f.ch)
	go f.loop()
	return f
}

func (f *foreground) loop() {
	for {
		select {
		case <-f.done:
			return
		case s := <-f.ch:
			sig := s.(unix.Signal)
			f.mu.Lock()
			target, console := f.target, f.console
			f.mu.Unlock()
			switch {
			case sig == unix.SIGCHLD || sig == unix.SIGURG || sig == unix.SIGPIPE:
			case sig == unix.SIGWINCH:
				if console != nil {
					resize(console)
				}
			case target == nil:
				if sig == unix.SIGINT || sig == unix.SIGTERM || sig == unix.SIGHUP {
					f.cancel()
				}
			default:
				_ = target(sig)
			}
		}
	}
}

// started passes signals on to kill from now on.
func (f *foreground) started(kill func(unix.Signal) error) {
	f.mu.Lock()
	f.target = kill
	f.mu.Unlock()
}

func (f *foreground) stop() {
	signal.Stop(f.ch)
	close(f.done)
}

// attach connects this process's stdio to the terminal's master: stdin to
// it, it to stdout, with this terminal (if stdin is one) in raw mode, so
// that keys reach the container's program as typed. It returns a function
// that waits for the output to drain and puts the terminal back.
func (f *foreground) attach(master *os.File, stdin io.Reader, stdout io.Writer) (restore func()) {
	f.mu.Lock()
	f.console = master
	f.mu.Unlock()
	var old *unix.Termios
	if in, ok := stdin.(*os.File); ok {
		if t, err := unix.IoctlGetTermios(int(in.Fd()), unix.TCGETS); err == nil {
			old = t
			raw := *t
			// cfmakeraw(3)
			raw.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
			raw.Oflag &^= unix.OPOST
			raw.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
			raw.Cflag &^= unix.CSIZE | unix.PARENB
			raw.Cflag |= unix.CS8
			_ = unix.IoctlSetTermios(int(in.Fd()), unix.TCSETS, &raw)
			resize(master)
		}
	}
	if stdin != nil {
		go func() { _, _ = io.Copy(master, stdin) }()
	}
	out := make(chan struct{})
	go func() {
		_, _ = io.Copy(stdout, master) // ends with EIO once the last slave is closed
		close(out)
	}()
	return func() {
		<-out
		if old != nil {
			_ = unix.IoctlSetTermios(int(stdin.(*os.File).Fd()), unix.TCSETS, old)
		}
	}
}

// resize copies this process's terminal size (stdin's) to the console.
func resize(console *os.File) {
	ws, err := unix.IoctlGetWinsize(int(os.Stdin.Fd()), unix.TIOCGWINSZ)
	if err == nil {
		_ = unix.IoctlSetWinsize(int(console.Fd()), unix.TIOCSWINSZ, ws)
	}
}

// statusOf is the exit status a shell would report for ws: the code, or
// 128 plus the signal that killed it.
func statusOf(ws unix.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}
