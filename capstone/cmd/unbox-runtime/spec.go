//go:build linux

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/unboxlab/unbox/capstone/specconv"
)

func specCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:  "spec",
		Usage: "write a default config.json in the bundle (runc's default, with a cgroup namespace)",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Value: ".", Usage: "where to write config.json"},
			&cli.BoolFlag{Name: "rootless", Usage: "not supported: unbox-runtime runs as root"},
		},
		Action: func(c *cli.Context) error {
			if c.Bool("rootless") {
				return errors.New("spec --rootless: unbox-runtime does not run rootless containers")
			}
			path := filepath.Join(c.String("bundle"), "config.json")
			if _, err := os.Stat(path); err == nil {
				return fmt.Errorf("%s exists already: remove it first", path)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			b, err := json.MarshalIndent(specconv.Example(), "", "\t")
			if err != nil {
				return err
			}
			return os.WriteFile(path, append(b, '\n'), 0o666)
		},
	}
}
