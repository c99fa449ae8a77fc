//go:build linux

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mattn/go-isatty"
	"github.com/urfave/cli/v2"

	"github.com/unboxlab/unbox/capstone/image"
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
			tmp, err := os.CreateTemp(filepath.Dir(out), ".unbox-save-")
			if err != nil {
				return fmt.Errorf("save: %w", err)
			}
			defer os.Remove(tmp.Name())
			err = e.Images.Save(c.Context, tmp, c.Args().Slice(), c.String("format"))
			if err == nil {
				err = tmp.Sync()
			}
			if cerr := tmp.Close(); err == nil {
				err = cerr
			}
			if err == nil {
				err = os.Chmod(tmp.Name(), 0o644)
			}
			if err == nil {
				err = os.Rename(tmp.Name(), out)
			}
			return err
		},
	}
}
