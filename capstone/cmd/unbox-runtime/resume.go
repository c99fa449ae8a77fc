//go:build linux

package main

import (
	"github.com/urfave/cli/v2"

	"github.com/unboxlab/unbox/capstone/container"
)

func resumeCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "resume",
		Usage:     "thaw a paused container",
		ArgsUsage: "ID",
		Action: g.onContainer(func(c *cli.Context, ctr *container.Container) error {
			return ctr.Resume()
		}),
	}
}
