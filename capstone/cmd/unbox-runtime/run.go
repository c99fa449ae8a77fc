//go:build linux

package main

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/capstone/container"
)

func runCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "create and start a container, wait for it, delete it; exit with its status",
		ArgsUsage: "[--bundle DIR] ID",
		Flags: append(createFlags(),
			&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "create and start it, and return (the init goes to the caller's subreaper)"},
			&cli.BoolFlag{Name: "keep", Usage: "do not delete the container when it exits"},
		),
		Action: func(c *cli.Context) error {
			o, err := g.createOpts(c)
			if err != nil {
				return fmt.Errorf("unbox-runtime run failed: %w", err)
			}
			if c.Bool("detach") {
				ctr, err := container.Create(c.Context, *o)
				if err != nil {
					return fmt.Errorf("unbox-runtime run failed: %w", err)
				}
				return g.warnHooks(c.App.ErrWriter, ctr.Start())
			}
			return g.runForeground(c, o)
		},
	}
}

// runForeground is runc run without --detach: this process stays the
// init's parent, passes signals on, and exits with the init's status.
func (g *globals) runForeground(c *cli.Context, o *container.CreateOpts) error {
	fg := newForeground()
	defer fg.stop()
	p, err := container.Prepare(fg.ctx, *o)
	if err != nil {
		return fmt.Errorf("unbox-runtime run failed: %w", err)
	}
	restore := func() {}
	if p.Console != nil {
		restore = fg.attach(p.Console, c.App.Reader, c.App.Writer)
	}
	pid := p.Pid()
	fg.started(func(sig unix.Signal) error { return unix.Kill(pid, sig) })
	if err := g.warnHooks(c.App.ErrWriter, p.Start()); err != nil {
		_ = p.Delete(true)
		return err
	}
	ws, werr := p.Wait()
	restore()
	if !c.Bool("keep") {
		if err := g.warnHooks(c.App.ErrWriter, p.Delete(true)); err != nil {
			return errors.Join(werr, err)
		}
	}
	if werr != nil {
		return werr
	}
	return exitStatus(statusOf(ws))
}
