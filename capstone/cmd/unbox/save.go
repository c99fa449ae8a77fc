//go:build linux

package main

import (
	"errors"
	"io"
	"os"

	"github.com/mattn/go-isatty"
	"github.com/urfave/cli/v2"

	"github.com/unboxlab/unbox/capstone/image"
	"github.com/unboxlab/unbox/internal/statefile"
)

func saveCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "save",
		Usage:     "save one or more images to a tar archive (streamed to STDOUT by default)",
		ArgsUsage: "[OPTIONS] IMAGE [IMAGE...]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write to a file, instead of STDOUT"},
			&cli.StringFlag{Name: "format", Value: image.FormatDocker, Usage: image.FormatDocker + " (an OCI layout with Docker's manifest.json, as docker save writes) or " + image.FormatOCI},
		},
		Action: func(c *cli.Context) error {
			if err := needArgs(c, 1); err != nil {
				return err
			}
			out := c.String("output")
			if f, ok := g.stdout.(*os.File); out == "" && ok && isatty.IsTerminal(f.Fd()) {
				return errors.New("cowardly refusing to save to a terminal. Use the -o flag or redirect")
			}
			e, err := g.engine()
			if err != nil {
				return err
			}
			if out == "" {
				return e.Images.Save(c.Context, g.stdout, c.Args().Slice(), c.String("format"))
			}
			// A temporary file renamed into place: the archive is whole,
			// or not there.
			return statefile.WriteFrom(out, 0o644, func(w io.Writer) error {
				return e.Images.Save(c.Context, w, c.Args().Slice(), c.String("format"))
			})
		},
	}
}
