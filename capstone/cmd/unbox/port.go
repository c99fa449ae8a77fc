//go:build linux

package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/unboxlab/unbox/capstone/engine"
)

func portCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "port",
		Usage:     "list a container's published ports, or the host's side of one",
		ArgsUsage: "CONTAINER [PRIVATE_PORT[/PROTO]]",
		Action: func(c *cli.Context) error {
			if err := needArgs(c, 1); err != nil {
				return err
			}
			if c.NArg() > 2 {
				return usageError(c, "requires at most 2 arguments.")
			}
			e, err := g.engine()
			if err != nil {
				return err
			}
			ctr, err := e.Lookup(c.Args().First())
			if err != nil {
				return err
			}
			lines, err := engine.PortLines(ctr.NetworkSettings, c.Args().Get(1))
			if err != nil {
				return err
			}
			for _, l := range lines {
				fmt.Fprintln(g.stdout, l)
			}
			return nil
		},
	}
}
