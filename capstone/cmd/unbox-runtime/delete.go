//go:build linux

package main

import (
	"errors"

	"github.com/urfave/cli/v2"

	"github.com/unboxlab/unbox/capstone/container"
)

func deleteCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "delete",
		Usage:     "delete a container: its processes, cgroup and state",
		ArgsUsage: "ID",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "kill it first if it runs"},
		},
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 1); err != nil {
				return err
			}
			ctr, err := g.load(c)
			if errors.Is(err, container.ErrNotExist) && c.Bool("force") {
				return nil // runc: delete --force of nothing is not an error
			}
			if err != nil {
				return err
			}
			return g.warnHooks(c.App.ErrWriter, ctr.Delete(c.Bool("force")))
		},
	}
}
