//go:build linux

package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strings"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/urfave/cli/v2"

	"github.com/unboxlab/unbox/capstone/engine"
)

// limitFlags are the cgroup limits create, run and update take.
func limitFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "cpus", Usage: "number of CPUs (a CFS quota), e.g. 1.5"},
		&cli.Int64Flag{Name: "cpu-period", Usage: "CFS period in µs"},
		&cli.Int64Flag{Name: "cpu-quota", Usage: "CFS quota in µs"},
		&cli.StringFlag{Name: "memory", Aliases: []string{"m"}, Usage: "memory limit, e.g. 512m"},
		&cli.Int64Flag{Name: "pids-limit", Usage: "tune the container's pids limit (-1 for unlimited)"},
	}
}

// limits reads limitFlags: the memory limit in bytes and --cpus in
// billionths of a CPU (0: not given).
func limits(c *cli.Context) (memory, nanoCPUs int64, err error) {
	if s := c.String("memory"); s != "" {
		if memory, err = engine.ParseBytes(s); err != nil {
			return 0, 0, fmt.Errorf("invalid argument %q for \"-m, --memory\" flag: %w", s, err)
		}
	}
	if s := c.String("cpus"); s != "" {
		if nanoCPUs, err = engine.ParseCPUs(s); err != nil {
			return 0, 0, err
		}
	}
	return memory, nanoCPUs, nil
}

