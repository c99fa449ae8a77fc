package container

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/cgroups"
)

// Kill sends sig to the container's init, or with all to every process in
// its cgroup. A stopped container is ErrNotRun (runc's "container not
// running", which containerd's shim takes for "already gone"), except with
// all: its init is gone, but where it shared a PID namespace (a pod's),
// what it started may not be, and containerd's shim asks `kill --all` to
// end those once the init has exited (runc does the same: signal what is
// left in the cgroup; nothing left is no error).
func (c *Container) Kill(sig unix.Signal, all bool) error {
	switch c.Status() {
	case Stopped:
		if !all || c.rec.Config == nil {
			return ErrNotRun
		}
	case Creating:
		return fmt.Errorf("cannot kill container %s while it is being created", c.ID)
	}
	if all {
		mgr, _, err := c.manager()
		if err != nil {
			return err
		}
		pids, err := c.processes(mgr)
		if err != nil {
			return err
		}
		for _, pid := range pids {
			if err := unix.Kill(pid, sig); err != nil && !errors.Is(err, unix.ESRCH) {
				return fmt.Errorf("kill -%d %d: %w", sig, pid, err)
			}
		}
		return nil
	}
	if err := unix.Kill(c.rec.InitPid, sig); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return ErrNotRun
		}
		return fmt.Errorf("kill -%d %d: %w", sig, c.rec.InitPid, err)
	}
	return nil
}

// Delete removes the container: its processes (a created container's
// waiting init, or with force a running one), its cgroup, its state. The
// poststop hooks run last; one that fails comes back as a *HookWarning,
// with the container deleted all the same.
func (c *Container) Delete(force bool) error {
	unlock, err := c.locked()
	if err != nil {
		return err
	}
	defer unlock()
	status := c.Status()
	switch status {
	case Running, Paused, Creating:
		if !force {
			return fmt.Errorf("cannot delete container %s that is not stopped: %s", c.ID, status)
		}
	}
	var errs []error
	if status == Paused {
		// A frozen process dies of SIGKILL only once thawed.
		if mgr, _, err := c.manager(); err == nil {
			_ = mgr.Thaw()
		}
	}
	if status != Stopped && c.rec.InitPid > 0 {
		if err := c.killInit(); err != nil {
			errs = append(errs, err)
		}
	}
	if cfg := c.rec.Config; cfg != nil {
		if err := destroyCgroup(cfg.Cgroup); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		// Keep the state: the next delete finds what is left.
		return errors.Join(errs...)
	}
	var warn error
	if cfg := c.rec.Config; cfg != nil && len(cfg.Hooks.Poststop) > 0 {
		st := c.State()
		st.Status = Stopped
		if err := runHooks(context.Background(), "poststop", cfg.Hooks.Poststop, st); err != nil {
			warn = &HookWarning{Err: err}
		}
	}
	if err := os.RemoveAll(c.dir); err != nil {
		return fmt.Errorf("remove %s: %w", c.dir, err)
	}
	return warn
}

// killInit sends SIGKILL to the init and waits until it is gone or a
// zombie (its parent, not us, reaps it). With the init of a PID namespace
// go all the namespace's processes (pid_namespaces(7)).
func (c *Container) killInit() error {
	pid := c.rec.InitPid
	if !alive(pid, c.rec.InitStart) {
		return nil
	}
	if err := unix.Kill(pid, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("kill -KILL %d: %w", pid, err)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if !alive(pid, c.rec.InitStart) {
			return nil
		}
	}
	return fmt.Errorf("the container's init %d is still there 10s after SIGKILL", pid)
}

// Pause freezes every process of the container (its cgroup).
func (c *Container) Pause() error {
	return c.freeze(Running, "container not running", cgroups.Manager.Freeze)
}

// Resume thaws a paused container.
func (c *Container) Resume() error {
	return c.freeze(Paused, "container not paused", cgroups.Manager.Thaw)
}

