//go:build linux

package main

import (
	"encoding/json"
	"fmt"

	"github.com/urfave/cli/v2"
)

func stateCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "state",
		Usage:     "print a container's state as JSON (the runtime-spec's, with runc's rootfs, created and owner)",
		ArgsUsage: "ID",
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 1); err != nil {
				return err
			}
			ctr, err := g.load(c)
			if err != nil {
				return err
			}
			b, err := json.MarshalIndent(ctr.State(), "", "  ")
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(c.App.Writer, "%s\n", b)
			return err
		},
	}
}
