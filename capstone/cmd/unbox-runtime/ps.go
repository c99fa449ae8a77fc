//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
)

func psCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "ps",
		Usage:     "list a container's processes: ps(1)'s table, or their PIDs as JSON",
		ArgsUsage: "ID [PS OPTIONS]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "table or json"},
		},
		Action: func(c *cli.Context) error {
			ctr, err := g.load(c)
			if err != nil {
				return err
			}
			pids, err := ctr.Processes()
			if err != nil {
				return err
			}
			slices.Sort(pids)
			switch c.String("format") {
			case "json":
				if pids == nil {
					pids = []int{}
				}
				return json.NewEncoder(c.App.Writer).Encode(pids)
			case "table":
			default:
				return fmt.Errorf("--format %q: want table or json", c.String("format"))
			}
			// As runc: the host's ps, with its header and the lines
			// whose PID is one of the container's.
			args := c.Args().Tail()
			if len(args) == 0 {
				args = []string{"-ef"}
			}
			out, err := exec.Command("ps", args...).Output()
			if err != nil {
				return fmt.Errorf("ps %s: %w", strings.Join(args, " "), err)
			}
			lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
			col := slices.Index(strings.Fields(lines[0]), "PID")
			if col < 0 {
				return fmt.Errorf("ps %s: no PID column in %q", strings.Join(args, " "), lines[0])
			}
			var buf bytes.Buffer
			buf.WriteString(lines[0] + "\n")
			for _, l := range lines[1:] {
				f := strings.Fields(l)
				if len(f) <= col {
					continue
				}
				if pid, err := strconv.Atoi(f[col]); err == nil && slices.Contains(pids, pid) {
					buf.WriteString(l + "\n")
				}
			}
			_, err = c.App.Writer.Write(buf.Bytes())
			return err
		},
	}
}
