//go:build linux

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/unboxlab/unbox/capstone/engine"
)

// TestPrivHealth: a container's healthcheck, run by its monitor, as
// Docker's daemon runs it: starting, healthy once the check passes,
// unhealthy after --health-retries failures; ps, ps --filter health=,
// inspect (--format too) show it; a hanging check is killed at its
// timeout; healthcheck run; --no-healthcheck and the image's HEALTHCHECK;
// a restart is starting again; bad flags make nothing.
func TestPrivHealth(t *testing.T) {
	e := newEnv(t)

	for _, bad := range [][]string{
		{"--no-healthcheck", "--health-cmd", "true"},
		{"--health-interval", "-1s"},
		{"--health-retries", "-1"},
		{"--health-timeout", "1us"},
		{"--health-interval", "5"},
	} {
		args := append(append([]string{"run", "-d"}, bad...), "unbox/busybox", "true")
		if r := e.run(args...); r.code != 125 {
			t.Errorf("run %q: %s\nwant exit 125", bad, r)
		}
	}
	if ids := e.out("ps", "-aq"); ids != "" {
		t.Fatalf("bad healthcheck flags made containers: %s", ids)
	}

	// The start period keeps it starting while /tmp/ok is missing,
	// probed every start interval.
	e.ok("run", "-d", "--name", "web", "--health-cmd", "test -f /tmp/ok", "--health-interval", "500ms",
		"--health-retries", "2", "--health-start-period", "10m", "--health-start-interval", "300ms", "unbox/busybox", "sleep", "3600")
	c := e.inspect("web")
	if c.State.Health == nil || c.State.Health.Status != engine.HealthStarting {
		t.Fatalf("after run: State.Health = %+v; want starting", c.State.Health)
	}
	if h := c.Config.Healthcheck; h == nil || !slices.Equal(h.Test, []string{"CMD-SHELL", "test -f /tmp/ok"}) || h.Interval != 500*time.Millisecond || h.Retries != 2 {
		t.Errorf("Config.Healthcheck = %+v; want the flags'", h)
	}
	e.psStatus("web", "(health: starting)")
	e.psFilter("health=starting", "web")
	if r := e.run("healthcheck", "run", "web"); r.code != 1 || strings.TrimSpace(r.stdout) != "starting" {
		t.Errorf("healthcheck run of a failing check in its start period: %s\nwant exit 1, starting", r)
	}

	e.ok("exec", "web", "touch", "/tmp/ok")
	c = e.waitHealth("web", engine.HealthHealthy)
	e.psStatus("web", "(healthy)")
	e.psFilter("health=healthy", "web")
	e.psFilter("health=unhealthy")
	if got := e.out("inspect", "--format", "{{.State.Health.Status}} {{json .Config.Healthcheck.Test}}", "web"); got != `healthy ["CMD-SHELL","test -f /tmp/ok"]` {
		t.Errorf("inspect --format = %q", got)
	}
	if r := e.run("healthcheck", "run", "web"); r.code != 0 || r.stdout != "" {
		t.Errorf("healthcheck run of a healthy container: %s\nwant exit 0, nothing printed", r)
	}

	// Now failures count: two make it unhealthy.
	e.ok("exec", "web", "rm", "/tmp/ok")
	c = e.waitHealth("web", engine.HealthUnhealthy)
	if c.State.Health.FailingStreak < 2 {
		t.Errorf("unhealthy with a failing streak of %d; want 2 at least", c.State.Health.FailingStreak)
	}
	var codes []int
	for _, r := range c.State.Health.Log {
		codes = append(codes, r.ExitCode)
		if r.End.Before(r.Start) || r.Start.Before(c.State.StartedAt) {
			t.Errorf("log entry %+v: its times are not after the start, %v", r, c.State.StartedAt)
		}
	}
	if len(codes) > 5 || !slices.Contains(codes, 0) || codes[len(codes)-1] != 1 {
		t.Errorf("Health.Log's exit codes = %v; want at most 5, a 0 (healthy), ending with 1s (test's status)", codes)
	}
	e.psStatus("web", "(unhealthy)")
	e.psFilter("health=unhealthy", "web")
	if r := e.run("healthcheck", "run", "web"); r.code != 1 || strings.TrimSpace(r.stdout) != "unhealthy" {
		t.Errorf("healthcheck run of an unhealthy container: %s\nwant exit 1, unhealthy", r)
	}

	// A restart is a new start: starting, no streak.
	e.ok("restart", "-t", "1", "web")
	if c = e.inspect("web"); c.State.Health == nil || c.State.Health.Status != engine.HealthStarting || c.State.Health.FailingStreak != 0 {
		t.Errorf("after restart: State.Health = %+v; want starting, streak 0", c.State.Health)
	}

	// A check that hangs is killed at its timeout, a failure with
	// Docker's message, and leaves nothing running.
	id := e.out("run", "-d", "--name", "hang", "--health-cmd", "sleep 60", "--health-timeout", "500ms",
		"--health-interval", "100ms", "--health-retries", "1", "unbox/busybox", "sleep", "3600")
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		if c = e.inspect("hang"); c.State.Health != nil && len(c.State.Health.Log) >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("hang's healthcheck ran fewer than 3 times in a minute: %+v", c.State.Health)
		}
	}
	if c.State.Health.Status != engine.HealthUnhealthy {
		t.Errorf("a check that times out: status %s; want unhealthy", c.State.Health.Status)
	}
	for _, r := range c.State.Health.Log {
		if r.ExitCode != -1 || r.Output != "Health check exceeded timeout (500ms)" {
			t.Errorf("log entry of a timed-out check: %+v; want exit -1 and Docker's message", r)
		}
	}
	// Three timed out; one may be running now. Nothing else is left in
	// the container, not even a zombie ("[sleep]" in ps).
	if n := len(processesIn(id, "sleep\x0060\x00")); n > 1 {
		t.Errorf("%d healthcheck processes (sleep 60) in the container; want at most the one running now", n)
	}
	var left []string
	for _, l := range strings.Split(e.out("exec", "hang", "ps"), "\n")[1:] {
		if f := strings.Fields(l); len(f) >= 3 && f[0] != "1" && f[2] != "ps" {
			left = append(left, l)
		}
	}
	if len(left) > 1 {
		t.Errorf("processes left in the container by timed-out checks:\n%s", strings.Join(left, "\n"))
	}

	// --no-healthcheck, and the image's HEALTHCHECK under the flags.
	ctx := writeContext(t, map[string]string{"Dockerfile": "FROM unbox/busybox\nHEALTHCHECK --interval=200ms --retries=7 CMD true\n"})
	e.ok("build", "-q", "-t", "unboxhealth", ctx)
	e.ok("run", "-d", "--name", "plain", "--no-healthcheck", "unboxhealth", "sleep", "3600")
	if c = e.inspect("plain"); c.State.Health != nil || c.Config.Healthcheck == nil || !slices.Equal(c.Config.Healthcheck.Test, []string{"NONE"}) {
		t.Errorf("--no-healthcheck: Health %+v, Config.Healthcheck %+v; want none and Test [NONE]", c.State.Health, c.Config.Healthcheck)
	}
	if r := e.run("healthcheck", "run", "plain"); r.code != 125 || !strings.Contains(r.stderr, "no defined healthcheck") {
		t.Errorf("healthcheck run without a healthcheck: %s\nwant exit 125", r)
	}
	e.ok("run", "-d", "--name", "fromimage", "--health-retries", "2", "unboxhealth", "sleep", "3600")
	c = e.waitHealth("fromimage", engine.HealthHealthy)
	if h := c.Config.Healthcheck; !slices.Equal(h.Test, []string{"CMD-SHELL", "true"}) || h.Interval != 200*time.Millisecond || h.Retries != 2 {
		t.Errorf("the image's healthcheck under --health-retries 2: %+v", h)
	}
	e.psFilter("health=none", "plain")

	e.ok("create", "--name", "idle", "--health-cmd", "true", "unbox/busybox")
	if r := e.run("healthcheck", "run", "idle"); r.code != 125 || !strings.Contains(r.stderr, "not running") {
		t.Errorf("healthcheck run of a created container: %s\nwant exit 125", r)
	}
	if r := e.run("ps", "--filter", "health=sick"); r.code != 125 {
		t.Errorf("ps --filter health=sick: %s\nwant exit 125", r)
	}
}

