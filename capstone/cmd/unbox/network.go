//go:build linux

package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/unboxlab/unbox/capstone/engine"
	"github.com/unboxlab/unbox/internal/network"
)

func networkCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:  "network",
		Usage: "manage networks: bridges with addresses, published ports and names (lesson 06)",
		Subcommands: []*cli.Command{
			networkCreateCommand(g), networkLsCommand(g), networkInspectCommand(g), networkRmCommand(g),
			networkPruneCommand(g), networkConnectCommand(g), networkDisconnectCommand(g),
		},
	}
}

func networkCreateCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "create",
		Usage:     "create a bridge network, with a DNS responder for its containers' names",
		ArgsUsage: "[OPTIONS] NETWORK",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "driver", Aliases: []string{"d"}, Value: "bridge", Usage: "the network's driver (bridge is the only one)"},
			&cli.StringFlag{Name: "subnet", Usage: "the network's IPv4 subnet, e.g. 10.90.0.0/24 (default: a free /24 of 10.89.0.0/16)"},
			&cli.StringFlag{Name: "gateway", Usage: "the gateway's address in the subnet (default: its first)"},
			&cli.StringSliceFlag{Name: "label", Usage: "set metadata: KEY=value"},
			&cli.StringSliceFlag{Name: "dns", Usage: "a resolver (IP or IP:PORT) the network's DNS responder forwards other names to (default: the host's)"},
		},
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 1); err != nil {
				return err
			}
			if d := c.String("driver"); d != "bridge" {
				return fmt.Errorf("network driver %q is not supported: bridge is the only one", d)
			}
			e, err := g.engine()
			if err != nil {
				return err
			}
			labels, err := parseLabels(c.StringSlice("label"))
			if err != nil {
				return err
			}
			n, err := e.CreateNetwork(engine.NetworkCreateOptions{Name: c.Args().First(), Subnet: c.String("subnet"),
				Gateway: c.String("gateway"), Labels: labels, DNS: c.StringSlice("dns")})
			if err != nil {
				return err
			}
			fmt.Fprintln(g.stdout, n.ID)
			return nil
		},
	}
}

// parseLabels reads KEY=value flags (KEY alone: an empty value).
func parseLabels(ls []string) (map[string]string, error) {
	out := map[string]string{}
	for _, l := range ls {
		k, v, _ := strings.Cut(l, "=")
		if k == "" {
			return nil, fmt.Errorf("invalid label %q: want KEY=value", l)
		}
		out[k] = v
	}
	return out, nil
}

// labelFilters reads --filter label=KEY[=VALUE] values; other filters
// are refused.
func labelFilters(fs []string) (map[string]string, error) {
	var out map[string]string
	for _, f := range fs {
		kind, rest, _ := strings.Cut(f, "=")
		if kind != "label" || rest == "" {
			return nil, fmt.Errorf("invalid filter %q: label=KEY or label=KEY=VALUE is supported", f)
		}
		k, v, _ := strings.Cut(rest, "=")
		if out == nil {
			out = map[string]string{}
		}
		out[k] = v
	}
	return out, nil
}

func networkLsCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:    "ls",
		Aliases: []string{"list"},
		Usage:   "list networks",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "only display network IDs"},
			&cli.BoolFlag{Name: "no-trunc", Usage: "do not truncate the IDs"},
			&cli.StringSliceFlag{Name: "filter", Aliases: []string{"f"}, Usage: "label=KEY or label=KEY=VALUE"},
			&cli.StringFlag{Name: "format", Usage: "json: one JSON object per network"},
		},
		Action: func(c *cli.Context) error {
			e, err := g.engine()
			if err != nil {
				return err
			}
			labels, err := labelFilters(c.StringSlice("filter"))
			if err != nil {
				return err
			}
			nets, err := e.ListNetworks(labels)
			if err != nil {
				return err
			}
			var rows [][]string
			for _, n := range nets {
				id := n.ID
				if !c.Bool("no-trunc") {
					id = engine.Short(id)
				}
				switch {
				case c.Bool("quiet"):
					fmt.Fprintln(g.stdout, id)
				case c.String("format") == "json":
					if err := jsonLine(g.stdout, map[string]string{"ID": id, "Name": n.Name, "Driver": n.Driver, "Scope": n.Scope,
						"Labels": labelString(n.Labels)}); err != nil {
						return err
					}
				default:
					rows = append(rows, []string{id, n.Name, n.Driver, n.Scope})
				}
			}
			if !c.Bool("quiet") && c.String("format") != "json" {
				table(g.stdout, []string{"NETWORK ID", "NAME", "DRIVER", "SCOPE"}, rows)
			}
			return nil
		},
	}
}

func networkInspectCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "inspect",
		Usage:     "show networks' details, as JSON: subnet, gateway, containers and their addresses",
		ArgsUsage: "NETWORK [NETWORK...]",
		Action: func(c *cli.Context) error {
			return g.inspectEach(c, func(e *engine.Engine, n string) (any, error) { return e.InspectNetwork(n) })
		},
	}
}

func networkRmCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "rm",
		Aliases:   []string{"remove"},
		Usage:     "remove one or more networks (not one a running container is on)",
		ArgsUsage: "NETWORK [NETWORK...]",
		Flags:     []cli.Flag{&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "do not fail on a network that does not exist"}},
		Action: g.eachArgAction(func(c *cli.Context, e *engine.Engine, n string) error {
			err := e.RemoveNetwork(n)
			if c.Bool("force") && err != nil && errors.Is(err, network.ErrNotFound) {
				return nil
			}
			return err
		}),
	}
}

func networkPruneCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:  "prune",
		Usage: "remove every user-defined network no container is connected to",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "filter", Usage: "label=KEY or label=KEY=VALUE"},
			&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "do not prompt for confirmation (there is no prompt)"},
		},
		Action: func(c *cli.Context) error {
			e, err := g.engine()
			if err != nil {
				return err
			}
			labels, err := labelFilters(c.StringSlice("filter"))
			if err != nil {
				return err
			}
			names, err := e.PruneNetworks(labels)
			if len(names) > 0 {
				fmt.Fprintln(g.stdout, "Deleted Networks:")
				fmt.Fprintln(g.stdout, strings.Join(names, "\n"))
			}
			return err
		},
	}
}

func networkConnectCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "connect",
		Usage:     "connect a container to a network (now if it runs, and at every start)",
		ArgsUsage: "[OPTIONS] NETWORK CONTAINER",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "alias", Usage: "add a name the container answers to on this network"},
			&cli.StringFlag{Name: "ip", Usage: "the container's IPv4 address on this network"},
		},
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 2); err != nil {
				return err
			}
			e, err := g.engine()
			if err != nil {
				return err
			}
			return e.ConnectNetwork(c.Context, c.Args().Get(0), c.Args().Get(1),
				engine.EndpointOptions{Aliases: c.StringSlice("alias"), IP: c.String("ip")})
		},
	}
}

func networkDisconnectCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "disconnect",
		Usage:     "disconnect a container from a network",
		ArgsUsage: "[OPTIONS] NETWORK CONTAINER",
		Flags:     []cli.Flag{&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "do not fail if the container is not on the network"}},
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 2); err != nil {
				return err
			}
			e, err := g.engine()
			if err != nil {
				return err
			}
			return e.DisconnectNetwork(c.Context, c.Args().Get(0), c.Args().Get(1), c.Bool("force"))
		},
	}
}
