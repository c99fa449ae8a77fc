//go:build linux

package main

import (
	"github.com/urfave/cli/v2"
)

// attachCommand is Docker's attach: the terminal joins a running
// container's stdio through its monitor's attach socket, as `run` without
// -d does, and exits with the container's status when it ends.
func attachCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "attach",
		Usage:     "attach local standard input, output, and error streams to a running container",
		ArgsUsage: "[OPTIONS] CONTAINER",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "no-stdin", Usage: "do not attach STDIN"},
			&cli.BoolFlag{Name: "sig-proxy", Value: true, Usage: "proxy the signals this process gets to the container"},
			detachKeysFlag(),
		},
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 1); err != nil {
				return err
			}
			keys, err := detachKeys(c)
			if err != nil {
				return err
			}
			e, err := g.engine()
			if err != nil {
				return err
			}
			ctr, err := e.Lookup(c.Args().First())
			if err != nil {
				return err
			}
			stdin := ctr.Config.OpenStdin && !c.Bool("no-stdin")
			sess, err := e.Attach(ctr.ID, stdin)
			if err != nil {
				return err
			}
			return g.attached(sess, ctr.Config.Tty, stdin, c.Bool("sig-proxy"), keys)
		},
	}
}
