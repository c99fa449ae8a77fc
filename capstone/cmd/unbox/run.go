//go:build linux

package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/unboxlab/unbox/capstone/engine"
)

func runCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "create and start a container, and show its output (or print its ID with -d)",
		ArgsUsage: "[OPTIONS] IMAGE [COMMAND] [ARG...]",
		Flags: append(createFlags(),
			&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "run the container in the background and print its ID"},
			&cli.BoolFlag{Name: "sig-proxy", Value: true, Usage: "pass the signals this process gets on to the container (without -t)"},
			detachKeysFlag(),
		),
		Action: func(c *cli.Context) error {
			if err := needArgs(c, 1); err != nil {
				return err
			}
			o, err := createOptions(c)
			if err != nil {
				return err
			}
			keys, err := detachKeys(c)
			if err != nil {
				return err
			}
			if err := g.pullFor(c, o.Image); err != nil {
				return err
			}
			e, err := g.engine()
			if err != nil {
				return err
			}
			ctr, err := e.Create(c.Context, o)
			if err != nil {
				return err
			}
			if c.Bool("detach") {
				if _, err := e.Start(c.Context, ctr.ID, engine.StartOptions{}); err != nil {
					return err
				}
				fmt.Fprintln(g.stdout, ctr.ID)
				return nil
			}
			return g.runAttached(c, ctr.ID, o.Tty, o.OpenStdin, c.Bool("sig-proxy"), keys)
		},
	}
}

// runAttached starts a container with this process's stdio attached and
// returns its exit status as ours.
func (g *globals) runAttached(c *cli.Context, id string, tty, interactive, sigProxy bool, keys []byte) error {
	e, err := g.engine()
	if err != nil {
		return err
	}
	o := engine.StartOptions{Attach: true, Stdin: interactive}
	if tty {
		o.Rows, o.Cols = terminalSize(g.stdin)
	}
	sess, err := e.Start(c.Context, id, o)
	if err != nil {
		return err
	}
	return g.attached(sess, tty, interactive, sigProxy, keys)
}

// attached copies a session to and from this terminal until the
// container's process ends, and returns its status: the terminal in raw
// mode with tty, signals forwarded with sigProxy. Typing keys (the detach
// keys) on the terminal leaves the container running, and is a success,
// as in Docker.
func (g *globals) attached(sess *engine.Session, tty, interactive, sigProxy bool, keys []byte) error {
	var fg *attached
	if tty || sigProxy {
		fg = foreground(sess, g.stdin, tty)
	}
	// The detach keys are read from a terminal only, as Docker reads
	// them: piped input passes as it is, to its end.
	var in io.Reader
	switch {
	case interactive && tty:
		in = &detachReader{r: g.stdin, keys: keys}
	case interactive:
		in = g.stdin
	}
	code, err := sess.Copy(in, g.stdout, g.stderr)
	if fg != nil {
		fg.stop()
	}
	if errors.Is(err, engine.ErrDetached) {
		return nil
	}
	if err != nil {
		return err
	}
	if code != 0 {
		return exitStatus(code)
	}
	return nil
}
