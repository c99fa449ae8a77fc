//go:build linux

package main

import (
	"encoding/json"

	"github.com/urfave/cli/v2"

	"github.com/unboxlab/unbox/capstone/specconv"
)

func featuresCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:  "features",
		Usage: "print what this runtime supports, as JSON (runtime-spec features.md)",
		Action: func(c *cli.Context) error {
			enc := json.NewEncoder(c.App.Writer)
			enc.SetIndent("", "    ")
			return enc.Encode(specconv.Features())
		},
	}
}