// waitHealth waits for a container's health status.
func (e *env) waitHealth(ref, want string) engine.Container {
	e.t.Helper()
	var c engine.Container
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if c = e.inspect(ref); c.State.Health != nil && c.State.Health.Status == want {
			return c
		}
	}
	e.t.Fatalf("container %s's health is %+v after a minute; want %s", ref, c.State.Health, want)
	return c
}

// psStatus checks ps's STATUS column for the container ends in want.
func (e *env) psStatus(name, want string) {
	e.t.Helper()
	for _, l := range strings.Split(e.out("ps"), "\n") {
		if strings.HasSuffix(l, " "+name) {
			if !strings.Contains(l, "Up ") || !strings.Contains(l, want) {
				e.t.Errorf("ps shows %s as:\n%s\nwant Up ... %s", name, l, want)
			}
			return
		}
	}
	e.t.Errorf("ps does not show %s", name)
}

// psFilter checks ps -a --filter f lists exactly names.
func (e *env) psFilter(f string, names ...string) {
	e.t.Helper()
	got := strings.Fields(e.out("ps", "-a", "--filter", f, "--format", "json"))
	var listed []string
	for _, l := range got {
		if _, n, ok := strings.Cut(l, `"Names":"`); ok {
			n, _, _ = strings.Cut(n, `"`)
			listed = append(listed, n)
		}
	}
	slices.Sort(listed)
	slices.Sort(names)
	if !slices.Equal(listed, names) {
		e.t.Errorf("ps --filter %s lists %q; want %q", f, listed, names)
	}
}

