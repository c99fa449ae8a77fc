//go:build linux

package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/unboxlab/unbox/capstone/engine"
)

// healthcheckCommand is podman's `healthcheck run`: Docker has no command
// to run a container's check on demand, and scripts and tests need one.
func healthcheckCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:  "healthcheck",
		Usage: "run a container's healthcheck",
		Subcommands: []*cli.Command{{
			Name:      "run",
			Usage:     "run the container's healthcheck once now, and record it: exit 0 if healthy, 1 if not",
			ArgsUsage: "CONTAINER",
			Action: func(c *cli.Context) error {
				if err := exactArgs(c, 1); err != nil {
					return err
				}
				e, err := g.engine()
				if err != nil {
					return err
				}
				h, err := e.HealthcheckRun(c.Context, c.Args().First())
				if err != nil {
					return err
				}
				if h.Status != engine.HealthHealthy {
					fmt.Fprintln(g.stdout, h.Status)
					return exitStatus(1)
				}
				return nil
			},
		}},
	}
}
