//go:build linux

package main

import (
	"github.com/urfave/cli/v2"

	"github.com/unboxlab/unbox/capstone/container"
)

func pauseCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "pause",
		Usage:     "freeze every process of a container (its cgroup's freezer)",
		ArgsUsage: "ID",
		Action: g.onContainer(func(c *cli.Context, ctr *container.Container) error {
			return ctr.Pause()
		}),
	}
}
