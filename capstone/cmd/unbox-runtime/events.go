//go:build linux

package main

import (
	"encoding/json"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/unboxlab/unbox/capstone/container"
	"github.com/unboxlab/unbox/internal/cgroups"
)

// event is runc's events JSON (libcontainer's types.Event), which
// containerd's shim decodes.
type event struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Data any    `json:"data,omitempty"`
}

// The stats are runc's types.Stats, the fields a cgroup gives; CPU times
// in nanoseconds, memory in bytes.
type stats struct {
	CPU    cpuStats    `json:"cpu"`
	Memory memoryStats `json:"memory"`
	Pids   pidsStats   `json:"pids"`
}

type cpuStats struct {
	Usage struct {
		Total  uint64 `json:"total,omitempty"`
		Kernel uint64 `json:"kernel"`
		User   uint64 `json:"user"`
	} `json:"usage,omitempty"`
	Throttling struct {
		Periods          uint64 `json:"periods,omitempty"`
		ThrottledPeriods uint64 `json:"throttledPeriods,omitempty"`
		ThrottledTime    uint64 `json:"throttledTime,omitempty"`
	} `json:"throttling,omitempty"`
}

type memoryEntry struct {
	Limit   uint64 `json:"limit"`
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}

type memoryStats struct {
	Usage memoryEntry       `json:"usage,omitempty"`
	Swap  memoryEntry       `json:"swap,omitempty"`
	Raw   map[string]uint64 `json:"raw,omitempty"`
}

type pidsStats struct {
	Current uint64 `json:"current,omitempty"`
	Limit   uint64 `json:"limit,omitempty"`
}

func toStats(s cgroups.Stats) stats {
	var out stats
	out.CPU.Usage.Total = s.CPU.UsageUsec * 1000
	out.CPU.Usage.Kernel = s.CPU.SystemUsec * 1000
	out.CPU.Usage.User = s.CPU.UserUsec * 1000
	out.CPU.Throttling.Periods = s.CPU.Periods
	out.CPU.Throttling.ThrottledPeriods = s.CPU.Throttled
	out.CPU.Throttling.ThrottledTime = s.CPU.ThrottledUsec * 1000
	out.Memory.Usage = memoryEntry{Limit: s.Memory.Limit, Usage: s.Memory.Usage, Max: s.Memory.Peak, Failcnt: s.Memory.LimitHits}
	out.Memory.Swap = memoryEntry{Usage: s.Memory.Swap}
	out.Memory.Raw = map[string]uint64{"inactive_file": s.Memory.InactiveFile, "oom_kill": s.Memory.OOMKills}
	out.Pids = pidsStats{Current: s.Pids.Current, Limit: s.Pids.Limit}
	return out
}

func eventsCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "events",
		Usage:     "print a container's stats as JSON, once (--stats) or every --interval, with an oom event for each OOM kill",
		ArgsUsage: "ID",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "stats", Usage: "print the stats once and exit"},
			&cli.DurationFlag{Name: "interval", Value: 5 * time.Second, Usage: "how often to print them otherwise"},
		},
		Action: g.onContainer(func(c *cli.Context, ctr *container.Container) error {
			enc := json.NewEncoder(c.App.Writer)
			if c.Bool("stats") {
				if ctr.Status() == container.Stopped {
					return container.ErrNotRun
				}
				s, err := ctr.Stats()
				if err != nil {
					return err
				}
				return enc.Encode(event{Type: "stats", ID: ctr.ID, Data: toStats(s)})
			}
			var ooms uint64
			tick := time.NewTicker(c.Duration("interval"))
			defer tick.Stop()
			for {
				if ctr.Status() == container.Stopped {
					return nil
				}
				s, err := ctr.Stats()
				if err != nil {
					return err
				}
				if s.Memory.OOMKills > ooms {
					if err := enc.Encode(event{Type: "oom", ID: ctr.ID}); err != nil {
						return err
					}
					ooms = s.Memory.OOMKills
				}
				if err := enc.Encode(event{Type: "stats", ID: ctr.ID, Data: toStats(s)}); err != nil {
					return err
				}
				select {
				case <-c.Context.Done():
					return nil
				case <-tick.C:
				}
			}
		}),
	}
}
