package engine

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ExecOptions are `unbox exec`'s flags.
type ExecOptions struct {
	Cmd        []string
	Env        []string
	WorkingDir string
	User       string
	Tty        bool
	Privileged bool
	// Stdin, Stdout and Stderr are the process's stdio (nil is /dev/null).
	Stdin, Stdout, Stderr *os.File
	// Console gets the terminal's master, with Tty.
	Console func(master *os.File)
}

// Exec runs a process in a running container (`unbox exec`), through the
// container's runtime, and returns its exit status: the process's, or
// 126 or 127 if it could not be started.
func (e *Engine) Exec(ctx context.Context, ref string, o ExecOptions) (int, error) {
	c, err := e.Lookup(ref)
	if err != nil {
		return 0, err
	}
	if err := execable(e, c); err != nil {
		return 0, err
	}
	if len(o.Cmd) == 0 {
		return 0, fmt.Errorf("no command given to exec")
	}
	p, err := e.execProcess(c, o)
	if err != nil {
		return 0, err
	}
	rt, err := e.runtimeFor(c.HostConfig.Runtime)
	if err != nil {
		return 0, err
	}
	return rt.Exec(ctx, c.ID, p, ExecIO{Stdin: o.Stdin, Stdout: o.Stdout, Stderr: o.Stderr, Console: o.Console})
}

// execable says why a process cannot be run in c now, if it cannot: a
// container that is not running, or is paused (the process would join its
// frozen cgroup and freeze: Docker refuses it too).
func execable(e *Engine, c *Container) error {
	if !e.monitorAlive(c.ID) || (c.State.Status != Running && c.State.Status != Paused) {
		return fmt.Errorf("container %s is not running", Short(c.ID))
	}
	if c.State.Status == Paused {
		return fmt.Errorf("container %s is paused, unpause the container before exec", Short(c.ID))
	}
	return nil
}

// execProcess is the exec'd process as the runtime takes it
// (runc exec --process): the container's environment with -e on top, its
// working directory and user unless -w or -u say otherwise, its
// capabilities (all of them with --privileged).
func (e *Engine) execProcess(c *Container, o ExecOptions) (*specs.Process, error) {
	userSpec := c.Config.User
	if o.User != "" {
		userSpec = o.User
	}
	user, err := resolveUser(e.rootfs(c.ID), userSpec)
	if err != nil {
		return nil, err
	}
	h := c.HostConfig
	h.Privileged = h.Privileged || o.Privileged
	caps, err := capabilities(h)
	if err != nil {
		return nil, err
	}
	env := containerEnv(c)
	for _, kv := range mergeEnv(nil, o.Env) {
		k, _, _ := strings.Cut(kv, "=")
		env = slices.DeleteFunc(env, func(x string) bool { return strings.HasPrefix(x, k+"=") })
		env = append(env, kv)
	}
	if o.Tty && !slices.ContainsFunc(env, func(x string) bool { return strings.HasPrefix(x, "TERM=") }) {
		env = append(env, "TERM=xterm")
	}
	cwd := c.Config.WorkingDir
	if o.WorkingDir != "" {
		cwd = o.WorkingDir
	}
	if cwd == "" {
		cwd = "/"
	}
	return &specs.Process{
		Terminal: o.Tty, User: user, Args: o.Cmd, Env: env, Cwd: cwd,
		Capabilities: &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps},
	}, nil
}
