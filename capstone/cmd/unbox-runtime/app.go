//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/unboxlab/unbox/capstone/container"
)

// version is unbox-runtime's own; specVersion the runtime-spec it speaks.
const version = "0.1.0"

// run is the whole program but for the re-exec: it returns the exit status,
// 1 for any error (as runc), or the container's or exec'd process's status
// for run and exec.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	g := &globals{}
	app := newApp(g, stdin, stdout, stderr)
	err := app.RunContext(context.Background(), args)
	var st exitStatus
	switch {
	case err == nil:
		return 0
	case errors.As(err, &st):
		return int(st)
	}
	g.logError(stderr, err)
	return 1
}

// exitStatus is the status run and exec return: the container's process's.
type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// globals are the global flags, read in the app's Before.
type globals struct {
	root          string
	logPath       string
	logFormat     string
	debug         bool
	systemdCgroup bool
}

func newApp(g *globals, stdin io.Reader, stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:  "unbox-runtime",
		Usage: "an OCI container runtime (runc's command line), built from the unbox lessons",
		Description: "Containers are made from OCI bundles: a directory with a config.json and a root filesystem.\n" +
			"`unbox-runtime spec` writes a config.json to start from.",
		Version:         version,
		Reader:          stdin,
		Writer:          stdout,
		ErrWriter:       stderr,
		HideHelpCommand: true,
		// Errors are printed once, by run, in runc's format.
		ExitErrHandler: func(*cli.Context, error) {},
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "root", Value: container.DefaultRoot, Usage: "directory for the containers' state"},
			&cli.StringFlag{Name: "log", Usage: "write errors (and with --debug, more) to this file; stderr by default"},
			&cli.StringFlag{Name: "log-format", Value: "text", Usage: "text or json (containerd's shim and conmon read json)"},
			&cli.BoolFlag{Name: "debug", Usage: "log more"},
			&cli.BoolFlag{Name: "systemd-cgroup", Usage: "read linux.cgroupsPath as slice:prefix:name (the cgroup is written directly; systemd is not asked)"},
			&cli.StringFlag{Name: "criu", Hidden: true, Usage: "accepted for runc compatibility; checkpointing is not supported"},
			&cli.StringFlag{Name: "rootless", Hidden: true, Value: "auto", Usage: "accepted for runc compatibility; unbox-runtime runs as root"},
		},
		Before: func(c *cli.Context) error {
			g.root = c.String("root")
			g.logPath = c.String("log")
			g.logFormat = c.String("log-format")
			g.debug = c.Bool("debug")
			g.systemdCgroup = c.Bool("systemd-cgroup")
			if g.logFormat != "text" && g.logFormat != "json" {
				return fmt.Errorf("--log-format %q: want text or json", g.logFormat)
			}
			return nil
		},
		Commands: []*cli.Command{
			createCommand(g), startCommand(g), stateCommand(g), killCommand(g), deleteCommand(g),
			runCommand(g), execCommand(g), psCommand(g), listCommand(g), featuresCommand(g), specCommand(g),
			eventsCommand(g), updateCommand(g), pauseCommand(g), resumeCommand(g), checkpointCommand(g),
			restoreCommand(g),
		},
	}
	return app
}

// load loads the container named by the command's first argument.
func (g *globals) load(c *cli.Context) (*container.Container, error) {
	id, err := idArg(c)
	if err != nil {
		return nil, err
	}
	return container.Load(g.root, id)
}

// onContainer is the action of a command whose one argument is a
// container: fn gets it loaded.
func (g *globals) onContainer(fn func(c *cli.Context, ctr *container.Container) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		if err := exactArgs(c, 1); err != nil {
			return err
		}
		ctr, err := g.load(c)
		if err != nil {
			return err
		}
		return fn(c, ctr)
	}
}

// idArg is the container ID, the command's one argument.
func idArg(c *cli.Context) (string, error) {
	if c.NArg() < 1 {
		return "", fmt.Errorf("%s: missing the container ID (usage: unbox-runtime %s %s)", c.Command.Name, c.Command.Name, c.Command.ArgsUsage)
	}
	return c.Args().First(), nil
}

// exactArgs checks a command's argument count.
func exactArgs(c *cli.Context, n int) error {
	if c.NArg() != n {
		return fmt.Errorf("%s: want %d argument(s), got %d (usage: unbox-runtime %s %s)", c.Command.Name, n, c.NArg(), c.Command.Name, c.Command.ArgsUsage)
	}
	return nil
}

// files are the app's stdio as files, for a container's process to
// inherit; nil where the app was given something else (a test's buffer),
// and then the process gets this process's own.
func files(c *cli.Context) (in, out, errw *os.File) {
	in, _ = c.App.Reader.(*os.File)
	out, _ = c.App.Writer.(*os.File)
	errw, _ = c.App.ErrWriter.(*os.File)
	return in, out, errw
}
