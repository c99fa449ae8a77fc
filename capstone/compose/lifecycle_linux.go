package compose

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/unboxlab/unbox/capstone/engine"
)

// waitDeps waits for what s depends on, as each dependency's condition
// says: started (up started it already), healthy (its healthcheck
// passes), or completed successfully (it exited 0).
func (c *Compose) waitDeps(ctx context.Context, s types.ServiceConfig) error {
	for _, name := range slices.Sorted(mapKeys(s.DependsOn)) {
		dep := c.P.Services[name]
		ctr := ContainerName(c.P, dep, 1)
		switch cond := s.DependsOn[name].Condition; cond {
		case "", types.ServiceConditionStarted:
		case types.ServiceConditionHealthy:
			if err := c.waitHealthy(ctx, dep, ctr); err != nil {
				return fmt.Errorf("dependency failed to start: %w", err)
			}
		case types.ServiceConditionCompletedSuccessfully:
			code, err := c.E.Wait(ctx, ctr)
			if err != nil {
				return err
			}
			if code != 0 {
				return fmt.Errorf("service %q didn't complete successfully: exit %d", name, code)
			}
			c.progress("Container", ctr, "Exited")
		default:
			return fmt.Errorf("service %q: depends_on %s: unknown condition %q", s.Name, name, cond)
		}
	}
	return nil
}

