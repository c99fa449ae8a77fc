//go:build linux

package main

import (
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

// remoteOptions are what a pull or push needs from the configuration,
// with events going to p.
func remoteOptions(c *cli.Context, p image.ProgressFunc) (image.RemoteOptions, error) {
	rc, err := image.LoadRegistryConfig(configDir(c))
	if err != nil {
		return image.RemoteOptions{}, err
	}
	return image.RemoteOptions{ConfigDir: configDir(c), Registry: rc, Progress: p}, nil
}

// registryCommands are the commands of images and registries (issue 16),
// for newApp's list.
func registryCommands(g *globals) []*cli.Command {
	return []*cli.Command{
		pullCommand(g), pushCommand(g), loginCommand(g), logoutCommand(g),
		saveCommand(g), loadCommand(g), importCommand(g),
	}
}
