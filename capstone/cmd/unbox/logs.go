//go:build linux

package main

import (
	"os/signal"
	"strconv"
	"time"

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
			&cli.StringFlag{Name: "since", Usage: "show logs since a time (2026-01-02T13:23:37Z) or a duration ago (42m)"},
			&cli.StringFlag{Name: "until", Usage: "show logs before a time (2026-01-02T13:23:37Z) or a duration ago (42m)"},
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
			o := engine.LogOptions{Follow: c.Bool("follow"), Tail: tail, Timestamps: c.Bool("timestamps")}
			now := time.Now()
			for flag, t := range map[string]*time.Time{"since": &o.Since, "until": &o.Until} {
				if s := c.String(flag); s != "" {
					v, err := engine.ParseTime(s, now)
					if err != nil {
						return usageError(c, "--%s: %v", flag, err)
					}
					*t = v
				}
			}
			e, err := g.engine()
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(c.Context, unix.SIGINT, unix.SIGTERM)
			defer stop()
			return e.Logs(ctx, c.Args().First(), o, g.stdout, g.stderr)
		},
	}
}
