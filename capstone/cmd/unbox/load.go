//go:build linux

package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/mattn/go-isatty"
	"github.com/urfave/cli/v2"
)

func loadCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:  "load",
		Usage: "load images from a tar archive (docker-archive or OCI layout, plain or gzip), from STDIN by default",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "input", Aliases: []string{"i"}, Usage: "read from a tar archive file, instead of STDIN"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "suppress the load output"},
		},
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 0); err != nil {
				return err
			}
			var r io.Reader = g.stdin
			if in := c.String("input"); in != "" {
				f, err := os.Open(in)
				if err != nil {
					return err
				}
				defer f.Close()
				r = f
			} else if f, ok := g.stdin.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
				return errors.New("requested load from stdin, but stdin is empty (use -i FILE or a redirect)")
			}
			e, err := g.engine()
			if err != nil {
				return err
			}
			loaded, err := e.Images.Load(c.Context, r)
			if c.Bool("quiet") {
				return err
			}
			for _, l := range loaded {
				if len(l.Names) == 0 {
					fmt.Fprintf(g.stdout, "Loaded image ID: %s\n", l.Image.ID)
				}
				for _, n := range l.Names {
					fmt.Fprintf(g.stdout, "Loaded image: %s\n", n)
				}
			}
			return err
		},
	}
}
