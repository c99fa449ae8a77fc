//go:build linux

package main

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/unboxlab/unbox/capstone/engine"
)

func startCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "start",
		Usage:     "start one or more stopped containers",
		ArgsUsage: "[OPTIONS] CONTAINER [CONTAINER...]",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "attach", Aliases: []string{"a"}, Usage: "attach its output and exit with its status"},
			&cli.BoolFlag{Name: "interactive", Aliases: []string{"i"}, Usage: "attach its STDIN"},
			detachKeysFlag(),
		},
		Action: func(c *cli.Context) error {
			if err := needArgs(c, 1); err != nil {
				return err
			}
			e, err := g.engine()
			if err != nil {
				return err
			}
			if c.Bool("attach") || c.Bool("interactive") {
				if c.NArg() > 1 {
					return errors.New("you cannot start and attach multiple containers at once")
				}
				keys, err := detachKeys(c)
				if err != nil {
					return err
				}
				ctr, err := e.Lookup(c.Args().First())
				if err != nil {
					return err
				}
				return g.runAttached(c, ctr.ID, ctr.Config.Tty, c.Bool("interactive") && ctr.Config.OpenStdin, true, keys)
			}
			return g.eachArg(c, func(ref string) error {
				_, err := e.Start(c.Context, ref, engine.StartOptions{})
				if errors.Is(err, engine.ErrRunning) {
					return nil
				}
				if err != nil {
					return fmt.Errorf("cannot start container %s: %w", ref, err)
				}
				return nil
			})
		},
	}
}