// createFlags are `unbox create`'s flags, which `unbox run` takes too.
func createFlags() []cli.Flag {
	return append(append(pullFlags(), limitFlags()...),
		&cli.BoolFlag{Name: "interactive", Aliases: []string{"i"}, Usage: "keep STDIN open"},
		&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "allocate a pseudo-TTY"},
		&cli.BoolFlag{Name: "rm", Usage: "remove the container (and its anonymous volumes) when it exits"},
		&cli.StringFlag{Name: "name", Usage: "assign a name to the container"},
		&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}, Usage: "set an environment variable (NAME=value, or NAME to take it from here)"},
		&cli.StringSliceFlag{Name: "env-file", Usage: "read environment variables from a file"},
		&cli.StringFlag{Name: "workdir", Aliases: []string{"w"}, Usage: "working directory inside the container"},
		&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "user NAME|UID[:GROUP|GID]"},
		&cli.StringFlag{Name: "hostname", Aliases: []string{"h"}, Usage: "container host name"},
		&cli.StringSliceFlag{Name: "volume", Aliases: []string{"v"}, Usage: "bind mount a volume: /host:/ctr[:ro], NAME:/ctr, or /ctr (anonymous)"},
		&cli.StringSliceFlag{Name: "tmpfs", Usage: "mount a tmpfs: /ctr[:size=64m,mode=755,...]"},
		&cli.BoolFlag{Name: "init", Usage: "run a small init inside the container that reaps processes and forwards signals"},
		&cli.StringFlag{Name: "restart", Value: "no", Usage: "restart policy: no, on-failure[:max-retries], always, unless-stopped"},
		&cli.StringFlag{Name: "entrypoint", Usage: "overwrite the image's entrypoint (\"\" for none)"},
		&cli.BoolFlag{Name: "read-only", Usage: "mount the container's root filesystem read-only"},
		&cli.StringSliceFlag{Name: "cap-add", Usage: "add a Linux capability (or ALL)"},
		&cli.StringSliceFlag{Name: "cap-drop", Usage: "drop a Linux capability (or ALL)"},
		&cli.BoolFlag{Name: "privileged", Usage: "give extended privileges: every capability, no masked paths, /sys writable"},
		&cli.StringFlag{Name: "runtime", Usage: "OCI runtime for this container (" + engine.BuiltinRuntime + ", runc, a path)"},
		&cli.StringSliceFlag{Name: "label", Aliases: []string{"l"}, Usage: "set metadata: KEY=value"},
		&cli.StringFlag{Name: "network", Aliases: []string{"net"}, Usage: "connect the container to a network: " + engine.DefaultNetwork + " (the default), a network's name, none, host, or container:NAME"},
		&cli.StringSliceFlag{Name: "network-alias", Usage: "add a name the container answers to on its user-defined network"},
		&cli.StringFlag{Name: "ip", Usage: "the container's IPv4 address on its user-defined network"},
		&cli.StringSliceFlag{Name: "publish", Aliases: []string{"p"}, Usage: "publish a container's port on the host: [IP:][HOST_PORT[-END]:]CONTAINER_PORT[-END][/tcp|udp]"},
		&cli.BoolFlag{Name: "publish-all", Aliases: []string{"P"}, Usage: "publish every exposed port on a random host port"},
		&cli.StringSliceFlag{Name: "expose", Usage: "expose a port (PORT[/tcp|udp]) without publishing it"},
		&cli.StringSliceFlag{Name: "dns", Usage: "set a DNS server (IP; IP:PORT on a user-defined network, whose responder forwards to it)"},
		&cli.StringSliceFlag{Name: "dns-search", Usage: "set a DNS search domain (\".\" for none)"},
		&cli.StringSliceFlag{Name: "dns-option", Usage: "set a resolv.conf option (ndots:2, ...)"},
		&cli.StringSliceFlag{Name: "security-opt", Usage: "security options: seccomp=unconfined, seccomp=PROFILE.json, no-new-privileges"},
		&cli.StringSliceFlag{Name: "add-host", Usage: "add a line to /etc/hosts: HOST:IP (IP may be " + engine.HostGateway + ")"},
		&cli.StringFlag{Name: "stop-signal", Usage: "signal to stop the container (SIGTERM by default)"},
		&cli.StringFlag{Name: "health-cmd", Usage: "command to run to check health (through /bin/sh -c)"},
		&cli.DurationFlag{Name: "health-interval", Usage: "time between running the check (ms|s|m|h) (default 30s)"},
		&cli.DurationFlag{Name: "health-timeout", Usage: "maximum time to allow one check to run (ms|s|m|h) (default 30s)"},
		&cli.IntFlag{Name: "health-retries", Usage: "consecutive failures needed to report unhealthy (default 3)"},
		&cli.DurationFlag{Name: "health-start-period", Usage: "start period for the container to initialize before starting health-retries countdown (ms|s|m|h)"},
		&cli.DurationFlag{Name: "health-start-interval", Usage: "time between running the check during the start period (ms|s|m|h) (default 5s)"},
		&cli.BoolFlag{Name: "no-healthcheck", Usage: "disable any container-specified HEALTHCHECK"},
	)
}

// healthcheckOptions reads the --health-* flags as Docker's CLI does: none
// keeps the image's healthcheck (nil); --no-healthcheck is Test ["NONE"],
// and conflicts with the others; --health-cmd is CMD-SHELL; the other
// fields, when given, replace the image's one by one.
func healthcheckOptions(c *cli.Context) (*dockerspec.HealthcheckConfig, error) {
	h := &dockerspec.HealthcheckConfig{
		Interval: c.Duration("health-interval"), Timeout: c.Duration("health-timeout"), Retries: c.Int("health-retries"),
		StartPeriod: c.Duration("health-start-period"), StartInterval: c.Duration("health-start-interval"),
	}
	cmd := c.String("health-cmd")
	given := cmd != "" || h.Interval != 0 || h.Timeout != 0 || h.Retries != 0 || h.StartPeriod != 0 || h.StartInterval != 0
	if c.Bool("no-healthcheck") {
		if given {
			return nil, errors.New("--no-healthcheck conflicts with --health-* options")
		}
		return &dockerspec.HealthcheckConfig{Test: []string{"NONE"}}, nil
	}
	if !given {
		return nil, nil
	}
	for _, f := range []struct {
		name string
		neg  bool
	}{{"interval", h.Interval < 0}, {"timeout", h.Timeout < 0}, {"retries", h.Retries < 0}, {"start-period", h.StartPeriod < 0}, {"start-interval", h.StartInterval < 0}} {
		if f.neg {
			return nil, fmt.Errorf("--health-%s cannot be negative", f.name)
		}
	}
	if cmd != "" {
		h.Test = []string{"CMD-SHELL", cmd}
	}
	return h, nil
}

