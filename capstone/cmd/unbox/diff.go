//go:build linux

package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

// diffCommand is Docker's diff: the container's upper dir read against
// the image's layers, as lesson 04 reads one (A added, C changed, D
// deleted).
func diffCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "diff",
		Usage:     "inspect changes to files or directories on a container's filesystem (A added, C changed, D deleted)",
		ArgsUsage: "CONTAINER",
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 1); err != nil {
				return err
			}
			e, err := g.engine()
			if err != nil {
				return err
			}
			changes, err := e.Diff(c.Args().First())
			if err != nil {
				return err
			}
			for _, ch := range changes {
				fmt.Fprintln(g.stdout, ch)
			}
			return nil
		},
	}
}
