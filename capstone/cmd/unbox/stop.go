//go:build linux

package main

import (
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/unboxlab/unbox/capstone/engine"
)

// stopTimeout is how long stop waits before SIGKILL: -t, else the
// container's own, else Docker's 10 seconds.
func stopTimeout(c *cli.Context) time.Duration {
	return time.Duration(c.Int("time")) * time.Second
}

func stopCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "stop",
		Usage:     "stop one or more running containers: the stop signal, then SIGKILL after the timeout",
		ArgsUsage: "[OPTIONS] CONTAINER [CONTAINER...]",
		Flags:     []cli.Flag{&cli.IntFlag{Name: "time", Aliases: []string{"t"}, Value: 10, Usage: "seconds to wait before killing the container"}},
		Action: g.eachArgAction(func(c *cli.Context, e *engine.Engine, ref string) error {
			if _, err := e.Stop(c.Context, ref, stopTimeout(c)); err != nil {
				return fmt.Errorf("cannot stop container %s: %w", ref, err)
			}
			return nil
		}),
	}
}
