//go:build linux

package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/unboxlab/unbox/capstone/image"
)

func logoutCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "logout",
		Usage:     "log out from a registry (Docker Hub if no server is given)",
		ArgsUsage: "[SERVER]",
		Action: func(c *cli.Context) error {
			if c.NArg() > 1 {
				return usageError(c, "requires at most 1 argument.")
			}
			server := c.Args().First()
			shown := server
			if shown == "" {
				shown = image.ServerKey("")
			}
			had, err := image.Logout(configDir(c), server)
			if err != nil {
				return err
			}
			if !had {
				fmt.Fprintf(g.stdout, "Not logged in to %s\n", shown)
				return nil
			}
			fmt.Fprintf(g.stdout, "Removing login credentials for %s\n", shown)
			return nil
		},
	}
}
