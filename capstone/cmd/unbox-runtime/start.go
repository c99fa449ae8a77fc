//go:build linux

package main

import (
	"github.com/urfave/cli/v2"

	"github.com/unboxlab/unbox/capstone/container"
)

func startCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "start",
		Usage:     "start a created container: its process runs",
		ArgsUsage: "ID",
		Action: g.onContainer(func(c *cli.Context, ctr *container.Container) error {
			return g.warnHooks(c.App.ErrWriter, ctr.Start())
		}),
	}
}
