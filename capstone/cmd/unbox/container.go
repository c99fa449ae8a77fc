//go:build linux

package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"
)

// containerCommand is Docker's management command for containers: the
// same commands as at the top level, by the names tutorials and scripts
// use (`unbox container ls` is `unbox ps`, `unbox container rm` is
// `unbox rm`).
func containerCommand(g *globals) *cli.Command {
	ls := psCommand(g)
	ls.Name, ls.Aliases = "ls", []string{"ps", "list"}
	return &cli.Command{
		Name:  "container",
		Usage: "manage containers (Docker's management command: `container ls` is `ps`, the others as above)",
		Subcommands: []*cli.Command{
			ls, runCommand(g), createCommand(g), startCommand(g), stopCommand(g), restartCommand(g), killCommand(g),
			rmCommand(g), logsCommand(g), execCommand(g), inspectCommand(g), topCommand(g), statsCommand(g),
			pauseCommand(g), unpauseCommand(g), updateCommand(g), diffCommand(g), attachCommand(g), commitCommand(g),
			exportCommand(g), cpCommand(g), waitCommand(g), portCommand(g),
			{
				Name:  "prune",
				Usage: "remove all stopped containers",
				Flags: []cli.Flag{&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "do not prompt for confirmation (there is no prompt)"}},
				Action: func(c *cli.Context) error {
					e, err := g.engine()
					if err != nil {
						return err
					}
					ids, err := e.PruneContainers(c.Context)
					if len(ids) > 0 {
						fmt.Fprintf(g.stdout, "Deleted Containers:\n%s\n", strings.Join(ids, "\n"))
					}
					return err
				},
			},
		},
	}
}
