//go:build linux

package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/unboxlab/unbox/capstone/engine"
)

func psCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:  "ps",
		Usage: "list containers (running ones; all with -a)",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "show all containers (default shows just running)"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "only display container IDs"},
			&cli.BoolFlag{Name: "no-trunc", Usage: "don't truncate output"},
			&cli.StringFlag{Name: "format", Usage: "json: one JSON object per container"},
			&cli.StringSliceFlag{Name: "filter", Aliases: []string{"f"}, Usage: "filter output: health=starting|healthy|unhealthy|none, status=STATUS, name=NAME, id=ID, label=KEY[=VALUE]"},
		},
		Action: func(c *cli.Context) error {
			if f := c.String("format"); f != "" && f != "json" && f != "table" {
				return usageError(c, "--format %q: want json or table", f)
			}
			filter, err := parsePsFilters(c.StringSlice("filter"))
			if err != nil {
				return err
			}
			e, err := g.engine()
			if err != nil {
				return err
			}
			cs, err := e.Containers(c.Context)
			if err != nil {
				return err
			}
			now := time.Now()
			var rows [][]string
			for _, ctr := range cs {
				if !c.Bool("all") && len(filter["status"]) == 0 && !ctr.State.Running {
					continue
				}
				if !filter.match(ctr) {
					continue
				}
				id := ctr.ID
				if !c.Bool("no-trunc") {
					id = engine.Short(id)
				}
				if c.Bool("quiet") {
					g.stdout.Write([]byte(id + "\n"))
					continue
				}
				command := strconv.Quote(strings.Join(append([]string{ctr.Path}, ctr.Args...), " "))
				if !c.Bool("no-trunc") {
					command = strconv.Quote(truncate(strings.Join(append([]string{ctr.Path}, ctr.Args...), " "), 20))
				}
				status := ctr.State.Describe(now)
				if c.String("format") == "json" {
					if err := jsonLine(g.stdout, psJSON{
						ID: id, Image: ctr.Config.Image, Command: command, CreatedAt: ctr.Created.Local().Format("2006-01-02 15:04:05 -0700 MST"),
						RunningFor: engine.Ago(ctr.Created, now), State: ctr.State.Status, Status: status, Names: ctr.Name,
						Labels: labelString(ctr.Config.Labels), Mounts: mountNames(ctr), Networks: strings.Join(engine.NetworkNames(ctr), ","),
						Ports: engine.PortsColumn(ctr.NetworkSettings),
					}); err != nil {
						return err
					}
					continue
				}
				switch {
				case ctr.State.Running:
					status = g.paintOut(colorUp, status)
				case ctr.State.Status == engine.Exited && ctr.State.ExitCode != 0, ctr.State.Status == engine.Dead:
					status = g.paintOut(colorDown, status)
				}
				rows = append(rows, []string{id, ctr.Config.Image, command, engine.Ago(ctr.Created, now), status, engine.PortsColumn(ctr.NetworkSettings), ctr.Name})
			}
			if !c.Bool("quiet") && c.String("format") != "json" {
				table(g.stdout, []string{"CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"}, rows)
			}
			return nil
		},
	}
}

// psJSON is a line of `ps --format json`, with Docker's field names.
type psJSON struct {
	ID         string `json:"ID"`
	Image      string `json:"Image"`
	Command    string `json:"Command"`
	CreatedAt  string `json:"CreatedAt"`
	RunningFor string `json:"RunningFor"`
	Ports      string `json:"Ports"`
	State      string `json:"State"`
	Status     string `json:"Status"`
	Names      string `json:"Names"`
	Labels     string `json:"Labels"`
	Mounts     string `json:"Mounts"`
	Networks   string `json:"Networks"`
}

func labelString(l map[string]string) string {
	var parts []string
	for k, v := range l {
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, ",")
}

func mountNames(c *engine.Container) string {
	var parts []string
	for _, m := range c.Mounts {
		n := m.Name
		if n == "" {
			n = m.Source
		}
		parts = append(parts, n)
	}
	return strings.Join(parts, ",")
}

// psFilters are `ps --filter KEY=VALUE`s, as Docker takes them: values
// of one key are alternatives, different keys must all match; a status
// filter shows stopped containers without -a.
type psFilters map[string][]string

func parsePsFilters(args []string) (psFilters, error) {
	f := psFilters{}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			return nil, fmt.Errorf("bad format of filter (expected name=value): %s", a)
		}
		switch k {
		case "health":
			if !slices.Contains([]string{engine.HealthStarting, engine.HealthHealthy, engine.HealthUnhealthy, engine.HealthNone}, v) {
				return nil, fmt.Errorf("unrecognised filter value for health: %s", v)
			}
		case "status":
			if !slices.Contains([]string{engine.Created, engine.Running, engine.Paused, engine.Restarting, engine.Removing, engine.Exited, engine.Dead}, v) {
				return nil, fmt.Errorf("invalid filter 'status=%s'", v)
			}
		case "name", "id", "label":
		default:
			return nil, fmt.Errorf("invalid filter '%s'", k)
		}
		f[k] = append(f[k], v)
	}
	return f, nil
}

// match reports whether c passes every filter.
func (f psFilters) match(c *engine.Container) bool {
	test := map[string]func(v string) bool{
		"health": func(v string) bool { return c.State.HealthString() == v },
		"status": func(v string) bool { return c.State.Status == v },
		"name":   func(v string) bool { return strings.Contains(c.Name, strings.TrimPrefix(v, "/")) },
		"id":     func(v string) bool { return strings.HasPrefix(c.ID, v) },
		"label": func(v string) bool {
			k, val, hasValue := strings.Cut(v, "=")
			got, ok := c.Config.Labels[k]
			return ok && (!hasValue || got == val)
		},
	}
	for k, vs := range f {
		if !slices.ContainsFunc(vs, test[k]) {
			return false
		}
	}
	return true
}
