//go:build linux

package main

import (
	"github.com/urfave/cli/v2"
)

func killCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "kill",
		Usage:     "send a signal (default SIGTERM) to a container's init",
		ArgsUsage: "ID [SIGNAL]",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "signal every process in the container's cgroup"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() < 1 || c.NArg() > 2 {
				return exactArgs(c, 1)
			}
			sigName := "SIGTERM"
			if c.NArg() == 2 {
				sigName = c.Args().Get(1)
			}
			sig, err := parseSignal(sigName)
			if err != nil {
				return err
			}
			ctr, err := g.load(c)
			if err != nil {
				return err
			}
			return ctr.Kill(sig, c.Bool("all"))
		},
	}
}
