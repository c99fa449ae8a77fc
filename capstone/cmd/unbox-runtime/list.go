//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/unboxlab/unbox/capstone/container"
)

func listCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:  "list",
		Usage: "list the containers under --root",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "table or json"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "IDs only"},
		},
		Action: func(c *cli.Context) error {
			ctrs, err := container.List(g.root)
			if err != nil {
				return err
			}
			var states []container.State
			for _, ctr := range ctrs {
				states = append(states, ctr.State())
			}
			switch {
			case c.Bool("quiet"):
				for _, s := range states {
					fmt.Fprintln(c.App.Writer, s.ID)
				}
				return nil
			case c.String("format") == "json":
				if states == nil {
					states = []container.State{}
				}
				return json.NewEncoder(c.App.Writer).Encode(states)
			case c.String("format") != "table":
				return fmt.Errorf("--format %q: want table or json", c.String("format"))
			}
			w := tabwriter.NewWriter(c.App.Writer, 12, 1, 3, ' ', 0)
			fmt.Fprint(w, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n")
			for _, s := range states {
				fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", s.ID, s.Pid, s.Status, s.Bundle, s.Created.Format(time.RFC3339Nano), "root")
			}
			return w.Flush()
		},
	}
}