// processesIn lists the host's processes with this command line (its
// NUL-separated /proc/PID/cmdline) in the container's cgroup.
func processesIn(id, cmdline string) []string {
	var out []string
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		cl, err := os.ReadFile(filepath.Join(d, "cmdline"))
		if err != nil || !bytes.Equal(cl, []byte(cmdline)) {
			continue
		}
		if cg, _ := os.ReadFile(filepath.Join(d, "cgroup")); strings.Contains(string(cg), id) {
			out = append(out, filepath.Base(d))
		}
	}
	return out
}

// TestPrivHealthCommitted: `commit` keeps the container's healthcheck,
// --health-* included, as Docker's does; a container of the new image
// runs it.
func TestPrivHealthCommitted(t *testing.T) {
	e := newEnv(t)
	e.ok("run", "-d", "--name", "checked", "--network", "none", "--health-cmd", "test -f /ok", "--health-interval", "500ms",
		"unbox/busybox", "sh", "-c", "touch /ok; exec sleep 600")
	e.ok("commit", "checked", "checked:1")
	e.ok("rm", "-f", "checked")
	e.ok("run", "-d", "--name", "again", "--network", "none", "checked:1", "sleep", "600")
	c := e.waitHealth("again", "healthy")
	if h := c.Config.Healthcheck; h == nil || !slices.Equal(h.Test, []string{"CMD-SHELL", "test -f /ok"}) || h.Interval != 500*time.Millisecond {
		t.Errorf("the committed image's container has healthcheck %+v; want the first container's", h)
	}
	e.ok("rm", "-f", "again")
}
