package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// errStaleProbe: the container stopped or started again while a probe
// ran; its result is of a run that is over.
var errStaleProbe = errors.New("the probe's run of the container is over")

// errPaused: the container was paused while a probe ran, which froze the
// probe too; its result (a timeout) says nothing of the container's health.
var errPaused = errors.New("the container is paused")

// watchHealth runs the container's healthcheck from this start of its
// process (pid) until stop is called (the process has ended): every
// interval a probe, its result recorded (health.go). Stop cancels a probe
// that runs, which kills its process, and returns once nothing of the
// probes is left.
func (m *monitor) watchHealth(pid int) (stop func()) {
	c, err := m.e.load(m.id)
	if err != nil || !healthEnabled(c.Config.Healthcheck) || c.State.Pid != pid {
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		t, started, status := timingOf(c.Config.Healthcheck), c.State.StartedAt, HealthStarting
		timer := time.NewTimer(t.nextProbe(started, time.Now(), status))
		defer timer.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
			// A paused container runs no probe: its process would be
			// frozen with the container's (Docker's exec is refused too).
			if cur, err := m.e.load(m.id); err == nil && cur.State.Status == Paused {
				timer.Reset(t.nextProbe(started, time.Now(), status))
				continue
			}
			r := m.e.probe(ctx, c)
			if ctx.Err() != nil {
				return
			}
			h, err := m.e.recordHealth(m.id, started, r)
			if errors.Is(err, errPaused) {
				timer.Reset(t.nextProbe(started, time.Now(), status))
				continue
			}
			if err != nil {
				return
			}
			status = h.Status
			timer.Reset(t.nextProbe(started, time.Now(), status))
		}
	}()
	return func() { cancel(); <-done }
}

// probe runs c's healthcheck once, as `unbox exec` runs a command (the
// container's runtime, user, environment, capabilities, the same
// confinement), its output kept, killed at the healthcheck's timeout,
// which is a failure: exit code -1 and Docker's message. A command that
// cannot be run is a failure too, its error the output.
func (e *Engine) probe(ctx context.Context, c *Container) (r HealthResult) {
	t := timingOf(c.Config.Healthcheck)
	r = HealthResult{Start: time.Now().UTC(), ExitCode: -1}
	defer func() { r.End = time.Now().UTC() }()
	code, out, err := e.runProbe(ctx, c, t.Timeout)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		r.Output = fmt.Sprintf("Health check exceeded timeout (%v)", t.Timeout)
	case err != nil:
		r.Output = err.Error()
	default:
		r.ExitCode, r.Output = code, out
	}
	return r
}

// runProbe runs the test for timeout at most, and returns its status and
// output (stdout and stderr together, capped), or, past the timeout,
// context.DeadlineExceeded.
func (e *Engine) runProbe(ctx context.Context, c *Container, timeout time.Duration) (int, string, error) {
	cmd, err := healthCommand(c.Config.Healthcheck.Test, c.Config.Shell)
	if err != nil {
		return 0, "", err
	}
	p, err := e.execProcess(c, ExecOptions{Cmd: cmd})
	if err != nil {
		return 0, "", err
	}
	rt, err := e.runtimeFor(c.HostConfig.Runtime)
	if err != nil {
		return 0, "", err
	}
	null, err := os.Open(os.DevNull)
	if err != nil {
		return 0, "", err
	}
	defer null.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		return 0, "", err
	}
	defer pr.Close()
	var out cappedBuffer
	copied := make(chan struct{})
	go func() { io.Copy(&out, pr); close(copied) }()
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	code, err := rt.Exec(pctx, c.ID, p, ExecIO{Stdin: null, Stdout: pw, Stderr: pw})
	pw.Close()
	// A process the test left in the background may hold the pipe open:
	// its output is not waited for long.
	pr.SetReadDeadline(time.Now().Add(time.Second))
	<-copied
	if pctx.Err() != nil && ctx.Err() == nil {
		return 0, "", context.DeadlineExceeded
	}
	if err != nil {
		return 0, "", err
	}
	return code, out.String(), nil
}

// recordHealth takes a probe's result into the record of the container's
// run that started at startedAt, under the record's lock, and returns the
// health it makes; errStaleProbe if that run is over.
func (e *Engine) recordHealth(id string, startedAt time.Time, r HealthResult) (Health, error) {
	var h Health
	_, err := e.update(id, func(c *Container) error {
		if c.State.Status == Paused && c.State.StartedAt.Equal(startedAt) {
			return errPaused
		}
		if c.State.Status != Running || !c.State.StartedAt.Equal(startedAt) || c.State.Health == nil || !healthEnabled(c.Config.Healthcheck) {
			return errStaleProbe
		}
		c.State.Health.record(timingOf(c.Config.Healthcheck), c.State.StartedAt, r)
		h = *c.State.Health
		return nil
	})
	return h, err
}

// HealthcheckRun runs a running container's healthcheck once now and
// records its result (`unbox healthcheck run`, podman's command). A
// container without a healthcheck, or not running, is an error.
func (e *Engine) HealthcheckRun(ctx context.Context, ref string) (Health, error) {
	c, err := e.Lookup(ref)
	if err != nil {
		return Health{}, err
	}
	if !healthEnabled(c.Config.Healthcheck) {
		return Health{}, fmt.Errorf("container %s has no defined healthcheck", Short(c.ID))
	}
	if err := execable(e, c); err != nil {
		return Health{}, err
	}
	h, err := e.recordHealth(c.ID, c.State.StartedAt, e.probe(ctx, c))
	if errors.Is(err, errStaleProbe) {
		return h, fmt.Errorf("container %s stopped or restarted while its healthcheck ran", Short(c.ID))
	}
	if errors.Is(err, errPaused) {
		return h, fmt.Errorf("container %s was paused while its healthcheck ran", Short(c.ID))
	}
	return h, err
}
