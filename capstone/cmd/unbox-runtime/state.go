//go:build linux

package main

import (
	"encoding/json"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/unboxlab/unbox/capstone/container"
)

func stateCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "state",
		Usage:     "print a container's state as JSON (the runtime-spec's, with runc's rootfs, created and owner)",
		ArgsUsage: "ID",
		Action: g.onContainer(func(c *cli.Context, ctr *container.Container) error {
			b, err := json.MarshalIndent(ctr.State(), "", "  ")
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(c.App.Writer, "%s\n", b)
			return err
		}),
	}
}
