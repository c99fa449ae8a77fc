//go:build linux

package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/unboxlab/unbox/internal/cgroups"
	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/kit/kittest"
)

// Privileged tests: each mechanism on this host's real cgroups, asserted on
// the kernel's own counters. kittest.Privileged's leak check then proves no
// cgroup or process of ours is left.

// testCgroup creates <parent>/name for a test, removed when it ends.
func testCgroup(t *testing.T, name string) (*cgroups.Host, cgroups.Manager) {
	t.Helper()
	h, err := cgroups.OpenHost(cgroups.DefaultRoot)
	if err != nil {
		t.Fatal(err)
	}
	parent := kit.UniqueName("cgtest")
	p, err := h.New(cgroups.Config{Parent: "/", Name: parent, Controllers: controllers})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Destroy(); err != nil {
			t.Errorf("Destroy: %v", err)
		}
	})
	cg, err := h.New(cgroups.Config{Parent: "/" + parent, Name: name, Controllers: controllers})
	if err != nil {
		t.Fatal(err)
	}
	if err := cg.Create(); err != nil {
		t.Fatal(err)
	}
	return h, cg
}

// TestPrivCreate: the new cgroup has the controllers' files, in v2 because
// the parents enabled them (also where nobody had, at the root).
func TestPrivCreate(t *testing.T) {
	kittest.Privileged(t, needs...)
	h, cg := testCgroup(t, "ctr")
	for _, f := range limitFiles(h.Mode) {
		if _, err := os.Stat(cg.File(f)); err != nil {
			t.Errorf("new cgroup: %v", err)
		}
	}
	if h.Mode.V2() {
		for _, dir := range []string{h.Root, filepath.Dir(cg.Dirs()[0])} {
			b, err := os.ReadFile(filepath.Join(dir, "cgroup.subtree_control"))
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range controllers {
				if !slices.Contains(strings.Fields(string(b)), c) {
					t.Errorf("%s/cgroup.subtree_control = %q; want %s enabled", dir, b, c)
				}
			}
		}
	}
}

// TestPrivPlacement: the child is in the cgroup before it runs, and what it
// starts is born there.
func TestPrivPlacement(t *testing.T) {
	kittest.Privileged(t, needs...)
	h, cg := testCgroup(t, "ctr")
	p, err := placementDemo(context.Background(), cg)
	if err != nil {
		t.Fatal(err)
	}
	// One line per hierarchy the cgroup is in: one on v2; on v1, cpu,
	// cpuacct, memory and pids, or three where cpu and cpuacct are one.
	want := len(cg.Dirs())
	if len(p.Inside.Lines) != want || len(p.Inside.Born) != want {
		t.Errorf("/proc/self/cgroup lines for %s: child %q, its child %q; want %d each", cg.Path(), p.Inside.Lines, p.Inside.Born, want)
	}
	if wantHow := map[bool]cgroups.Placement{true: cgroups.ClonedInto, false: cgroups.Moved}[h.Mode.V2()]; p.How != wantHow {
		t.Errorf("the child was %v; want %v", p.How, wantHow)
	}
	if !slices.Equal(p.Procs, []int{p.HostPID}) {
		t.Errorf("cgroup.procs = %v; want the child alone, host pid %d", p.Procs, p.HostPID)
	}
	if procs, _ := cg.Procs(); len(procs) != 0 {
		t.Errorf("after the child exited, cgroup.procs = %v; want empty", procs)
	}
}

