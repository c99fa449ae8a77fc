//go:build linux

package main

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/unboxlab/unbox/capstone/engine"
)

func restartCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "restart",
		Usage:     "restart one or more containers: stop, then start",
		ArgsUsage: "[OPTIONS] CONTAINER [CONTAINER...]",
		Flags:     []cli.Flag{&cli.IntFlag{Name: "time", Aliases: []string{"t"}, Value: 10, Usage: "seconds to wait before killing the container"}},
		Action: g.eachArgAction(func(c *cli.Context, e *engine.Engine, ref string) error {
			ctr, err := e.Stop(c.Context, ref, stopTimeout(c))
			if err == nil {
				_, err = e.Start(c.Context, ctr.ID, engine.StartOptions{})
			}
			if err != nil && !errors.Is(err, engine.ErrRunning) {
				return fmt.Errorf("cannot restart container %s: %w", ref, err)
			}
			return nil
		}),
	}
}
