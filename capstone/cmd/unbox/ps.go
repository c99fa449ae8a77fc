//go:build linux

package main

import (
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
		},
		Action: func(c *cli.Context) error {
			if f := c.String("format"); f != "" && f != "json" && f != "table" {
				return usageError(c, "--format %q: want json or table", f)
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
				if !c.Bool("all") && !ctr.State.Running {
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
