//go:build linux

package main

import (
	"errors"
	"io"
	"os"

	"github.com/mattn/go-isatty"
	"github.com/urfave/cli/v2"
)

func exportCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "export",
		Usage:     "export a container's file system as a tar archive",
		ArgsUsage: "[OPTIONS] CONTAINER",
		Flags:     []cli.Flag{&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write to a file, instead of STDOUT"}},
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 1); err != nil {
				return err
			}
			e, err := g.engine()
			if err != nil {
				return err
			}
			var w io.Writer = g.stdout
			if p := c.String("output"); p != "" {
				f, err := os.Create(p)
				if err != nil {
					return err
				}
				defer f.Close()
				w = f
			} else if f, ok := g.stdout.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
				return errors.New("cowardly refusing to save to a terminal: use the -o flag or redirect")
			}
			return e.Export(c.Context, c.Args().First(), w)
		},
	}
}
