//go:build linux

package main

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/unboxlab/unbox/capstone/image"
)

// configFlag is the global --config: the directory of the engine's
// configuration (daemon.json: registry mirrors, insecure registries) and
// of the credentials `unbox login` stores (config.json).
func configFlag() cli.Flag {
	return &cli.StringFlag{Name: "config", Value: image.DefaultConfigDir, EnvVars: []string{"UNBOX_CONFIG"},
		Usage: "the engine's configuration directory: daemon.json (registry-mirrors, insecure-registries) and config.json (logins)"}
}

// configDir is the --config directory.
func configDir(c *cli.Context) string {
	if d := c.String("config"); d != "" {
		return d
	}
	return image.DefaultConfigDir
}

// transfer prepares a pull or a push: the options the configuration
// gives, and a progressView that draws its events on w under the header
// line (neither with --quiet). `pull` and `push` draw on stdout; `run`
// and `create` on stderr, as Docker's do, since their stdout is the
// container's (or its ID).
func (g *globals) transfer(c *cli.Context, w io.Writer, header string) (image.RemoteOptions, *progressView, error) {
	o, err := remoteOptions(c)
	if err != nil {
		return o, nil, err
	}
	view := newProgress(w)
	if !c.Bool("quiet") {
		fmt.Fprintln(w, header)
		o.Progress = view.event
	}
	return o, view, nil
}

// remoteOptions are what every pull and push from this command reads from
// the configuration: the credentials' directory and daemon.json's
// registry section (mirrors, insecure registries).
func remoteOptions(c *cli.Context) (image.RemoteOptions, error) {
	rc, err := image.LoadRegistryConfig(configDir(c))
	if err != nil {
		return image.RemoteOptions{}, err
	}
	return image.RemoteOptions{ConfigDir: configDir(c), Registry: rc}, nil
}

// registryCommands are the commands of images and registries (issue 16),
// for newApp's list.
func registryCommands(g *globals) []*cli.Command {
	return []*cli.Command{
		pullCommand(g), pushCommand(g), loginCommand(g), logoutCommand(g),
		saveCommand(g), loadCommand(g), importCommand(g),
	}
}
