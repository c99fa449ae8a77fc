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
	"github.com/unboxlab/unbox/capstone/image"
)

func buildCommand(g *globals) *cli.Command {
	pull := &pullValue{policy: string(image.PullMissing)}
	return &cli.Command{
		Name:  "build",
		Usage: "build an image from a Dockerfile",
		Description: "A FROM image that is not here is pulled first (its progress on stderr), as Docker's and podman's\n" +
			"builds pull it; --pull (or --pull=always) pulls every FROM image in any case, to build on the\n" +
			"registry's newest; --pull=never uses only what is here. unbox/busybox is made here, never pulled.",
		ArgsUsage: "[OPTIONS] PATH",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "tag", Aliases: []string{"t"}, Usage: "name and optionally a tag (name:tag)"},
			&cli.StringFlag{Name: "file", Aliases: []string{"f"}, Usage: "name of the Dockerfile (default: PATH/Dockerfile)"},
			&cli.StringSliceFlag{Name: "build-arg", Usage: "set a build-time variable (NAME=value, or NAME to take it from here)"},
			&cli.BoolFlag{Name: "no-cache", Usage: "do not use the cache when building the image"},
			&cli.StringFlag{Name: "network", Value: "none", Usage: "the network RUN instructions have: none or host"},
			&cli.StringFlag{Name: "target", Usage: "build the stage of that name, and stop"},
			&cli.GenericFlag{Name: "pull", Value: pull, Usage: `when to pull a FROM image: --pull (always: a newer one if the registry has it), --pull=missing (when it is not here) or --pull=never; podman's newer, true and false too`},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only the image ID (no steps, no pull progress)"},
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
			if o.Base, err = g.ensureOptions(c, pull.policy, false); err != nil {
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

// pullValue is build's --pull: bare, it is always (`docker build
// --pull`, a boolean); with a value, any policy podman's build takes
// (image.ParsePullPolicy). IsBoolFlag is what lets the flag package take
// it without a value.
type pullValue struct{ policy string }

func (v *pullValue) Set(s string) error {
	if _, err := image.ParsePullPolicy(s); err != nil {
		return err
	}
	v.policy = s
	return nil
}

func (v *pullValue) String() string {
	if v == nil {
		return ""
	}
	return v.policy
}

func (v *pullValue) IsBoolFlag() bool { return true }

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
