//go:build linux

package main

import (
	"context"

	"github.com/urfave/cli/v2"

	"github.com/unboxlab/unbox/capstone/engine"
)

// pauseCommand and unpauseCommand are Docker's pause and unpause: the
// cgroup freezer (lesson 02) on every process of the container.
func pauseCommand(g *globals) *cli.Command {
	return freezeCommand(g, "pause", "pause all processes within one or more containers (the cgroup freezer)", (*engine.Engine).Pause)
}

func unpauseCommand(g *globals) *cli.Command {
	return freezeCommand(g, "unpause", "unpause all processes within one or more containers", (*engine.Engine).Unpause)
}

func freezeCommand(g *globals, name, usage string, op func(*engine.Engine, context.Context, string) (*engine.Container, error)) *cli.Command {
	return &cli.Command{
		Name:      name,
		Usage:     usage,
		ArgsUsage: "CONTAINER [CONTAINER...]",
		Action: g.eachArgAction(func(c *cli.Context, e *engine.Engine, ref string) error {
			_, err := op(e, c.Context, ref)
			return err
		}),
	}
}
