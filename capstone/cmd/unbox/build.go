//go:build linux

package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/unboxlab/unbox/capstone/build"
	"github.com/unboxlab/unbox/capstone/engine"
)

func buildCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "build",
		Usage:     "build an image from a Dockerfile",
		ArgsUsage: "[OPTIONS] PATH",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "tag", Aliases: []string{"t"}, Usage: "name and optionally a tag (name:tag)"},
			&cli.StringFlag{Name: "file", Aliases: []string{"f"}, Usage: "name of the Dockerfile (default: PATH/Dockerfile)"},
			&cli.StringSliceFlag{Name: "build-arg", Usage: "set a build-time variable (NAME=value, or NAME to take it from here)"},
			&cli.BoolFlag{Name: "no-cache", Usage: "do not use the cache when building the image"},
			&cli.StringFlag{Name: "network", Value: "none", Usage: "the network RUN instructions have: none or host"},
			&cli.StringFlag{Name: "target", Usage: "build the stage of that name, and stop"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only the image ID"},
		},
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 1); err != nil {
				return err
			}
			o, err := buildOptions(c)
			if err != nil {
				return err
			}
			e, err := g.engine()
			if err != nil {
				return err
			}
			o.Out = g.stdout
			if c.Bool("quiet") {
				o.Out = io.Discard
			}
			img, err := build.Build(c.Context, e, o)
			if err != nil {
				// Docker's build fails with status 1, whatever the step.
				return &engine.ExitCodeError{Code: 1, Err: err}
			}
			if c.Bool("quiet") {
				fmt.Fprintln(g.stdout, img.ID)
			}
			return nil
		},
	}
}

// buildOptions reads build's flags: a bare --build-arg NAME takes this
// process's value, or is left out if it has none, as in Docker.
func buildOptions(c *cli.Context) (build.Options, error) {
	o := build.Options{
		Context: c.Args().First(), Dockerfile: c.String("file"), Tags: c.StringSlice("tag"),
		NoCache: c.Bool("no-cache"), Network: c.String("network"), Target: c.String("target"),
		BuildArgs: map[string]string{},
	}
	switch o.Network {
	case "none", "host", "default":
	default:
		return o, fmt.Errorf("--network %s: RUN can have none or host here", o.Network)
	}
	for _, a := range c.StringSlice("build-arg") {
		k, v, ok := strings.Cut(a, "=")
		if k == "" {
			return o, fmt.Errorf("invalid --build-arg %q: want NAME=value", a)
		}
		if !ok {
			if v, ok = os.LookupEnv(k); !ok {
				continue
			}
		}
		o.BuildArgs[k] = v
	}
	return o, nil
}
