//go:build linux

package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

func createCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "create",
		Usage:     "create a container, without starting it",
		ArgsUsage: "[OPTIONS] IMAGE [COMMAND] [ARG...]",
		Flags:     createFlags(),
		Action: func(c *cli.Context) error {
			if err := needArgs(c, 1); err != nil {
				return err
			}
			o, err := createOptions(c)
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
			fmt.Fprintln(g.stdout, ctr.ID)
			return nil
		},
	}
}
