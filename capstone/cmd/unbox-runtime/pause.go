//go:build linux

package main

import (
	"github.com/urfave/cli/v2"
)

func pauseCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "pause",
		Usage:     "freeze every process of a container (its cgroup's freezer)",
		ArgsUsage: "ID",
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 1); err != nil {
				return err
			}
			ctr, err := g.load(c)
			if err != nil {
				return err
			}
			return ctr.Pause()
		},
	}
}
