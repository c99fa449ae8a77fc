//go:build linux

package main

import (
	"github.com/urfave/cli/v2"

	"github.com/unboxlab/unbox/capstone/engine"
)

func killCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "kill",
		Usage:     "send a signal (SIGKILL by default) to one or more running containers",
		ArgsUsage: "[OPTIONS] CONTAINER [CONTAINER...]",
		Flags:     []cli.Flag{&cli.StringFlag{Name: "signal", Aliases: []string{"s"}, Value: "KILL", Usage: "signal to send"}},
		Action: func(c *cli.Context) error {
			if err := needArgs(c, 1); err != nil {
				return err
			}
			sig, err := engine.ParseSignal(c.String("signal"))
			if err != nil {
				return err
			}
			e, err := g.engine()
			if err != nil {
				return err
			}
			return g.eachArg(c, func(ref string) error {
				_, err := e.Kill(c.Context, ref, sig)
				return err
			})
		},
	}
}
