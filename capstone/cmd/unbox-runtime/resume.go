//go:build linux

package main

import (
	"github.com/urfave/cli/v2"
)

func resumeCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "resume",
		Usage:     "thaw a paused container",
		ArgsUsage: "ID",
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 1); err != nil {
				return err
			}
			ctr, err := g.load(c)
			if err != nil {
				return err
			}
			return ctr.Resume()
		},
	}
}
