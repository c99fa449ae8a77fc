//go:build linux

package main

import (
	"os/signal"
	"strconv"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/capstone/engine"
)

func logsCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "logs",
		Usage:     "fetch the logs of a container",
		ArgsUsage: "[OPTIONS] CONTAINER",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "follow log output"},
			&cli.StringFlag{Name: "tail", Aliases: []string{"n"}, Value: "all", Usage: "number of lines to show from the end of the logs"},
			&cli.BoolFlag{Name: "timestamps", Aliases: []string{"t"}, Usage: "show timestamps"},
		},
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 1); err != nil {
				return err
			}
			tail := -1
			if s := c.String("tail"); s != "all" {
				n, err := strconv.Atoi(s)
				if err != nil || n < 0 {
					return usageError(c, "--tail %q: want a number of lines or all", s)
				}
				tail = n
			}
			e, err := g.engine()
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(c.Context, unix.SIGINT, unix.SIGTERM)
			defer stop()
			return e.Logs(ctx, c.Args().First(), engine.LogOptions{Follow: c.Bool("follow"), Tail: tail, Timestamps: c.Bool("timestamps")}, g.stdout, g.stderr)
		},
	}
}
