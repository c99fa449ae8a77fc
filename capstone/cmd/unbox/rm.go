//go:build linux

package main

import (
	"github.com/urfave/cli/v2"

	"github.com/unboxlab/unbox/capstone/engine"
)

func rmCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "rm",
		Usage:     "remove one or more containers",
		ArgsUsage: "[OPTIONS] CONTAINER [CONTAINER...]",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "force the removal of a running container (it is killed)"},
			&cli.BoolFlag{Name: "volumes", Aliases: []string{"v"}, Usage: "remove the anonymous volumes of the container"},
		},
		Action: g.eachArgAction(func(c *cli.Context, e *engine.Engine, ref string) error {
			_, err := e.Remove(c.Context, ref, c.Bool("force"), c.Bool("volumes"))
			return err
		}),
	}
}
