//go:build linux

package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/unboxlab/unbox/capstone/engine"
)

// updateCommand is Docker's update: a container's limits, in its cgroup
// at once if it runs (lesson 02's files, written while it runs), and its
// restart policy.
func updateCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "update",
		Usage:     "update the resource limits and restart policy of one or more containers",
		ArgsUsage: "[OPTIONS] CONTAINER [CONTAINER...]",
		Flags: append(limitFlags(),
			&cli.StringFlag{Name: "restart", Usage: "restart policy: no, on-failure[:max-retries], always, unless-stopped"}),
		Action: func(c *cli.Context) error {
			if err := needArgs(c, 1); err != nil {
				return err
			}
			o := engine.UpdateOptions{CPUPeriod: c.Int64("cpu-period"), CPUQuota: c.Int64("cpu-quota"), PidsLimit: c.Int64("pids-limit")}
			var err error
			if o.Memory, o.NanoCPUs, err = limits(c); err != nil {
				return err
			}
			if c.IsSet("restart") {
				p, err := engine.ParseRestartPolicy(c.String("restart"))
				if err != nil {
					return err
				}
				o.Restart = &p
			}
			if o == (engine.UpdateOptions{}) {
				return fmt.Errorf("you must provide one or more flags when using this command")
			}
			e, err := g.engine()
			if err != nil {
				return err
			}
			return g.eachArg(c, func(ref string) error {
				_, err := e.Update(c.Context, ref, o)
				return err
			})
		},
	}
}
