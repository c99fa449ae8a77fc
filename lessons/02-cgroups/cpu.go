//go:build linux

package main

import (
	"context"
	"fmt"
	"time"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/reexec"
)

func init() { reexec.Register("busy", busyChild) }

// cpuLimit is the seed's `docker run --cpu-period=100000 --cpu-quota=20000`.
var cpuLimit = Resources{CPUPeriod: 100000, CPUQuota: 20000}

// busyChild spins on one thread until the parent says stop.
func busyChild(c *reexec.Conn) error {
	if err := c.Recv(nil); err != nil {
		return err
	}
	go func() {
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
	Before, After CPUStats
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
	Free, Limited cpuWindow
	// Parts are Limited cut into consecutive windows.
	Parts []cpuWindow
}

// cpuDemo runs a busy loop in cg, measures it for free without a limit,
// then sets limit and measures it for limited, in parts windows. at, if not
// nil, is called after each of the two (0 without the limit, 1 with it)
// while the loop runs.
func cpuDemo(ctx context.Context, cg Cgroup, limit Resources, free, limited time.Duration, parts int,
	at func(window int, w cpuWindow) error) (cpuReport, error) {
	var r cpuReport
	c, err := startIn(ctx, cg, "busy", nil)
	if err != nil {
		return r, err
	}
	defer c.Close()
	if err := c.Recv(nil); err != nil {
		return r, err
	}
	if r.Free, err = measureCPU(ctx, cg, free); err != nil {
		return r, err
	}
	if at != nil {
		if err := at(0, r.Free); err != nil {
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
		if err := at(1, r.Limited); err != nil {
			return r, err
		}
	}
	if err := c.Send(nil); err != nil {
		return r, err
	}
	return r, c.Wait()
}

func measureCPU(ctx context.Context, cg Cgroup, d time.Duration) (cpuWindow, error) {
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
	s.Cmd("# a busy loop, for (;;) {}, moved in before it starts")
	at := func(window int, w cpuWindow) error {
		if window == 0 {
			s.Host("no limit: %s of CPU in %s (%s): %s of one CPU", ms(w.Used()), ms(w.Wall), usage, percent(w.Share()))
			s.Cmd("%s", writeLines(cg.Writes(cpuLimit)))
			return nil
		}
		s.Host("with the quota: %s of CPU in %s: %s of one CPU, where 20%% is allowed",
			ms(w.Used()), ms(w.Wall), percent(w.Share()))
		s.Cmd("cat %s", cg.File("cpu.stat"))
		s.Host("over that second: nr_periods +%d, nr_throttled +%d, %s +%s",
			w.Periods(), w.Throttled(), throttled, ms(w.ThrottledTime()))
		return l.hold(s, "The busy loop is running under the quota", cg.File("cpu.stat"))
	}
	r, err := cpuDemo(s.Ctx, cg, cpuLimit, 500*time.Millisecond, time.Second, 1, at)
	if err != nil {
		return err
	}
	if r.Limited.Throttled() == 0 {
		s.Warn("no period was throttled: is CONFIG_CFS_BANDWIDTH off?")
	}
	s.Note("Throttled in %d of %d periods: each period the loop ran for its quota, 20000 µs, then\n"+
		"waited for the next. The limit is CPU time, not a core: two threads would share the same\n"+
		"20000 µs.",
		r.Limited.Throttled(), r.Limited.Periods())
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%d ms", d.Milliseconds()) }

func percent(f float64) string { return fmt.Sprintf("%.0f%%", 100*f) }
