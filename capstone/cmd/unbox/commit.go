//go:build linux

package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/unboxlab/unbox/capstone/engine"
)

func commitCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "commit",
		Usage:     "create a new image from a container's changes",
		ArgsUsage: "[OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "message", Aliases: []string{"m"}, Usage: "commit message"},
			&cli.StringFlag{Name: "author", Aliases: []string{"a"}, Usage: "author"},
			&cli.StringSliceFlag{Name: "change", Aliases: []string{"c"}, Usage: "apply a Dockerfile instruction to the image's config (CMD, ENV, ...)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() < 1 || c.NArg() > 2 {
				return usageError(c, "requires at least 1 and at most 2 arguments.")
			}
			e, err := g.engine()
			if err != nil {
				return err
			}
			img, err := e.Commit(c.Context, c.Args().First(), engine.CommitOptions{
				Ref: c.Args().Get(1), Comment: c.String("message"), Author: c.String("author"), Changes: c.StringSlice("change"),
			})
			if err != nil {
				return err
			}
			fmt.Fprintln(g.stdout, img.ID)
			return nil
		},
	}
}
