//go:build linux

package main

import "github.com/urfave/cli/v2"

// importCommand is `unbox import`, Docker's top-level name for
// `unbox image import`.
func importCommand(g *globals) *cli.Command {
	for _, sub := range imageCommand(g).Subcommands {
		if sub.Name == "import" {
			c := *sub
			return &c
		}
	}
	return nil
}