func (c *Container) freeze(want Status, notWant string, op func(cgroups.Manager) error) error {
	unlock, err := c.locked()
	if err != nil {
		return err
	}
	defer unlock()
	if c.Status() != want {
		return errors.New(notWant)
	}
	mgr, _, err := c.manager()
	if err != nil {
		return err
	}
	return op(mgr)
}

// Update changes the container's limits (`update`); zero fields stay.
func (c *Container) Update(r cgroups.Resources) error {
	unlock, err := c.locked()
	if err != nil {
		return err
	}
	defer unlock()
	if c.Status() == Stopped {
		return ErrNotRun
	}
	if err := r.Validate(); err != nil {
		return err
	}
	// The device rules stay as they were made, as runc's update leaves
	// them: rewriting a v1 list denies every device for a moment.
	r.Devices = nil
	cfg := c.rec.Config
	next := cfg.Cgroup.Resources
	merge(&next, r)
	// The controllers were chosen at create; a cpuset asked for now that
	// was not then needs the cpuset controller the cgroup lacks.
	if (r.CpusetCPUs != "" || r.CpusetMems != "") && cfg.Cgroup.Resources.CpusetCPUs == "" && cfg.Cgroup.Resources.CpusetMems == "" {
		return errors.New("update --cpuset-*: the container was created without a cpuset, so its cgroup has no cpuset controller")
	}
	mgr, _, err := c.manager()
	if err != nil {
		return err
	}
	if err := mgr.Set(r); err != nil {
		return err
	}
	cfg.Cgroup.Resources = next
	return c.save()
}

// merge sets in dst the fields of src that are set.
func merge(dst *cgroups.Resources, src cgroups.Resources) {
	set := func(d *int64, s int64) {
		if s != 0 {
			*d = s
		}
	}
	setU := func(d *uint64, s uint64) {
		if s != 0 {
			*d = s
		}
	}
	set(&dst.CPUQuota, src.CPUQuota)
	setU(&dst.CPUPeriod, src.CPUPeriod)
	setU(&dst.CPUShares, src.CPUShares)
	setU(&dst.CPUWeight, src.CPUWeight)
	set(&dst.Memory, src.Memory)
	set(&dst.MemoryReservation, src.MemoryReservation)
	set(&dst.MemorySwap, src.MemorySwap)
	set(&dst.PidsLimit, src.PidsLimit)
	if src.CpusetCPUs != "" {
		dst.CpusetCPUs = src.CpusetCPUs
	}
	if src.CpusetMems != "" {
		dst.CpusetMems = src.CpusetMems
	}
}

// Processes lists the PIDs (as the host numbers them) of every process in
// the container's cgroup and below it.
func (c *Container) Processes() ([]int, error) {
	mgr, _, err := c.manager()
	if err != nil {
		return nil, err
	}
	return c.processes(mgr)
}

func (c *Container) processes(mgr cgroups.Manager) ([]int, error) {
	var pids []int
	seen := map[int]bool{}
	for _, dir := range mgr.Dirs() {
		err := walkProcs(dir, func(pid int) {
			if !seen[pid] {
				seen[pid] = true
				pids = append(pids, pid)
			}
		})
		if err != nil {
			return nil, err
		}
	}
	return pids, nil
}

// walkProcs reads cgroup.procs in dir and the cgroups below it.
func walkProcs(dir string, fn func(int)) error {
	b, err := os.ReadFile(dir + "/cgroup.procs")
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil {
			fn(pid)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.IsDir() {
			if err := walkProcs(dir+"/"+e.Name(), fn); err != nil {
				return err
			}
		}
	}
	return nil
}

// Stats reads the container's cgroup counters.
func (c *Container) Stats() (cgroups.Stats, error) {
	mgr, _, err := c.manager()
	if err != nil {
		return cgroups.Stats{}, err
	}
	return mgr.Stats()
}