// TestPrivCPUThrottled: with --cpu-quota=20000 a busy loop is throttled,
// and its CPU time per period stays near the quota, far from the whole
// period it would use unthrottled. Counters only, no wall clock.
//
// In a VM without hardware virtualisation on a busy host, a vCPU can be
// descheduled for a long stretch, and the guest then charges the whole
// stretch to whatever was running: one window can show a burst far over the
// quota that the kernel could not have stopped. So the usage is judged on
// the median of five windows, not on one.
func TestPrivCPUThrottled(t *testing.T) {
	kittest.Privileged(t, needs...)
	_, cg := testCgroup(t, "busy")
	r, err := cpuDemo(context.Background(), cg, cpuLimit, 100*time.Millisecond, 2*time.Second, 5, nil)
	if err != nil {
		t.Fatal(err)
	}
	if w := r.Limited; w.Throttled() == 0 || w.ThrottledTime() == 0 {
		t.Fatalf("over %d periods: nr_throttled +%d, throttled time +%v; want throttling", w.Periods(), w.Throttled(), w.ThrottledTime())
	}
	perPeriod := make([]float64, 0, len(r.Parts))
	for _, w := range r.Parts {
		t.Logf("window: %d µs used, %d periods, %d throttled", w.Used().Microseconds(), w.Periods(), w.Throttled())
		// The window's edges cut into two more periods than it counts.
		perPeriod = append(perPeriod, float64(w.Used().Microseconds())/float64(w.Periods()+2))
	}
	slices.Sort(perPeriod)
	median := perPeriod[len(perPeriod)/2]
	// The scheduler hands out runtime in slices and checks it at ticks, so
	// allow half as much again as the quota; unthrottled, one thread would
	// use the whole period, five times the quota.
	if most := float64(cpuLimit.CPUQuota) * 1.5; median > most {
		t.Errorf("median usage per period = %.0f µs; want at most %.0f (the quota, %d µs, and some slack)", median, most, cpuLimit.CPUQuota)
	}
	if half := float64(cpuLimit.CPUPeriod) / 2; median >= half {
		t.Errorf("median usage per period = %.0f µs; want well below the unthrottled %d µs", median, cpuLimit.CPUPeriod)
	}
}

