//go:build linux

package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/unboxlab/unbox/capstone/engine"
)

func systemCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:  "system",
		Usage: "manage unbox: disk usage, prune, info",
		Subcommands: []*cli.Command{
			{
				Name:  "df",
				Usage: "show the engine's disk usage",
				Action: func(c *cli.Context) error {
					e, err := g.engine()
					if err != nil {
						return err
					}
					us, err := e.DiskUsage(c.Context)
					if err != nil {
						return err
					}
					var rows [][]string
					for _, u := range us {
						pct := ""
						if u.Size > 0 {
							pct = fmt.Sprintf(" (%d%%)", u.Reclaimable*100/u.Size)
						}
						rows = append(rows, []string{u.Type, strconv.Itoa(u.Total), strconv.Itoa(u.Active), engine.HumanSize(u.Size), engine.HumanSize(u.Reclaimable) + pct})
					}
					table(g.stdout, []string{"TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"}, rows)
					return nil
				},
			},
			{
				Name:  "prune",
				Usage: "remove stopped containers, unused networks, unused images without a name, and what interrupted commands left",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "remove all images no container uses, not just those without a name"},
					&cli.BoolFlag{Name: "volumes", Usage: "prune anonymous volumes no container uses"},
					&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "do not prompt for confirmation (there is no prompt)"},
				},
				Action: func(c *cli.Context) error {
					e, err := g.engine()
					if err != nil {
						return err
					}
					ids, err := e.PruneContainers(c.Context)
					if err != nil {
						return err
					}
					if len(ids) > 0 {
						fmt.Fprintln(g.stdout, "Deleted Containers:")
						fmt.Fprintln(g.stdout, strings.Join(ids, "\n"))
						fmt.Fprintln(g.stdout)
					}
					nets, err := e.PruneNetworks(nil)
					if len(nets) > 0 {
						fmt.Fprintln(g.stdout, "Deleted Networks:")
						fmt.Fprintln(g.stdout, strings.Join(nets, "\n"))
						fmt.Fprintln(g.stdout)
					}
					if err != nil {
						return err
					}
					if c.Bool("volumes") {
						names, err := e.Volumes.Prune(false)
						if err != nil {
							return err
						}
						if len(names) > 0 {
							fmt.Fprintln(g.stdout, "Deleted Volumes:")
							fmt.Fprintln(g.stdout, strings.Join(names, "\n"))
							fmt.Fprintln(g.stdout)
						}
					}
					rm, freed, err := e.PruneImages(c.Bool("all"))
					if err != nil {
						return err
					}
					if len(rm) > 0 {
						fmt.Fprintln(g.stdout, "Deleted Images:")
						for _, r := range rm {
							fmt.Fprintln(g.stdout, strings.ToLower(r.String()[:1])+r.String()[1:])
						}
						fmt.Fprintln(g.stdout)
					}
					fmt.Fprintf(g.stdout, "Total reclaimed space: %s\n", engine.HumanSize(freed))
					return nil
				},
			},
			{Name: "info", Usage: "display system-wide information", Action: infoCommand(g).Action},
		},
	}
}

func infoCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:  "info",
		Usage: "display system-wide information: containers, images, cgroups, runtimes, storage",
		Action: func(c *cli.Context) error {
			e, err := g.engine()
			if err != nil {
				return err
			}
			in, err := e.Info(c.Context)
			if err != nil {
				return err
			}
			w := g.stdout
			fmt.Fprintf(w, "Containers: %d\n Running: %d\n Stopped: %d\n", in.Containers, in.Running, in.Stopped)
			fmt.Fprintf(w, "Images: %d\n", in.Images)
			fmt.Fprintf(w, "Server Version: %s (no daemon: each command is the engine)\n", version)
			fmt.Fprintf(w, "Storage Driver: %s\n Root Dir: %s\n State Dir: %s\n", in.StorageDriver, in.Root, in.State)
			fmt.Fprintf(w, "Cgroup Driver: %s\nCgroup Version: %s\n", in.CgroupDriver, in.CgroupVersion)
			fmt.Fprintf(w, "Runtimes: %s\nDefault Runtime: %s\n", strings.Join(in.Runtimes, ", "), in.DefaultRuntime)
			fmt.Fprintf(w, "Kernel Version: %s\nOperating System: %s\nArchitecture: %s\nCPUs: %d\nTotal Memory: %s\n",
				in.Kernel, in.OS, in.Arch, in.CPUs, engine.BinarySize(in.Memory))
			return nil
		},
	}
}
