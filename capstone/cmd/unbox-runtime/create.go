//go:build linux

package main

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/unboxlab/unbox/capstone/container"
	"github.com/unboxlab/unbox/capstone/specconv"
)

// createFlags are create's, which run takes too.
func createFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Value: ".", Usage: "the bundle: a directory with config.json"},
		&cli.StringFlag{Name: "console-socket", Usage: "Unix socket that gets the terminal's master (SCM_RIGHTS) when process.terminal is true"},
		&cli.StringFlag{Name: "pid-file", Usage: "write the init's PID to this file"},
		&cli.BoolFlag{Name: "no-pivot", Usage: "enter the root with chroot(2) instead of pivot_root(2) (a root on a ramfs)"},
		&cli.BoolFlag{Name: "no-new-keyring", Usage: "accepted for runc compatibility (no session keyring is made)"},
		&cli.IntFlag{Name: "preserve-fds", Usage: "pass descriptors 3 to 3+N-1 to the container's process"},
	}
}

func createCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "create",
		Usage:     "create a container whose process waits for start",
		ArgsUsage: "[--bundle DIR] ID",
		Flags:     createFlags(),
		Action: func(c *cli.Context) error {
			o, err := g.createOpts(c)
			if err != nil {
				return fmt.Errorf("unbox-runtime create failed: %w", err)
			}
			// Interrupted, create undoes what it made.
			ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
			defer stop()
			if _, err := container.Create(ctx, *o); err != nil {
				return fmt.Errorf("unbox-runtime create failed: %w", err)
			}
			return nil
		},
	}
}

// createOpts reads the bundle and the flags.
func (g *globals) createOpts(c *cli.Context) (*container.CreateOpts, error) {
	if err := exactArgs(c, 1); err != nil {
		return nil, err
	}
	id := c.Args().First()
	bundle, err := filepath.Abs(c.String("bundle"))
	if err != nil {
		return nil, err
	}
	spec, err := specconv.Load(bundle)
	if err != nil {
		return nil, err
	}
	cfg, err := specconv.Convert(spec, specconv.Options{ID: id, Bundle: bundle, SystemdCgroup: g.systemdCgroup, NoPivot: c.Bool("no-pivot")})
	if err != nil {
		return nil, err
	}
	if c.Int("preserve-fds") < 0 {
		return nil, fmt.Errorf("--preserve-fds %d: want 0 or more", c.Int("preserve-fds"))
	}
	in, out, errw := files(c)
	return &container.CreateOpts{
		Root:          g.root,
		ID:            id,
		Bundle:        bundle,
		Config:        cfg,
		PIDFile:       c.String("pid-file"),
		ConsoleSocket: c.String("console-socket"),
		PreserveFDs:   c.Int("preserve-fds"),
		Stdin:         in,
		Stdout:        out,
		Stderr:        errw,
	}, nil
}