// waitHealthy waits until the container's healthcheck, which its monitor
// runs, has passed: it polls the engine's record (State.Health), as
// Compose polls the daemon's. The container ending first, or its health
// turning unhealthy, is an error that says which.
func (c *Compose) waitHealthy(ctx context.Context, s types.ServiceConfig, ctr string) error {
	c.progress("Container", ctr, "Waiting")
	for {
		x, err := c.E.Lookup(ctr)
		if err != nil {
			return err
		}
		switch {
		case x.Config.Healthcheck == nil || len(x.Config.Healthcheck.Test) == 0 || x.Config.Healthcheck.Test[0] == "NONE":
			return fmt.Errorf("service %q has no healthcheck, so condition service_healthy cannot be met (container %s)", s.Name, ctr)
		case x.State.Status == engine.Exited || x.State.Status == engine.Dead:
			return fmt.Errorf("container %s exited (%d) before it was healthy", ctr, x.State.ExitCode)
		case x.State.Health == nil || x.State.Status != engine.Running:
			// not started yet, or restarting
		case x.State.Health.Status == engine.HealthHealthy:
			c.progress("Container", ctr, "Healthy")
			return nil
		case x.State.Health.Status == engine.HealthUnhealthy:
			return fmt.Errorf("container %s is unhealthy (its healthcheck failed %d times%s)", ctr, x.State.Health.FailingStreak, lastOutput(x.State.Health))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// lastOutput is the last probe's output, for an error: ", last: ...".
func lastOutput(h *engine.Health) string {
	if len(h.Log) == 0 {
		return ""
	}
	out := strings.TrimSpace(h.Log[len(h.Log)-1].Output)
	if out == "" {
		return fmt.Sprintf(", last with exit %d", h.Log[len(h.Log)-1].ExitCode)
	}
	if len(out) > 200 {
		out = out[:200] + "…"
	}
	return fmt.Sprintf(", last with exit %d: %s", h.Log[len(h.Log)-1].ExitCode, out)
}

// Stop stops the services' containers, dependents first.
func (c *Compose) Stop(ctx context.Context, services []string) error {
	ctrs, err := c.Containers(ctx, false, services...)
	if err != nil {
		return err
	}
	slices.Reverse(ctrs)
	for _, ctr := range ctrs {
		if !ctr.State.Running {
			continue
		}
		if _, err := c.E.Stop(ctx, ctr.ID, c.timeoutOf(ctr)); err != nil {
			return err
		}
		c.progress("Container", ctr.Name, "Stopped")
	}
	return nil
}

func (c *Compose) timeoutOf(ctr *engine.Container) time.Duration {
	if s, ok := c.P.Services[ctr.Config.Labels[LabelService]]; ok {
		return stopTimeout(s)
	}
	return 10 * time.Second
}

// Start starts the services' stopped containers, in dependency order.
func (c *Compose) Start(ctx context.Context, services []string) error {
	ctrs, err := c.Containers(ctx, false, services...)
	if err != nil {
		return err
	}
	if len(ctrs) == 0 {
		return errors.New("no containers to start (run `compose up` first)")
	}
	for _, ctr := range ctrs {
		if ctr.State.Running {
			continue
		}
		if err := c.waitDeps(ctx, c.P.Services[ctr.Config.Labels[LabelService]]); err != nil {
			return err
		}
		if err := c.start(ctx, ctr.Name); err != nil {
			return err
		}
	}
	return nil
}

// Restart stops, then starts, the services' containers.
func (c *Compose) Restart(ctx context.Context, services []string) error {
	if err := c.Stop(ctx, services); err != nil {
		return err
	}
	return c.Start(ctx, services)
}

// DownOptions are `compose down`'s.
type DownOptions struct {
	// Volumes removes the project's named volumes and the containers'
	// anonymous ones.
	Volumes bool
}

// Down removes what Up made: the containers (one-off ones too), dependents
// first; the networks; with Volumes, the named volumes the file declares
// (never an external one) and the anonymous ones.
func (c *Compose) Down(ctx context.Context, o DownOptions) error {
	ctrs, err := c.Containers(ctx, true)
	if err != nil {
		return err
	}
	slices.Reverse(ctrs)
	for _, ctr := range ctrs {
		if ctr.State.Running {
			if _, err := c.E.Stop(ctx, ctr.ID, c.timeoutOf(ctr)); err != nil {
				return err
			}
			c.progress("Container", ctr.Name, "Stopped")
		}
		if _, err := c.E.Remove(ctx, ctr.ID, true, o.Volumes); err != nil {
			return err
		}
		c.progress("Container", ctr.Name, "Removed")
	}
	if err := c.removeNetworks(); err != nil {
		return err
	}
	if !o.Volumes {
		return nil
	}
	for _, key := range slices.Sorted(mapKeys(c.P.Volumes)) {
		v := c.P.Volumes[key]
		if v.External {
			continue
		}
		got, err := c.E.Volumes.Get(v.Name)
		if err != nil || got.Labels[LabelProject] != c.P.Name {
			continue // gone, or not this project's
		}
		if err := c.E.Volumes.Remove(v.Name); err != nil {
			return err
		}
		c.progress("Volume", v.Name, "Removed")
	}
	return nil
}

// RunOptions are `compose run`'s.
type RunOptions struct {
	Cmd        []string
	Entrypoint []string
	Env        []string
	NoDeps     bool
	Name       string
	// Pull, if set, is the service's pull_policy (`run --pull`): always,
	// missing, never or build.
	Pull string
}

// RunContainer makes a one-off container of service (`compose run`):
// its dependencies up first unless NoDeps, named PROJECT-SERVICE-run-ID,
// labelled oneoff. The caller starts it attached, and removes it (--rm).
func (c *Compose) RunContainer(ctx context.Context, service string, o RunOptions) (*engine.Container, error) {
	s, ok := c.P.Services[service]
	if !ok {
		return nil, fmt.Errorf("no such service: %s", service)
	}
	// The image first, as Compose's prepareRun: one that cannot be had
	// leaves nothing made.
	if _, err := c.ensureImage(ctx, s, false, o.Pull); err != nil {
		return nil, err
	}
	if !o.NoDeps && len(s.DependsOn) > 0 {
		deps := slices.Sorted(mapKeys(s.DependsOn))
		if err := c.Up(ctx, UpOptions{Services: deps}); err != nil {
			return nil, err
		}
		if err := c.waitDeps(ctx, s); err != nil {
			return nil, err
		}
	} else if err := c.ensureNetworks(ctx); err != nil {
		return nil, err
	}
	if err := c.ensureVolumes(); err != nil {
		return nil, err
	}
	name := o.Name
	if name == "" {
		b := make([]byte, 6)
		rand.Read(b)
		name = fmt.Sprintf("%s-%s-run-%s", c.P.Name, s.Name, hex.EncodeToString(b))
	}
	s.ContainerName = ""
	co, err := c.CreateOptions(s, name, 1, true)
	if err != nil {
		return nil, err
	}
	co.Restart = engine.RestartPolicy{Name: "no"} // a one-off container is not restarted, as in Compose
	if len(o.Cmd) > 0 {
		co.Cmd = o.Cmd
	}
	if o.Entrypoint != nil {
		co.Entrypoint = o.Entrypoint
	}
	co.Env = append(co.Env, o.Env...)
	ctr, err := c.E.Create(ctx, co)
	if err != nil {
		return nil, err
	}
	if err := c.connectMore(ctx, s, ctr.Name, true); err != nil {
		_, rerr := c.E.Remove(ctx, ctr.ID, true, true)
		return nil, errors.Join(err, rerr)
	}
	return ctr, nil
}

// ServiceContainer is the container of service number index (from 1), as
// exec and logs address it.
func (c *Compose) ServiceContainer(ctx context.Context, service string, index int) (*engine.Container, error) {
	s, ok := c.P.Services[service]
	if !ok {
		return nil, fmt.Errorf("no such service: %s", service)
	}
	ctr, err := c.E.Lookup(ContainerName(c.P, s, index))
	if err != nil {
		return nil, fmt.Errorf("service %q is not running (no container %s)", service, ContainerName(c.P, s, index))
	}
	return ctr, nil
}
