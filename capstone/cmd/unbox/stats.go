//go:build linux

package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/unboxlab/unbox/capstone/engine"
)

func statsCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "stats",
		Usage:     "display containers' resource usage, from their cgroups",
		ArgsUsage: "[OPTIONS] [CONTAINER...]",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "no-stream", Usage: "print one sample and exit"},
			&cli.StringFlag{Name: "format", Usage: "json: one JSON object per container"},
		},
		Action: func(c *cli.Context) error {
			e, err := g.engine()
			if err != nil {
				return err
			}
			for {
				st, err := e.Stats(c.Context, c.Args().Slice(), 500*time.Millisecond)
				if err != nil {
					return err
				}
				if c.String("format") == "json" {
					for _, s := range st {
						jsonLine(g.stdout, map[string]string{
							"ID": engine.Short(s.ID), "Name": s.Name, "CPUPerc": fmt.Sprintf("%.2f%%", s.CPUPercent),
							"MemUsage": engine.BinarySize(s.MemUsage) + " / " + engine.BinarySize(s.MemLimit),
							"MemPerc":  fmt.Sprintf("%.2f%%", s.MemPercent), "NetIO": engine.HumanSize(int64(s.NetRx)) + " / " + engine.HumanSize(int64(s.NetTx)),
							"BlockIO": "0B / 0B", "PIDs": strconv.FormatUint(s.Pids, 10),
						})
					}
				} else {
					var rows [][]string
					for _, s := range st {
						rows = append(rows, []string{engine.Short(s.ID), s.Name, fmt.Sprintf("%.2f%%", s.CPUPercent),
							engine.BinarySize(s.MemUsage) + " / " + engine.BinarySize(s.MemLimit), fmt.Sprintf("%.2f%%", s.MemPercent),
							engine.HumanSize(int64(s.NetRx)) + " / " + engine.HumanSize(int64(s.NetTx)), "0B / 0B", strconv.FormatUint(s.Pids, 10)})
					}
					table(g.stdout, []string{"CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS"}, rows)
				}
				if c.Bool("no-stream") {
					return nil
				}
				select {
				case <-c.Context.Done():
					return nil
				default:
				}
			}
		},
	}
}
