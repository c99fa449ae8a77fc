//go:build linux

package main

import (
	"io"
	"os"
	"os/signal"

	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/unboxlab/unbox/capstone/engine"
)

// attached is a foreground container's session on this terminal: stdin
// raw with -t, the terminal's size passed on (SIGWINCH), and without -t,
// the signals this process gets passed to the container (--sig-proxy).
type attached struct {
	sess    *engine.Session
	restore func()
	sigs    chan os.Signal
	done    chan struct{}
}

// terminalSize is stdin's size, when stdin is a terminal.
func terminalSize(stdin io.Reader) (rows, cols uint16) {
	f, ok := stdin.(*os.File)
	if !ok {
		return 0, 0
	}
	w, h, err := term.GetSize(int(f.Fd()))
	if err != nil {
		return 0, 0
	}
	return uint16(h), uint16(w)
}

// foreground sets up the terminal and signals for sess.
func foreground(sess *engine.Session, stdin io.Reader, tty bool) *attached {
	a := &attached{sess: sess, restore: func() {}, sigs: make(chan os.Signal, 16), done: make(chan struct{})}
	f, isFile := stdin.(*os.File)
	if tty && isFile && term.IsTerminal(int(f.Fd())) {
		if old, err := term.MakeRaw(int(f.Fd())); err == nil {
			a.restore = func() { term.Restore(int(f.Fd()), old) }
		}
		signal.Notify(a.sigs, unix.SIGWINCH)
	} else if !tty {
		signal.Notify(a.sigs, unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2)
	}
	go func() {
		for {
			select {
			case <-a.done:
				return
			case s := <-a.sigs:
				if s == unix.SIGWINCH {
					if rows, cols := terminalSize(stdin); rows > 0 {
						sess.Resize(rows, cols)
					}
					continue
				}
				sess.Signal(s.(unix.Signal))
			}
		}
	}()
	return a
}

func (a *attached) stop() {
	signal.Stop(a.sigs)
	close(a.done)
	a.restore()
}
