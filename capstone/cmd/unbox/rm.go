//go:build linux

package main

import (
	"github.com/urfave/cli/v2"
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
		Action: func(c *cli.Context) error {
			if err := needArgs(c, 1); err != nil {
				return err
			}
			e, err := g.engine()
			if err != nil {
				return err
			}
			return g.eachArg(c, func(ref string) error {
				_, err := e.Remove(c.Context, ref, c.Bool("force"), c.Bool("volumes"))
				return err
			})
		},
	}
}
