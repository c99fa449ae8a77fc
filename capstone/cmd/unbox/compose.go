//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/unboxlab/unbox/capstone/compose"
	"github.com/unboxlab/unbox/capstone/engine"
	"github.com/unboxlab/unbox/capstone/image"
)

// composeCommand is `unbox compose`: Docker Compose's commands on the
// engine (capstone/compose). Its subcommands are in compose_*.go.
func composeCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:  "compose",
		Usage: "run a multi-container application from a Compose file",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "file", Aliases: []string{"f"}, Usage: "Compose file (default: compose.yaml, docker-compose.yml ... here or above)"},
			&cli.StringFlag{Name: "project-name", Aliases: []string{"p"}, Usage: "project name (default: the file's name:, else its directory's)"},
			&cli.StringFlag{Name: "project-directory", Usage: "working directory (default: the first file's)"},
		},
		Subcommands: []*cli.Command{
			composeUpCommand(g), composeDownCommand(g), composePsCommand(g), composeLogsCommand(g),
			composeLifecycleCommand(g, "start", "start the services' stopped containers"),
			composeLifecycleCommand(g, "stop", "stop the services' containers"),
			composeLifecycleCommand(g, "restart", "restart the services' containers"),
			composeConfigCommand(g), composePullCommand(g), composeBuildCommand(g), composeRunCommand(g), composeExecCommand(g),
		},
	}
}

// project loads the Compose file the flags name, prints its warnings, and
// returns the project on the engine.
func (g *globals) project(c *cli.Context) (*compose.Compose, error) {
	top := c.Lineage()
	var files []string
	var name, dir string
	for _, ctx := range top {
		if ctx.Command != nil && ctx.Command.Name == "compose" {
			files, name, dir = ctx.StringSlice("file"), ctx.String("project-name"), ctx.String("project-directory")
		}
	}
	e, err := g.engine()
	if err != nil {
		return nil, err
	}
	p, err := compose.Load(c.Context, compose.LoadOptions{Files: files, Project: name, WorkDir: dir, Env: os.Environ()})
	if err != nil {
		return nil, err
	}
	for _, w := range compose.Warnings(p) {
		fmt.Fprintf(g.stderr, "WARNING: %s\n", w)
	}
	cp := compose.New(e, p, g.stderr)
	cp.BuildOut = g.stdout
	cp.Remote = func() (image.RemoteOptions, error) { return remoteOptions(c) }
	return cp, nil
}

// onProject is a compose command's action: the project loaded, then fn.
func (g *globals) onProject(fn func(c *cli.Context, cp *compose.Compose) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		cp, err := g.project(c)
		if err != nil {
			return err
		}
		return fn(c, cp)
	}
}

func composeUpCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name: "up", Usage: "create and start the services' containers", ArgsUsage: "[SERVICE...]",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "run the containers in the background"},
			&cli.BoolFlag{Name: "build", Usage: "build the images before starting the containers"},
			&cli.StringFlag{Name: "pull", Value: "policy", Usage: `pull the images before starting the containers: "always", "missing", "never", "build", or each service's pull_policy ("policy")`},
		},
		Action: g.onProject(func(c *cli.Context, cp *compose.Compose) error {
			if err := cp.Up(c.Context, compose.UpOptions{Services: c.Args().Slice(), Build: c.Bool("build"), Pull: c.String("pull")}); err != nil {
				return err
			}
			if c.Bool("detach") {
				return nil
			}
			// Attached: the services' output, prefixed, until they end; an
			// interrupt stops them, as Compose does.
			ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
			defer stop()
			c.Context = ctx
			err := g.composeLogs(c, cp, c.Args().Slice(), true, -1)
			if ctx.Err() != nil {
				fmt.Fprintln(g.stderr, "Gracefully stopping... (press Ctrl+C again to force)")
				stop()
				return cp.Stop(context.WithoutCancel(ctx), c.Args().Slice())
			}
			return err
		}),
	}
}

func composeDownCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name: "down", Usage: "stop and remove the containers and networks (and, with -v, the volumes)",
		Flags: []cli.Flag{&cli.BoolFlag{Name: "volumes", Aliases: []string{"v"}, Usage: "remove the named volumes the file declares and the anonymous volumes"}},
		Action: g.onProject(func(c *cli.Context, cp *compose.Compose) error {
			return cp.Down(c.Context, compose.DownOptions{Volumes: c.Bool("volumes")})
		}),
	}
}

func composePsCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name: "ps", Usage: "list the project's containers", ArgsUsage: "[SERVICE...]",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "show stopped containers too"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "only show IDs"},
		},
		Action: g.onProject(func(c *cli.Context, cp *compose.Compose) error {
			ctrs, err := cp.Containers(c.Context, false, c.Args().Slice()...)
			if err != nil {
				return err
			}
			now := time.Now()
			var rows [][]string
			for _, ctr := range ctrs {
				if !c.Bool("all") && !ctr.State.Running {
					continue
				}
				if c.Bool("quiet") {
					fmt.Fprintln(g.stdout, ctr.ID)
					continue
				}
				cmd := strconv.Quote(truncate(strings.Join(append([]string{ctr.Path}, ctr.Args...), " "), 20))
				rows = append(rows, []string{ctr.Name, ctr.Config.Labels[compose.LabelImage], cmd, ctr.Config.Labels[compose.LabelService],
					engine.Ago(ctr.Created, now), ctr.State.Describe(now), engine.PortsColumn(ctr.NetworkSettings)})
			}
			if !c.Bool("quiet") {
				table(g.stdout, []string{"NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS"}, rows)
			}
			return nil
		}),
	}
}

func composeLogsCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name: "logs", Usage: "show the services' output", ArgsUsage: "[SERVICE...]",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "follow the output"},
			&cli.StringFlag{Name: "tail", Aliases: []string{"n"}, Value: "all", Usage: "lines from the end of each log"},
		},
		Action: g.onProject(func(c *cli.Context, cp *compose.Compose) error {
			tail := -1
			if t := c.String("tail"); t != "all" {
				var err error
				if tail, err = strconv.Atoi(t); err != nil {
					return fmt.Errorf("invalid --tail %q", t)
				}
			}
			return g.composeLogs(c, cp, c.Args().Slice(), c.Bool("follow"), tail)
		}),
	}
}

// composeLogs writes the services' logs, each line prefixed with its
// container's name, as Compose does ("shop-web-1  | ...").
func (g *globals) composeLogs(c *cli.Context, cp *compose.Compose, services []string, follow bool, tail int) error {
	ctrs, err := cp.Containers(c.Context, false, services...)
	if err != nil {
		return err
	}
	width := 0
	for _, ctr := range ctrs {
		width = max(width, len(ctr.Name))
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make([]error, len(ctrs))
	for i, ctr := range ctrs {
		prefix := fmt.Sprintf("%-*s  | ", width, ctr.Name)
		out := &prefixWriter{w: g.stdout, mu: &mu, prefix: prefix}
		errw := &prefixWriter{w: g.stderr, mu: &mu, prefix: prefix}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = cp.E.Logs(c.Context, ctr.ID, engine.LogOptions{Follow: follow, Tail: tail}, out, errw)
			out.flush()
			errw.flush()
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// prefixWriter writes whole lines, each with a prefix, under a lock
// shared with the other containers' writers.
type prefixWriter struct {
	w      io.Writer
	mu     *sync.Mutex
	prefix string
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		p.mu.Lock()
		io.WriteString(p.w, p.prefix)
		p.w.Write(p.buf[:i+1])
		p.mu.Unlock()
		p.buf = p.buf[i+1:]
	}
}

func (p *prefixWriter) flush() {
	if len(p.buf) > 0 {
		p.Write([]byte("\n"))
	}
}

func composeLifecycleCommand(g *globals, name, usage string) *cli.Command {
	return &cli.Command{
		Name: name, Usage: usage, ArgsUsage: "[SERVICE...]",
		Action: g.onProject(func(c *cli.Context, cp *compose.Compose) error {
			switch name {
			case "start":
				return cp.Start(c.Context, c.Args().Slice())
			case "stop":
				return cp.Stop(c.Context, c.Args().Slice())
			}
			return cp.Restart(c.Context, c.Args().Slice())
		}),
	}
}

func composeConfigCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name: "config", Usage: "print the project as loaded: merged, interpolated, normalised",
		Action: g.onProject(func(c *cli.Context, cp *compose.Compose) error {
			b, err := cp.P.MarshalYAML()
			if err != nil {
				return err
			}
			_, err = g.stdout.Write(b)
			return err
		}),
	}
}

func composePullCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name: "pull", Usage: "pull the services' images", ArgsUsage: "[SERVICE...]",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "ignore-pull-failures", Usage: "pull what can be pulled, and ignore the images that fail"},
			&cli.BoolFlag{Name: "ignore-buildable", Usage: "skip the images that can be built"},
			&cli.StringFlag{Name: "policy", Usage: `every service's pull policy: "missing" or "always"`},
		},
		Action: g.onProject(func(c *cli.Context, cp *compose.Compose) error {
			p := c.String("policy")
			if p != "" && p != "missing" && p != "always" {
				return fmt.Errorf(`invalid --policy %q: want "missing" or "always"`, p)
			}
			return cp.Pull(c.Context, compose.PullOptions{Services: c.Args().Slice(), Policy: p,
				IgnoreFailures: c.Bool("ignore-pull-failures"), IgnoreBuildable: c.Bool("ignore-buildable")})
		}),
	}
}

func composeBuildCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name: "build", Usage: "build the services' images", ArgsUsage: "[SERVICE...]",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "no-cache", Usage: "do not use the cache"},
			&cli.BoolFlag{Name: "pull", Usage: "always attempt to pull a newer version of the FROM images"},
		},
		Action: g.onProject(func(c *cli.Context, cp *compose.Compose) error {
			return cp.Build(c.Context, compose.BuildOptions{Services: c.Args().Slice(), NoCache: c.Bool("no-cache"), Pull: c.Bool("pull")})
		}),
	}
}

func composeRunCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name: "run", Usage: "run a one-off command in a new container of a service", ArgsUsage: "[OPTIONS] SERVICE [COMMAND] [ARG...]",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "rm", Usage: "remove the container when it exits"},
			&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "run in the background and print the container's ID"},
			&cli.BoolFlag{Name: "no-deps", Usage: "do not start the service's dependencies"},
			&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}, Usage: "set an environment variable"},
			&cli.StringFlag{Name: "entrypoint", Usage: "override the entrypoint"},
			&cli.StringFlag{Name: "name", Usage: "the container's name"},
			&cli.BoolFlag{Name: "interactive", Aliases: []string{"i"}, Usage: "keep STDIN open"},
			&cli.StringFlag{Name: "pull", Value: "policy", Usage: `pull the image before running: "always", "missing", "never", "build", or the service's pull_policy ("policy")`},
		},
		Action: func(c *cli.Context) error {
			if err := needArgs(c, 1); err != nil {
				return err
			}
			cp, err := g.project(c)
			if err != nil {
				return err
			}
			o := compose.RunOptions{Cmd: c.Args().Tail(), Env: c.StringSlice("env"), NoDeps: c.Bool("no-deps"), Name: c.String("name"), Pull: c.String("pull")}
			if c.IsSet("entrypoint") {
				o.Entrypoint = []string{c.String("entrypoint")}
			}
			ctr, err := cp.RunContainer(c.Context, c.Args().First(), o)
			if err != nil {
				return err
			}
			if c.Bool("detach") {
				if _, err := cp.E.Start(c.Context, ctr.ID, engine.StartOptions{}); err != nil {
					return err
				}
				fmt.Fprintln(g.stdout, ctr.ID)
				return nil
			}
			keys, err := detachKeys(c)
			if err != nil {
				return err
			}
			err = g.runAttached(c, ctr.ID, ctr.Config.Tty, c.Bool("interactive"), true, keys)
			if c.Bool("rm") {
				if _, rerr := cp.E.Remove(c.Context, ctr.ID, true, true); rerr != nil && err == nil {
					err = rerr
				}
			}
			return err
		},
	}
}

func composeExecCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name: "exec", Usage: "run a command in a service's running container", ArgsUsage: "[OPTIONS] SERVICE COMMAND [ARG...]",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "no-TTY", Aliases: []string{"T"}, Usage: "no pseudo-TTY (the default here: -t asks for one)"},
			&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "allocate a pseudo-TTY"},
			&cli.BoolFlag{Name: "interactive", Aliases: []string{"i"}, Usage: "keep STDIN open"},
			&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}, Usage: "set an environment variable"},
			&cli.StringFlag{Name: "workdir", Aliases: []string{"w"}, Usage: "working directory inside the container"},
			&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "user NAME|UID[:GROUP|GID]"},
			&cli.IntFlag{Name: "index", Value: 1, Usage: "which of the service's containers"},
		},
		Action: func(c *cli.Context) error {
			if err := needArgs(c, 2); err != nil {
				return err
			}
			cp, err := g.project(c)
			if err != nil {
				return err
			}
			ctr, err := cp.ServiceContainer(c.Context, c.Args().First(), c.Int("index"))
			if err != nil {
				return err
			}
			// `unbox exec` on the service's container, with these flags.
			args := []string{"unbox", "--root", g.opts.Root, "--state", g.opts.State, "--runtime", g.opts.Runtime, "--cgroup-parent", g.opts.CgroupParent, "exec"}
			for _, f := range []string{"tty", "interactive"} {
				if c.Bool(f) {
					args = append(args, "--"+f)
				}
			}
			for _, e := range c.StringSlice("env") {
				args = append(args, "--env", e)
			}
			for _, f := range []string{"workdir", "user"} {
				if c.IsSet(f) {
					args = append(args, "--"+f, c.String(f))
				}
			}
			args = append(append(args, ctr.ID), c.Args().Tail()...)
			return newApp(g).RunContext(c.Context, args)
		},
	}
}
