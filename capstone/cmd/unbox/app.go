//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/unboxlab/unbox/capstone/engine"
)

// version is unbox's own.
const version = "0.1.0"

// Exit statuses, Docker's (docker run(1), "Exit Status"): the engine's own
// errors are 125; a command that cannot be invoked 126, one that is not
// found 127; otherwise the container's status.
const exitEngine = 125

// run is the whole program but for the re-exec: it returns the exit
// status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	g := &globals{stdin: stdin, stdout: stdout, stderr: stderr}
	err := newApp(g).RunContext(context.Background(), args)
	return g.exitCode(err)
}

// exitStatus is a container's exit status, passed through as ours.
type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// exitCode prints err (unless it is a container's status) and returns the
// status to exit with.
func (g *globals) exitCode(err error) int {
	if err == nil {
		return 0
	}
	var st exitStatus
	if errors.As(err, &st) {
		return int(st)
	}
	if errors.Is(err, errSilent) {
		return exitEngine
	}
	code := exitEngine
	var ec *engine.ExitCodeError
	var ee *engine.ExitError
	switch {
	case errors.As(err, &ec):
		code = ec.Code
	case errors.As(err, &ee):
		code = ee.Code
	}
	fmt.Fprintf(g.stderr, "%s %s\n", g.paint(colorError, "unbox:"), err)
	return code
}

// globals are the global flags and the app's streams.
type globals struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	opts           engine.Options
	eng            *engine.Engine
}

// engine opens the engine, once per command.
func (g *globals) engine() (*engine.Engine, error) {
	if g.eng != nil {
		return g.eng, nil
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("unbox needs root (rootless containers are not supported): run it with sudo, or `go run -exec sudo ./capstone/cmd/unbox ...`")
	}
	e, err := engine.Open(g.opts)
	if err != nil {
		return nil, err
	}
	g.eng = e
	return e, nil
}

func init() {
	// -h is --hostname, as in Docker: help is --help alone.
	cli.HelpFlag = &cli.BoolFlag{Name: "help", Usage: "show help"}
}

func newApp(g *globals) *cli.App {
	app := &cli.App{
		Name:  "unbox",
		Usage: "a container engine with Docker's commands, no daemon, built from the unbox lessons",
		Description: "Containers run from images in an OCI image layout under --root; the built-in image unbox/busybox\n" +
			"is made on first use, without a network. Each container is started through an OCI runtime\n" +
			"(--runtime: unbox-runtime, built in, or runc or any runc-compatible binary).",
		Version:                   version,
		Reader:                    g.stdin,
		Writer:                    g.stdout,
		ErrWriter:                 g.stderr,
		HideHelpCommand:           true,
		EnableBashCompletion:      true,
		UseShortOptionHandling:    true,
		DisableSliceFlagSeparator: true,
		Suggest:                   true,
		// Errors are printed once, by run, with the exit status they get.
		ExitErrHandler: func(*cli.Context, error) {},
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "root", Value: engine.DefaultRoot, EnvVars: []string{"UNBOX_ROOT"}, Usage: "where images, volumes and containers are kept (Docker's --data-root)"},
			&cli.StringFlag{Name: "state", Value: engine.DefaultState, EnvVars: []string{"UNBOX_STATE"}, Usage: "where the monitors' and runtimes' state is kept (a tmpfs)"},
			&cli.StringFlag{Name: "runtime", Value: engine.BuiltinRuntime, EnvVars: []string{"UNBOX_RUNTIME"}, Usage: "the default OCI runtime: " + engine.BuiltinRuntime + " (built in), a name in PATH (runc, crun), or a path"},
			&cli.StringFlag{Name: "cgroup-parent", Value: engine.DefaultCgroupParent, Usage: "the cgroup containers' cgroups go under"},
			configFlag(),
		},
		Before: func(c *cli.Context) error {
			g.opts = engine.Options{Root: c.String("root"), State: c.String("state"), Runtime: c.String("runtime"), CgroupParent: c.String("cgroup-parent")}
			return nil
		},
		Commands: append([]*cli.Command{
			runCommand(g), createCommand(g), startCommand(g), stopCommand(g), restartCommand(g), killCommand(g),
			rmCommand(g), psCommand(g), logsCommand(g), execCommand(g), inspectCommand(g), topCommand(g),
			statsCommand(g), pauseCommand(g), unpauseCommand(g), updateCommand(g), diffCommand(g), attachCommand(g), commitCommand(g), buildCommand(g), composeCommand(g), exportCommand(g), cpCommand(g), waitCommand(g),
			imagesCommand(g), rmiCommand(g), tagCommand(g), historyCommand(g), imageCommand(g), containerCommand(g),
			volumeCommand(g), networkCommand(g), portCommand(g), healthcheckCommand(g), systemCommand(g), infoCommand(g), versionCommand(g), doctorCommand(g),
			completionCommand(g),
		}, registryCommands(g)...),
		CommandNotFound: func(c *cli.Context, name string) {
			fmt.Fprintf(g.stderr, "unbox: '%s' is not an unbox command (see 'unbox --help')\n", name)
		},
	}
	return app
}

// usageError is a command used wrongly: its message says how to use it.
func usageError(c *cli.Context, format string, a ...any) error {
	return fmt.Errorf("%q %s\nSee 'unbox %s --help'.\n\nUsage:  unbox %s %s", c.Command.Name, fmt.Sprintf(format, a...),
		c.Command.Name, c.Command.Name, strings.TrimSpace(c.Command.ArgsUsage))
}

// needArgs checks a command has at least n arguments.
func needArgs(c *cli.Context, n int) error {
	if c.NArg() < n {
		if n == 1 {
			return usageError(c, "requires at least 1 argument.")
		}
		return usageError(c, "requires at least %d arguments.", n)
	}
	return nil
}

// exactArgs checks a command has n arguments.
func exactArgs(c *cli.Context, n int) error {
	if c.NArg() != n {
		return usageError(c, "requires exactly %d argument(s).", n)
	}
	return nil
}

// eachArg runs fn for every argument, as `docker rm a b c` does: each
// success prints the argument, each failure is printed, and the command
// fails if any did.
func (g *globals) eachArg(c *cli.Context, fn func(arg string) error) error {
	var failed int
	for _, a := range c.Args().Slice() {
		if err := fn(a); err != nil {
			fmt.Fprintf(g.stderr, "%s %s\n", g.paint(colorError, "unbox:"), err)
			failed++
			continue
		}
		fmt.Fprintln(g.stdout, a)
	}
	if failed > 0 {
		return errSilent
	}
	return nil
}

// errSilent fails a command whose errors were printed already.
var errSilent = &silentError{}

type silentError struct{}

func (*silentError) Error() string { return "" }

// printErr prints one error of a command that goes on.
func (g *globals) printErr(err error) {
	fmt.Fprintf(g.stderr, "%s %s\n", g.paint(colorError, "unbox:"), err)
}

// eachArgAction is the Action of a command that does fn to each of its
// arguments (one at least), the engine opened once: each argument is
// printed when done, its error shown when not (eachArg).
func (g *globals) eachArgAction(fn func(c *cli.Context, e *engine.Engine, arg string) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		if err := needArgs(c, 1); err != nil {
			return err
		}
		e, err := g.engine()
		if err != nil {
			return err
		}
		return g.eachArg(c, func(arg string) error { return fn(c, e, arg) })
	}
}
