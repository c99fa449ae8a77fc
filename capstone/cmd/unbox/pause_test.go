//go:build linux

package main

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestPrivPauseUpdate: pause freezes every process of a container (its
// log stops growing, no healthcheck runs, exec is refused) and unpause
// lets it go on; update writes new limits into a running container's
// cgroup and keeps them in its record for the next start; stop and kill
// end a paused container; the misuses are refused as Docker refuses them.
func TestPrivPauseUpdate(t *testing.T) {
	e := newEnv(t)
	script := `i=0; while true; do echo line$i; i=$((i+1)); sleep 0.1; done`
	e.ok("run", "-d", "--name", "pz", "--health-cmd", "true", "--health-interval", "200ms", "--health-timeout", "500ms", "unbox/busybox", "sh", "-c", script)
	e.waitLog("pz", "line3")
	e.waitHealth("pz", "healthy")

	e.ok("pause", "pz")
	c := e.inspect("pz")
	if c.State.Status != "paused" || !c.State.Paused || !c.State.Running {
		t.Errorf("after pause: %+v; want paused, and running", c.State)
	}
	e.psStatus("pz", "(Paused)")
	lines := func() int { return strings.Count(e.ok("logs", "pz").stdout, "\n") }
	lastProbe := func() time.Time {
		c := e.inspect("pz")
		if c.State.Health == nil || len(c.State.Health.Log) == 0 {
			t.Fatalf("no healthcheck result recorded: %+v", c.State.Health)
		}
		return c.State.Health.Log[len(c.State.Health.Log)-1].End
	}
	n, probed := lines(), lastProbe()
	time.Sleep(1500 * time.Millisecond)
	if m := lines(); m != n {
		t.Errorf("the log grew from %d to %d lines while paused; want it frozen", n, m)
	}
	if p := lastProbe(); !p.Equal(probed) {
		t.Errorf("a healthcheck ran at %v while paused (the last before at %v)", p, probed)
	}
	if r := e.run("exec", "pz", "true"); r.code != 125 || !strings.Contains(r.stderr, "is paused, unpause the container before exec") {
		t.Errorf("exec into a paused container: %s\nwant 125 and Docker's reason", r)
	}
	if r := e.run("pause", "pz"); r.code == 0 || !strings.Contains(r.stderr, "already paused") {
		t.Errorf("pause of a paused container: %s\nwant refused", r)
	}

	e.ok("unpause", "pz")
	if c := e.inspect("pz"); c.State.Status != "running" || c.State.Paused {
		t.Errorf("after unpause: %+v; want running", c.State)
	}
	e.waitLog("pz", "line"+strconv.Itoa(n+3))
	for deadline := time.Now().Add(time.Minute); !lastProbe().After(probed); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no healthcheck ran in a minute after unpause")
		}
	}
	if r := e.run("unpause", "pz"); r.code == 0 || !strings.Contains(r.stderr, "is not paused") {
		t.Errorf("unpause of a running container: %s\nwant refused", r)
	}

	// update: the running container's cgroup at once (read from inside,
	// through its cgroup namespace), and the record.
	e.ok("update", "-m", "64m", "--pids-limit", "50", "--cpus", "0.5", "--restart", "on-failure:2", "pz")
	for _, f := range []struct{ file, want string }{
		{"cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max", "67108864"},
		{"cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max", "50"},
		{"cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null || cut -d' ' -f1 /sys/fs/cgroup/cpu.max", "50000"},
	} {
		if got := e.out("exec", "pz", "sh", "-c", f.file); got != f.want {
			t.Errorf("after update, %s = %q; want %q", f.file, got, f.want)
		}
	}
	h := e.inspect("pz").HostConfig
	if h.Memory != 64<<20 || h.PidsLimit != 50 || h.NanoCPUs != 5e8 || h.RestartPolicy.Name != "on-failure" || h.RestartPolicy.MaximumRetryCount != 2 {
		t.Errorf("after update, HostConfig %+v; want the new limits and policy", h)
	}

	// A paused container stops (sh, as PID 1, ignores SIGTERM: SIGKILL
	// after -t), and a stopped one's update is its next start's.
	e.ok("pause", "pz")
	e.ok("commit", "pz", "pz-image") // freezes and thaws a running one, not this
	n = lines()
	time.Sleep(time.Second)
	if m := lines(); m != n || e.inspect("pz").State.Status != "paused" {
		t.Errorf("after commit of a paused container, its log grew from %d to %d lines; want it paused still", n, m)
	}
	e.ok("rmi", "pz-image")
	e.ok("stop", "-t", "1", "pz")
	if c := e.inspect("pz"); c.State.Status != "exited" || c.State.ExitCode != 137 {
		t.Errorf("stop of a paused container: %+v; want exited with 137", c.State)
	}
	e.ok("update", "-m", "96m", "pz")
	e.ok("start", "pz")
	e.waitStatus("pz", "running")
	if got := e.out("exec", "pz", "sh", "-c", "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max"); got != "100663296" {
		t.Errorf("a start after update of the stopped container: memory limit %q; want 100663296 (96m)", got)
	}
	e.ok("pause", "pz")
	e.ok("kill", "pz")
	if code := e.out("wait", "pz"); code != "137" {
		t.Errorf("kill of a paused container: wait = %q; want 137", code)
	}

	e.ok("run", "-d", "--rm", "--name", "qz", "unbox/busybox", "sleep", "60")
	for _, bad := range [][]string{
		{"update", "qz"},             // no flag
		{"update", "-m", "1k", "qz"}, // below Docker's minimum
		{"update", "--cpus", "1", "--cpu-quota", "50000", "qz"}, // conflicting
		{"update", "--restart", "always", "qz"},                 // --rm
		{"update", "-m", "12zz", "qz"},
		{"pause", "nosuch"},
	} {
		if r := e.run(bad...); r.code != 125 {
			t.Errorf("unbox %s: %s\nwant 125", strings.Join(bad, " "), r)
		}
	}
	if h := e.inspect("qz").HostConfig; h.Memory != 0 || h.RestartPolicy.Name != "no" {
		t.Errorf("refused updates changed the record: %+v", h)
	}
	e.ok("rm", "-f", "qz", "pz")
}
