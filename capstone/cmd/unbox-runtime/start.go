//go:build linux

package main

import (
	"github.com/urfave/cli/v2"
)

func startCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "start",
		Usage:     "start a created container: its process runs",
		ArgsUsage: "ID",
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 1); err != nil {
				return err
			}
			ctr, err := g.load(c)
			if err != nil {
				return err
			}
			return g.warnHooks(c.App.ErrWriter, ctr.Start())
		},
	}
}