// createOptions reads the flags and arguments (IMAGE [COMMAND [ARG...]])
// of create and run. Everything that can be checked without the engine
// is checked here; a bad flag is exit status 125 with nothing made.
func createOptions(c *cli.Context) (engine.CreateOptions, error) {
	o := engine.CreateOptions{
		Name: c.String("name"), Image: c.Args().First(), Cmd: c.Args().Tail(),
		WorkingDir: c.String("workdir"), User: c.String("user"), Hostname: c.String("hostname"),
		Tty: c.Bool("tty"), OpenStdin: c.Bool("interactive"), Volumes: c.StringSlice("volume"), Tmpfs: c.StringSlice("tmpfs"),
		CPUPeriod: c.Int64("cpu-period"), CPUQuota: c.Int64("cpu-quota"), PidsLimit: c.Int64("pids-limit"),
		AutoRemove: c.Bool("rm"), Init: c.Bool("init"), ReadOnly: c.Bool("read-only"),
		CapAdd: c.StringSlice("cap-add"), CapDrop: c.StringSlice("cap-drop"), Privileged: c.Bool("privileged"),
		Runtime: c.String("runtime"), Network: c.String("network"), StopSignal: c.String("stop-signal"),
		Aliases: c.StringSlice("network-alias"), IP: c.String("ip"),
		Publish: c.StringSlice("publish"), PublishAll: c.Bool("publish-all"), Expose: c.StringSlice("expose"),
		DNS: c.StringSlice("dns"), DNSSearch: c.StringSlice("dns-search"), DNSOptions: c.StringSlice("dns-option"),
		ExtraHosts: c.StringSlice("add-host"), SecurityOpt: c.StringSlice("security-opt"),
	}
	if c.IsSet("entrypoint") {
		o.Entrypoint = []string{c.String("entrypoint")}
	}
	var err error
	if o.Memory, o.NanoCPUs, err = limits(c); err != nil {
		return o, err
	}
	if o.Restart, err = engine.ParseRestartPolicy(c.String("restart")); err != nil {
		return o, err
	}
	if o.Healthcheck, err = healthcheckOptions(c); err != nil {
		return o, err
	}
	for _, f := range c.StringSlice("env-file") {
		env, err := readEnvFile(f)
		if err != nil {
			return o, err
		}
		o.Env = append(o.Env, env...)
	}
	o.Env = append(o.Env, c.StringSlice("env")...)
	for _, kv := range o.Env {
		if strings.HasPrefix(kv, "=") || kv == "" {
			return o, fmt.Errorf("invalid environment variable: %q", kv)
		}
	}
	for _, l := range c.StringSlice("label") {
		k, v, _ := strings.Cut(l, "=")
		if k == "" {
			return o, fmt.Errorf("invalid label %q: want KEY=value", l)
		}
		if o.Labels == nil {
			o.Labels = map[string]string{}
		}
		o.Labels[k] = v
	}
	return o, nil
}

// readEnvFile reads a file of environment variables as Docker's
// --env-file does: one NAME=value or NAME per line, # comments and blank
// lines skipped, leading white space of a name trimmed.
func readEnvFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--env-file: %w", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimLeft(sc.Text(), " \t")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if k, _, _ := strings.Cut(line, "="); strings.ContainsAny(k, " \t") || k == "" {
			return nil, fmt.Errorf("--env-file %s, line %d: variable %q contains white space", path, n, k)
		}
		out = append(out, line)
	}
	return out, sc.Err()
}
