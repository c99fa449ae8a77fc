//go:build linux

package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/unboxlab/unbox/capstone/engine"
)

func doctorCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:  "doctor",
		Usage: "check that this machine has what the engine needs, and say how to fix what it lacks",
		Action: func(c *cli.Context) error {
			e, err := engine.Open(g.opts)
			var checks []engine.Check
			if err != nil {
				checks = []engine.Check{{Name: "engine directories", Err: err, Fix: "run as root, or give --root and --state you can write"}}
			} else {
				checks = e.Doctor(c.Context)
			}
			failed := 0
			var rows [][]string
			for _, ch := range checks {
				res, detail := g.paintOut(colorUp, "ok"), ch.Detail
				if ch.Err != nil {
					res = g.paintOut(colorDown, "missing")
					if ch.Optional {
						res = g.paintOut(colorDim, "optional")
					} else {
						failed++
					}
					detail = ch.Err.Error() + ": " + ch.Fix
				}
				rows = append(rows, []string{ch.Name, res, detail})
			}
			table(g.stdout, []string{"CHECK", "RESULT", "DETAIL"}, rows)
			if failed > 0 {
				return fmt.Errorf("%d check(s) failed: containers will not run until they pass", failed)
			}
			return nil
		},
	}
}
