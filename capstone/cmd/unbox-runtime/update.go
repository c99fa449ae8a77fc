//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"

	"github.com/unboxlab/unbox/capstone/container"
	"github.com/unboxlab/unbox/capstone/specconv"
)

func updateCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "update",
		Usage:     "change a container's limits: from --resources (linux.resources JSON, - for stdin) or flags",
		ArgsUsage: "ID",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "resources", Aliases: []string{"r"}, Usage: "a linux.resources document; - reads stdin (containerd's shim does)"},
			&cli.Int64Flag{Name: "memory", Usage: "memory limit in bytes (-1: none)"},
			&cli.Int64Flag{Name: "memory-reservation", Usage: "memory soft limit in bytes"},
			&cli.Int64Flag{Name: "memory-swap", Usage: "memory plus swap in bytes (-1: none)"},
			&cli.Int64Flag{Name: "cpu-quota", Usage: "CFS quota in µs per period (-1: none)"},
			&cli.Uint64Flag{Name: "cpu-period", Usage: "CFS period in µs"},
			&cli.Uint64Flag{Name: "cpu-share", Usage: "CPU shares (relative weight)"},
			&cli.StringFlag{Name: "cpuset-cpus", Usage: "CPUs, such as 0-1"},
			&cli.StringFlag{Name: "cpuset-mems", Usage: "memory nodes"},
			&cli.Int64Flag{Name: "pids-limit", Usage: "most tasks (-1: none)"},
		},
		Action: g.onContainer(func(c *cli.Context, ctr *container.Container) error {
			var r specs.LinuxResources
			if path := c.String("resources"); path != "" {
				var in io.Reader = c.App.Reader
				if path != "-" {
					f, err := os.Open(path)
					if err != nil {
						return err
					}
					defer f.Close()
					in = f
				}
				if err := json.NewDecoder(in).Decode(&r); err != nil {
					return fmt.Errorf("--resources %s: %w", path, err)
				}
			}
			flags(c, &r)
			res, err := specconv.Resources(&r)
			if err != nil {
				return err
			}
			return ctr.Update(res)
		}),
	}
}

// flags lays update's flags over r.
func flags(c *cli.Context, r *specs.LinuxResources) {
	mem := func() *specs.LinuxMemory {
		if r.Memory == nil {
			r.Memory = &specs.LinuxMemory{}
		}
		return r.Memory
	}
	cpu := func() *specs.LinuxCPU {
		if r.CPU == nil {
			r.CPU = &specs.LinuxCPU{}
		}
		return r.CPU
	}
	i64 := func(name string) *int64 { v := c.Int64(name); return &v }
	u64 := func(name string) *uint64 { v := c.Uint64(name); return &v }
	if c.IsSet("memory") {
		mem().Limit = i64("memory")
	}
	if c.IsSet("memory-reservation") {
		mem().Reservation = i64("memory-reservation")
	}
	if c.IsSet("memory-swap") {
		mem().Swap = i64("memory-swap")
	}
	if c.IsSet("cpu-quota") {
		cpu().Quota = i64("cpu-quota")
	}
	if c.IsSet("cpu-period") {
		cpu().Period = u64("cpu-period")
	}
	if c.IsSet("cpu-share") {
		cpu().Shares = u64("cpu-share")
	}
	if c.IsSet("cpuset-cpus") {
		cpu().Cpus = c.String("cpuset-cpus")
	}
	if c.IsSet("cpuset-mems") {
		cpu().Mems = c.String("cpuset-mems")
	}
	if c.IsSet("pids-limit") {
		r.Pids = &specs.LinuxPids{Limit: i64("pids-limit")}
	}
}
