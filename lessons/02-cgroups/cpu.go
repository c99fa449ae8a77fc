//go:build linux

package main

import (
	"context"
	"fmt"
	"time"

	"github.com/unboxlab/unbox/internal/cgroups"
	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/reexec"
)

func init() { reexec.Register("busy", busyChild) }

// cpuLimit is `docker run --cpu-period=100000 --cpu-quota=20000`.
var cpuLimit = cgroups.Resources{CPUPeriod: 100000, CPUQuota: 20000}

// cpus is a bandwidth limit as a number of CPUs: 0.2 for 20000/100000.
func cpus(r cgroups.Resources) float64 { return float64(r.CPUQuota) / float64(r.CPUPeriod) }

// busyChild spins on one thread until the parent says stop.
func busyChild(c *reexec.Conn) error {
	if err := c.Recv(nil); err != nil {
		return err
	}
	go func() {
		//lint:ignore SA5002 spinning is the point: the cgroup's quota is what stops it
		for {
		}
	}()
	if err := c.Send("spinning"); err != nil {
		return err
	}
	return c.Recv(nil)
}

// cpuWindow is the cgroup's CPU counters at both ends of a stretch of time.
type cpuWindow struct {
	Wall          time.Duration
	Before, After cgroups.CPUStats
}

// Used is the CPU time the cgroup used in the window.
func (w cpuWindow) Used() time.Duration {
	return time.Duration(w.After.UsageUsec-w.Before.UsageUsec) * time.Microsecond
}

// Share is the part of one CPU the cgroup used: 1 is a whole CPU.
func (w cpuWindow) Share() float64 { return float64(w.Used()) / float64(w.Wall) }

func (w cpuWindow) Periods() uint64   { return w.After.Periods - w.Before.Periods }
func (w cpuWindow) Throttled() uint64 { return w.After.Throttled - w.Before.Throttled }
func (w cpuWindow) ThrottledTime() time.Duration {
	return time.Duration(w.After.ThrottledUsec-w.Before.ThrottledUsec) * time.Microsecond
}

type cpuReport struct {
	Placement     cgroups.Placement
	Free, Limited cpuWindow
	// Parts are Limited cut into consecutive windows.
	Parts []cpuWindow
}

// cpuDemo runs a busy loop in cg, measures it for free without a limit,
// then sets limit and measures it for limited, in parts windows. at, if not
// nil, is called after each of the two (0 without the limit, 1 with it)
// while the loop runs.
func cpuDemo(ctx context.Context, cg cgroups.Manager, limit cgroups.Resources, free, limited time.Duration, parts int,
	at func(window int, r cpuReport) error) (cpuReport, error) {
	var r cpuReport
	c, err := startIn(ctx, cg, "busy", nil)
	if err != nil {
		return r, err
	}
	defer c.Close()
	r.Placement = c.Placement
	if err := c.Recv(nil); err != nil {
		return r, err
	}
	if r.Free, err = measureCPU(ctx, cg, free); err != nil {
		return r, err
	}
	if at != nil {
		if err := at(0, r); err != nil {
			return r, err
		}
	}
	if err := cg.Set(limit); err != nil {
		return r, err
	}
	for i := 0; i < parts; i++ {
		w, err := measureCPU(ctx, cg, limited/time.Duration(parts))
		if err != nil {
			return r, err
		}
		r.Parts = append(r.Parts, w)
	}
	r.Limited = cpuWindow{Before: r.Parts[0].Before, After: r.Parts[parts-1].After}
	for _, w := range r.Parts {
		r.Limited.Wall += w.Wall
	}
	if at != nil {
		if err := at(1, r); err != nil {
			return r, err
		}
	}
	if err := c.Send(nil); err != nil {
		return r, err
	}
	return r, c.Wait()
}

func measureCPU(ctx context.Context, cg cgroups.Manager, d time.Duration) (cpuWindow, error) {
	var w cpuWindow
	before, err := cg.Stats()
	if err != nil {
		return w, err
	}
	start := time.Now()
	select {
	case <-time.After(d):
	case <-ctx.Done():
		return w, ctx.Err()
	}
	after, err := cg.Stats()
	w.Wall = time.Since(start)
	w.Before, w.After = before.CPU, after.CPU
	return w, err
}

func (l *lessonState) stepCPU(s *kit.Session) error {
	h, err := l.host()
	if err != nil {
		return err
	}
	cg, err := l.leaf(s, "busy")
	if err != nil {
		return err
	}
	usage, throttled := "cpu.stat usage_usec", "throttled_usec"
	if !h.Mode.V2() {
		usage, throttled = "cpuacct.usage", "throttled_time"
	}
	allowed := percent(cpus(cpuLimit))
	at := func(window int, r cpuReport) error {
		if window == 0 {
			l.take() // starting the child: step 2 showed how
			s.Cmd("# a busy loop, for (;;) {}, %s", placed(s, r.Placement))
			w := r.Free
			s.Host("no limit: %s of CPU in %s (%s): %s of one CPU", ms(w.Used()), ms(w.Wall), usage, percent(w.Share()))
			return nil
		}
		l.show(s)
		w := r.Limited
		s.Host("with the quota: %s of CPU in %s: %s of one CPU, where %s is allowed",
			ms(w.Used()), ms(w.Wall), percent(w.Share()), allowed)
		s.Cmd("cat %s", cg.File("cpu.stat"))
		s.Host("over that second: nr_periods +%d, nr_throttled +%d, %s +%s",
			w.Periods(), w.Throttled(), throttled, ms(w.ThrottledTime()))
		return l.hold(s, s.T("The busy loop is running under the quota."), cg.File("cpu.stat"))
	}
	r, err := cpuDemo(s.Ctx, cg, cpuLimit, 500*time.Millisecond, time.Second, 1, at)
	if err != nil {
		return err
	}
	w := r.Limited
	if w.Throttled() == 0 && w.Share() < 0.9*cpus(cpuLimit) {
		// The loop did not even use its quota: other programs had the
		// CPUs. Nothing was there to throttle, which shows nothing about
		// the limit either way.
		s.Warn("This machine is busy: the loop got %s of one CPU, less than the %s it may use, so the\n"+
			"quota had nothing to stop. Run the step again when the machine is quieter (--only 3).",
			percent(w.Share()), allowed)
		return nil
	}
	if w.Throttled() == 0 {
		return fmt.Errorf("the busy loop ran %s in %s under a quota of %d µs per %d µs, and no period was throttled: "+
			"the CPU bandwidth limit did not act (a kernel without CONFIG_CFS_BANDWIDTH?)", ms(w.Used()), ms(w.Wall),
			cpuLimit.CPUQuota, cpuLimit.CPUPeriod)
	}
	s.Note("Throttled in %d of %d periods: in each, the loop ran for its quota of %d µs (on average it\n"+
		"used %d µs a period), then waited for the next. The limit is CPU time, not a core: two threads\n"+
		"would share the same %d µs.",
		w.Throttled(), w.Periods(), cpuLimit.CPUQuota, w.Used().Microseconds()/int64(max(w.Periods(), 1)), cpuLimit.CPUQuota)
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%d ms", d.Milliseconds()) }

func percent(f float64) string { return fmt.Sprintf("%.0f%%", 100*f) }
