package engine

import (
	"context"
	"errors"
	"fmt"
)

// Pause freezes every process of a running container (`unbox pause`):
// the cgroup freezer of lesson 02 (cgroup.freeze on v2, freezer.state on
// v1), through the runtime's pause. A paused container keeps its memory,
// its PIDs and its ports; it gets no CPU time, its healthcheck is not run,
// and exec into it is refused until unpause.
func (e *Engine) Pause(ctx context.Context, ref string) (*Container, error) {
	return e.freeze(ctx, ref, true)
}

// Unpause thaws a paused container (`unbox unpause`).
func (e *Engine) Unpause(ctx context.Context, ref string) (*Container, error) {
	return e.freeze(ctx, ref, false)
}

func (e *Engine) freeze(ctx context.Context, ref string, pause bool) (*Container, error) {
	c, unlock, err := e.lockRef(ref)
	if err != nil {
		return nil, err
	}
	defer unlock()
	switch {
	case !e.monitorAlive(c.ID) || (c.State.Status != Running && c.State.Status != Paused):
		return nil, fmt.Errorf("container %s is not running", Short(c.ID))
	case pause && c.State.Status == Paused:
		return nil, fmt.Errorf("container %s is already paused", Short(c.ID))
	case !pause && c.State.Status != Paused:
		return nil, fmt.Errorf("container %s is not paused", Short(c.ID))
	}
	rt, err := e.runtimeFor(c.HostConfig.Runtime)
	if err != nil {
		return nil, err
	}
	op, status := rt.Resume, Running
	if pause {
		op, status = rt.Pause, Paused
	}
	if err := op(ctx, c.ID); err != nil {
		return nil, err
	}
	c.State.set(status)
	return c, e.save(c)
}

// thawSignalled resumes a paused container that stop or kill -s KILL has
// just signalled, as Docker does: a frozen process acts on a signal only
// once thawed (on v1 not even on SIGKILL; cgroup-v2.rst lets a fatal one
// through).
func (e *Engine) thawSignalled(ctx context.Context, rt Runtime, id string) {
	c, unlock, err := e.lock(id)
	if err != nil {
		return
	}
	defer unlock()
	if c.State.Status != Paused {
		return
	}
	if err := rt.Resume(ctx, id); err != nil {
		return
	}
	c.State.set(Running)
	e.save(c)
}

// checkLimits refuses the limits Docker refuses, for create and update:
// a memory limit under 6 MB, --cpus with a CFS period or quota.
func checkLimits(memory, nanoCPUs, period, quota int64) error {
	if nanoCPUs > 0 && (period > 0 || quota > 0) {
		return errors.New("conflicting options: --cpus and --cpu-period/--cpu-quota cannot both be set")
	}
	if memory > 0 && memory < 6<<20 {
		return errors.New("minimum memory limit allowed is 6MB")
	}
	return nil
}

// UpdateOptions are `unbox update`'s flags: nil, or zero, leaves a value
// as it is.
type UpdateOptions struct {
	Memory, NanoCPUs, CPUPeriod, CPUQuota, PidsLimit int64
	Restart                                          *RestartPolicy
}

// Update changes a container's limits and restart policy (`unbox update`):
// in its record, for its next starts, and, while it runs, in its cgroup
// now, through the runtime's update (runc update --resources).
func (e *Engine) Update(ctx context.Context, ref string, o UpdateOptions) (*Container, error) {
	if err := checkLimits(o.Memory, o.NanoCPUs, o.CPUPeriod, o.CPUQuota); err != nil {
		return nil, err
	}
	c, unlock, err := e.lockRef(ref)
	if err != nil {
		return nil, err
	}
	defer unlock()
	h := c.HostConfig
	switch {
	case o.NanoCPUs > 0 && (h.CPUPeriod > 0 || h.CPUQuota > 0):
		return nil, errors.New("conflicting options: CPU Quota and Period cannot be updated to --cpus, as they are set already")
	case (o.CPUPeriod > 0 || o.CPUQuota > 0) && h.NanoCPUs > 0:
		return nil, errors.New("conflicting options: CPU Period and Quota cannot be updated, as --cpus is set already")
	case o.Restart != nil && h.AutoRemove && o.Restart.Name != "no":
		return nil, errors.New("restart policy cannot be updated because --rm (AutoRemove) is enabled for the container")
	}
	set := func(dst *int64, v int64) {
		if v != 0 {
			*dst = v
		}
	}
	set(&h.Memory, o.Memory)
	set(&h.NanoCPUs, o.NanoCPUs)
	set(&h.CPUPeriod, o.CPUPeriod)
	set(&h.CPUQuota, o.CPUQuota)
	set(&h.PidsLimit, o.PidsLimit)
	if o.Restart != nil {
		h.RestartPolicy = *o.Restart
	}
	if (c.State.Status == Running || c.State.Status == Paused) && e.monitorAlive(c.ID) {
		rt, err := e.runtimeFor(h.Runtime)
		if err != nil {
			return nil, err
		}
		if err := rt.Update(ctx, c.ID, resources(h)); err != nil {
			return nil, fmt.Errorf("cannot update container %s: %w", Short(c.ID), err)
		}
	}
	c.HostConfig = h
	return c, e.save(c)
}
