//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/capstone/container"
	"github.com/unboxlab/unbox/capstone/specconv"
)

func execCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "exec",
		Usage:     "run a new process in a running container",
		ArgsUsage: "ID [COMMAND [ARG...]]  (or --process FILE)",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "process", Aliases: []string{"p"}, Usage: "the process as a runtime-spec process.json (instead of COMMAND and the flags)"},
			&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "give the process a terminal"},
			&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "start it and return"},
			&cli.StringFlag{Name: "pid-file", Usage: "write the process's PID to this file"},
			&cli.StringFlag{Name: "console-socket", Usage: "Unix socket that gets the terminal's master"},
			&cli.StringFlag{Name: "cwd", Usage: "working directory in the container"},
			&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}, Usage: "NAME=value to add to the environment"},
			&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "UID[:GID]"},
			&cli.IntSliceFlag{Name: "additional-gids", Aliases: []string{"g"}, Usage: "additional group IDs"},
			&cli.StringSliceFlag{Name: "cap", Aliases: []string{"c"}, Usage: "a capability to add"},
			&cli.BoolFlag{Name: "no-new-privs", Usage: "set no_new_privs"},
			&cli.IntFlag{Name: "preserve-fds", Usage: "pass descriptors 3 to 3+N-1 to the process"},
			&cli.StringFlag{Name: "process-label", Hidden: true},
			&cli.StringFlag{Name: "apparmor", Hidden: true},
			&cli.BoolFlag{Name: "ignore-paused", Hidden: true},
			&cli.StringFlag{Name: "cgroup", Hidden: true},
		},
		Action: func(c *cli.Context) error {
			ctr, err := g.load(c)
			if err != nil {
				return err
			}
			p, err := execProcess(c, ctr)
			if err != nil {
				return err
			}
			in, out, errw := files(c)
			o := container.ExecOpts{
				Process: p, ConsoleSocket: c.String("console-socket"), PIDFile: c.String("pid-file"),
				PreserveFDs: c.Int("preserve-fds"), Detach: c.Bool("detach"), Stdin: in, Stdout: out, Stderr: errw,
			}
			if o.Detach {
				if _, err := ctr.Exec(c.Context, o); err != nil {
					return fmt.Errorf("exec failed: %w", err)
				}
				return nil
			}
			fg := newForeground()
			defer fg.stop()
			e, err := ctr.Exec(fg.ctx, o)
			if err != nil {
				return fmt.Errorf("exec failed: %w", err)
			}
			restore := func() {}
			if e.Console != nil {
				restore = fg.attach(e.Console, c.App.Reader, c.App.Writer)
			}
			fg.started(func(sig unix.Signal) error { return unix.Kill(e.Pid, sig) })
			ws, err := e.Wait()
			restore()
			if err != nil {
				return fmt.Errorf("exec failed: %w", err)
			}
			return exitStatus(statusOf(ws))
		},
	}
}

// execProcess is the process to exec: --process's file, or the container's
// own process with the command line and flags applied (runc's rules).
func execProcess(c *cli.Context, ctr *container.Container) (container.Process, error) {
	if path := c.String("process"); path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return container.Process{}, fmt.Errorf("--process: %w", err)
		}
		var sp specs.Process
		if err := json.Unmarshal(b, &sp); err != nil {
			return container.Process{}, fmt.Errorf("--process %s: %w", path, err)
		}
		return specconv.Process(&sp)
	}
	cfg := ctr.Config()
	if cfg == nil {
		return container.Process{}, container.ErrNotRun
	}
	p := cfg.Process
	p.Args = c.Args().Tail()
	if len(p.Args) == 0 {
		return p, fmt.Errorf("exec: name the command to run (usage: unbox-runtime exec ID COMMAND [ARG...])")
	}
	p.Terminal = c.Bool("tty")
	p.Env = append(append([]string(nil), p.Env...), c.StringSlice("env")...)
	if cwd := c.String("cwd"); cwd != "" {
		p.Cwd = cwd
	}
	if u := c.String("user"); u != "" {
		uid, gid, err := parseUser(u)
		if err != nil {
			return p, err
		}
		p.UID, p.GID = uid, gid
	}
	if gids := c.IntSlice("additional-gids"); len(gids) > 0 {
		p.AdditionalGids = gids
	}
	if c.Bool("no-new-privs") {
		p.NoNewPrivileges = true
	}
	if adds := c.StringSlice("cap"); len(adds) > 0 {
		caps := container.Caps{}
		if p.Caps != nil {
			caps = *p.Caps
		}
		for _, name := range adds {
			mask, err := specconv.CapMask(name)
			if err != nil {
				return p, err
			}
			caps.Bounding |= mask
			caps.Effective |= mask
			caps.Permitted |= mask
			caps.Inheritable |= mask
			caps.Ambient |= mask
		}
		p.Caps = &caps
	}
	return p, nil
}

// parseUser reads UID[:GID] (numbers only: names would need the
// container's /etc/passwd).
func parseUser(s string) (uid, gid int, err error) {
	u, g, _ := strings.Cut(s, ":")
	if uid, err = strconv.Atoi(u); err != nil {
		return 0, 0, fmt.Errorf("--user %q: want UID[:GID] as numbers", s)
	}
	if g != "" {
		if gid, err = strconv.Atoi(g); err != nil {
			return 0, 0, fmt.Errorf("--user %q: want UID[:GID] as numbers", s)
		}
	}
	return uid, gid, nil
}
