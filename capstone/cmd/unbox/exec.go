//go:build linux

package main

import (
	"io"
	"os"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/unboxlab/unbox/capstone/engine"
)

func execCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "exec",
		Usage:     "run a command in a running container",
		ArgsUsage: "[OPTIONS] CONTAINER COMMAND [ARG...]",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "interactive", Aliases: []string{"i"}, Usage: "keep STDIN open"},
			&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "allocate a pseudo-TTY"},
			&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}, Usage: "set an environment variable"},
			&cli.StringFlag{Name: "workdir", Aliases: []string{"w"}, Usage: "working directory inside the container"},
			&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "user NAME|UID[:GROUP|GID]"},
			&cli.BoolFlag{Name: "privileged", Usage: "give the process every capability"},
		},
		Action: func(c *cli.Context) error {
			if err := needArgs(c, 2); err != nil {
				return err
			}
			e, err := g.engine()
			if err != nil {
				return err
			}
			o := engine.ExecOptions{
				Cmd: c.Args().Tail(), Env: c.StringSlice("env"), WorkingDir: c.String("workdir"), User: c.String("user"),
				Tty: c.Bool("tty"), Privileged: c.Bool("privileged"),
			}
			var cleanup []func()
			defer func() {
				for i := len(cleanup) - 1; i >= 0; i-- {
					cleanup[i]()
				}
			}()
			var in io.Reader
			if c.Bool("interactive") {
				in = g.stdin
			}
			if o.Tty {
				done := make(chan struct{})
				o.Console = func(master *os.File) { g.proxyTerminal(master, in, done, &cleanup) }
				cleanup = append(cleanup, func() { <-done })
			} else {
				o.Stdin, cleanup = asFile(in, false, cleanup)
				o.Stdout, cleanup = asFile(g.stdout, true, cleanup)
				o.Stderr, cleanup = asFile(g.stderr, true, cleanup)
			}
			code, err := e.Exec(c.Context, c.Args().First(), o)
			if err != nil {
				return err
			}
			if code != 0 {
				return exitStatus(code)
			}
			return nil
		},
	}
}

// proxyTerminal copies this terminal to an exec'd process's terminal and
// back, raw, with its size passed on.
func (g *globals) proxyTerminal(master *os.File, in io.Reader, done chan struct{}, cleanup *[]func()) {
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		if old, err := term.MakeRaw(int(f.Fd())); err == nil {
			*cleanup = append(*cleanup, func() { term.Restore(int(f.Fd()), old) })
		}
		if rows, cols := terminalSize(f); rows > 0 {
			unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols})
		}
	}
	if in != nil {
		go io.Copy(master, in)
	}
	go func() {
		io.Copy(g.stdout, master) // ends with EIO once the process is gone
		close(done)
	}()
}

// asFile is r or w as a file a process can inherit: itself when it is
// one, else a pipe copied from or to it (a test's buffer).
func asFile(rw any, out bool, cleanup []func()) (*os.File, []func()) {
	switch v := rw.(type) {
	case nil:
		return nil, cleanup
	case *os.File:
		return v, cleanup
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, cleanup
	}
	if out {
		done := make(chan struct{})
		go func() { io.Copy(rw.(io.Writer), r); r.Close(); close(done) }()
		return w, append(cleanup, func() { w.Close(); <-done })
	}
	go func() { io.Copy(w, rw.(io.Reader)); w.Close() }()
	return r, append(cleanup, func() { r.Close() })
}