// TestPrivMemoryOOMKill: past the limit, the kernel first reclaims (the
// limit is hit, nobody dies), then kills the child with SIGKILL, and the
// kernel's counter says so.
func TestPrivMemoryOOMKill(t *testing.T) {
	kittest.Privileged(t, needs...)
	_, cg := testCgroup(t, "hog")
	h, err := cgroups.OpenHost(cgroups.DefaultRoot)
	if err != nil {
		t.Fatal(err)
	}
	if err := cg.Set(limitFor(memoryLimit, h.Mode)); err != nil {
		t.Fatal(err)
	}
	r, err := memoryDemo(context.Background(), cg, hogPhases, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.AfterFreed.OOMKills != 0 {
		t.Errorf("below the limit: oom_kill = %d; want 0", r.AfterFreed.OOMKills)
	}
	if r.AfterWork.LimitHits == 0 || r.AfterWork.OOMKills != 0 {
		t.Errorf("past the limit with freed pages to reclaim: limit hits %d, oom_kill %d; want hits and no kill",
			r.AfterWork.LimitHits, r.AfterWork.OOMKills)
	}
	if r.End.OOMKills != 1 {
		t.Errorf("after the child died: oom_kill = %d; want 1", r.End.OOMKills)
	}
	if r.Signal != syscall.SIGKILL {
		t.Errorf("the child ended by %v (%v); want SIGKILL", r.Signal, r.Err)
	}
	// A process the OOM killer has picked may charge a few pages past the
	// limit on its way out (mm/memcontrol.c lets a dying task through).
	limit := uint64(memoryLimit.Memory)
	if r.End.Limit != limit || r.End.Peak > limit+mib || r.AfterWork.Usage > limit {
		t.Errorf("limit %d, peak %d, usage at the limit %d; want the limit %d held", r.End.Limit, r.End.Peak, r.AfterWork.Usage, limit)
	}
	if r.Allocated*mib >= int(limit) {
		t.Errorf("the child kept %d MiB in a %d MiB cgroup", r.Allocated, limit/mib)
	}
}

// TestPrivPidsBomb: the fork bomb stops at pids.max with EAGAIN; the
// counters agree; the machine is fine (the leak check finds no process).
func TestPrivPidsBomb(t *testing.T) {
	kittest.Privileged(t, needs...)
	_, cg := testCgroup(t, "bomb")
	if err := cg.Set(pidsLimit); err != nil {
		t.Fatal(err)
	}
	cfg := bombConfig{Retries: 20, Most: 200}
	r, err := pidsDemo(context.Background(), cg, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, max := r.Bomb, uint64(pidsLimit.PidsLimit)
	if b.Errno != "EAGAIN" || b.Refused != cfg.Retries+1 {
		t.Errorf("bomb: %d forks refused with %s (%s); want %d with EAGAIN", b.Refused, b.Errno, b.Err, cfg.Retries+1)
	}
	if r.AtLimit.Current != max || r.AtLimit.Limit != max {
		t.Errorf("at the limit: pids.current %d, pids.max %d; want %d both", r.AtLimit.Current, r.AtLimit.Limit, max)
	}
	if got := uint64(b.Threads + b.Started); got != max {
		t.Errorf("the bomb's %d threads + %d sleepers = %d tasks; want pids.max %d", b.Threads, b.Started, got, max)
	}
	if r.AtLimit.LimitHits < uint64(b.Refused) {
		t.Errorf("pids.events max = %d; want at least the %d refused forks", r.AtLimit.LimitHits, b.Refused)
	}
	if r.AfterExit.Current != 0 {
		t.Errorf("after the bomb exited: pids.current %d; want 0", r.AfterExit.Current)
	}
}

// TestPrivProcView: inside the limited cgroup /proc shows the host; the
// cgroup files show the limits.
func TestPrivProcView(t *testing.T) {
	kittest.Privileged(t, needs...)
	h, cg := testCgroup(t, "view")
	if err := cg.Set(limitFor(viewLimits, h.Mode)); err != nil {
		t.Fatal(err)
	}
	r, err := procViewDemo(context.Background(), cg)
	if err != nil {
		t.Fatal(err)
	}
	in := r.Inside
	if in.Machine != r.Host {
		t.Errorf("inside: MemTotal %d, %d CPUs; want the host's %d, %d (no LXCFS here)", in.Machine.MemTotal, in.Machine.CPUs, r.Host.MemTotal, r.Host.CPUs)
	}
	l := in.Limits
	if l.Memory != viewLimits.Memory || l.CPUQuota != viewLimits.CPUQuota || l.CPUPeriod != viewLimits.CPUPeriod {
		t.Errorf("limits read inside = %+v; want memory %d, quota %d, period %d", l, viewLimits.Memory, viewLimits.CPUQuota, viewLimits.CPUPeriod)
	}
	if l.Workers(in.Machine.CPUs) != 1 {
		t.Errorf("Workers(%d) = %d; want 1 for 0.2 CPUs", in.Machine.CPUs, l.Workers(in.Machine.CPUs))
	}
	if !strings.HasPrefix(l.MemoryFile, cgroups.DefaultRoot) || !strings.Contains(l.MemoryFile, cg.Path()) {
		t.Errorf("the child read %s; want a file of its own cgroup %s", l.MemoryFile, cg.Path())
	}
}

// TestPrivDestroyKillsWhatIsInside: a cgroup with a live child is removed,
// the child killed first; rmdir alone is refused.
func TestPrivDestroyKillsWhatIsInside(t *testing.T) {
	kittest.Privileged(t, needs...)
	h, err := cgroups.OpenHost(cgroups.DefaultRoot)
	if err != nil {
		t.Fatal(err)
	}
	cg, err := h.New(cgroups.Config{Parent: "/", Name: kit.UniqueName("cgtest"), Controllers: controllers})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cg.Destroy() })
	if err := cg.Create(); err != nil {
		t.Fatal(err)
	}
	c, err := startIn(context.Background(), cg, "wait", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Recv(nil); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Rmdir(cg.Dirs()[0]); err != syscall.EBUSY {
		t.Errorf("rmdir with a process inside: %v; want EBUSY", err)
	}
	if err := cg.Destroy(); err != nil {
		t.Fatal(err)
	}
	c.Wait()
	if sig := exitSignal(c.Child); sig != syscall.SIGKILL {
		t.Errorf("the child ended by %v; want SIGKILL", sig)
	}
	for _, d := range cg.Dirs() {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("%s still exists (%v)", d, err)
		}
	}
}
