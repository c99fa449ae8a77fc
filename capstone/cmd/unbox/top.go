//go:build linux

package main

import (
	"strconv"

	"github.com/urfave/cli/v2"
)

func topCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "top",
		Usage:     "display the running processes of a container",
		ArgsUsage: "CONTAINER",
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 1); err != nil {
				return err
			}
			e, err := g.engine()
			if err != nil {
				return err
			}
			ps, err := e.Top(c.Args().First())
			if err != nil {
				return err
			}
			var rows [][]string
			for _, p := range ps {
				rows = append(rows, []string{p.UID, strconv.Itoa(p.PID), strconv.Itoa(p.PPID), "0", p.STIME, p.TTY, p.TIME, p.CMD})
			}
			table(g.stdout, []string{"UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"}, rows)
			return nil
		},
	}
}
