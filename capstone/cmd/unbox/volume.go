//go:build linux

package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/unboxlab/unbox/capstone/engine"
	"github.com/unboxlab/unbox/internal/volume"
)

func volumeCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:  "volume",
		Usage: "manage volumes",
		Subcommands: []*cli.Command{
			{
				Name:      "create",
				Usage:     "create a volume (a random name if none is given)",
				ArgsUsage: "[OPTIONS] [VOLUME]",
				Flags:     []cli.Flag{&cli.StringSliceFlag{Name: "label", Usage: "set metadata: KEY=value"}},
				Action: func(c *cli.Context) error {
					if c.NArg() > 1 {
						return usageError(c, "requires at most 1 argument.")
					}
					e, err := g.engine()
					if err != nil {
						return err
					}
					name := c.Args().First()
					if name == "" {
						if name, err = volume.NewID(); err != nil {
							return err
						}
					}
					labels := map[string]string{}
					for _, l := range c.StringSlice("label") {
						k, v, _ := strings.Cut(l, "=")
						labels[k] = v
					}
					v, _, err := e.Volumes.Create(name, volume.CreateOptions{Labels: labels})
					if err != nil {
						return err
					}
					fmt.Fprintln(g.stdout, v.Name)
					return nil
				},
			},
			{
				Name:  "ls",
				Usage: "list volumes",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "only display volume names"},
					&cli.StringFlag{Name: "format", Usage: "json: one JSON object per volume"},
				},
				Action: func(c *cli.Context) error {
					e, err := g.engine()
					if err != nil {
						return err
					}
					vs, err := e.Volumes.List()
					if err != nil {
						return err
					}
					var rows [][]string
					for _, v := range vs {
						switch {
						case c.Bool("quiet"):
							fmt.Fprintln(g.stdout, v.Name)
						case c.String("format") == "json":
							jsonLine(g.stdout, map[string]string{"Driver": "local", "Name": v.Name, "Mountpoint": v.Mountpoint, "Scope": "local"})
						default:
							rows = append(rows, []string{"local", v.Name})
						}
					}
					if !c.Bool("quiet") && c.String("format") != "json" {
						table(g.stdout, []string{"DRIVER", "VOLUME NAME"}, rows)
					}
					return nil
				},
			},
			{
				Name:      "inspect",
				Usage:     "show volumes' details, as JSON",
				ArgsUsage: "VOLUME [VOLUME...]",
				Action: func(c *cli.Context) error {
					return g.inspectEach(c, func(e *engine.Engine, n string) (any, error) {
						v, err := e.Volumes.Get(n)
						if err != nil {
							return nil, err
						}
						return volumeJSON(v), nil
					})
				},
			},
			{
				Name:      "rm",
				Usage:     "remove one or more volumes (not one a container uses)",
				ArgsUsage: "VOLUME [VOLUME...]",
				Flags:     []cli.Flag{&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "do not fail on a volume that does not exist"}},
				Action: g.eachArgAction(func(c *cli.Context, e *engine.Engine, n string) error {
					err := e.Volumes.Remove(n)
					if c.Bool("force") && errors.Is(err, volume.ErrNotFound) {
						return nil
					}
					return err
				}),
			},
			{
				Name:  "prune",
				Usage: "remove unused anonymous volumes (all unused with -a)",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "remove named volumes no container uses too"},
					&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "do not prompt for confirmation (there is no prompt)"},
				},
				Action: func(c *cli.Context) error {
					e, err := g.engine()
					if err != nil {
						return err
					}
					names, err := e.Volumes.Prune(c.Bool("all"))
					if err != nil {
						return err
					}
					if len(names) > 0 {
						fmt.Fprintln(g.stdout, "Deleted Volumes:")
						for _, n := range names {
							fmt.Fprintln(g.stdout, n)
						}
						fmt.Fprintln(g.stdout)
					}
					return nil
				},
			},
		},
	}
}
