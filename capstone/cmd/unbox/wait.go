//go:build linux

package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

func waitCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "wait",
		Usage:     "block until one or more containers stop, then print their exit codes",
		ArgsUsage: "CONTAINER [CONTAINER...]",
		Action: func(c *cli.Context) error {
			if err := needArgs(c, 1); err != nil {
				return err
			}
			e, err := g.engine()
			if err != nil {
				return err
			}
			var failed bool
			for _, ref := range c.Args().Slice() {
				code, err := e.Wait(c.Context, ref)
				if err != nil {
					fmt.Fprintf(g.stderr, "%s %s\n", g.paint(colorError, "unbox:"), err)
					failed = true
					continue
				}
				fmt.Fprintln(g.stdout, code)
			}
			if failed {
				return errSilent
			}
			return nil
		},
	}
}
