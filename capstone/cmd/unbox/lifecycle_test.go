//go:build linux

package main

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestPrivDetachedLifecycle: run -d, ps, logs (-t, --tail, -f), stop
// (SIGTERM, then SIGKILL after -t), start, restart, kill -s, wait: each as
// Docker's, and the monitor records what happened.
func TestPrivDetachedLifecycle(t *testing.T) {
	e := newEnv(t)
	// A container that counts, and stops on SIGTERM with status 42.
	script := `trap 'echo term; exit 42' TERM; i=0; while true; do echo line$i; i=$((i+1)); sleep 0.1; done`
	id := e.out("run", "-d", "--name", "counter", "unbox/busybox", "sh", "-c", script)
	if len(id) != 64 {
		t.Fatalf("run -d printed %q; want a 64-digit ID", id)
	}
	ps := e.out("ps")
	if !strings.Contains(ps, id[:12]) || !strings.Contains(ps, "Up ") || !strings.Contains(ps, "counter") {
		t.Errorf("ps:\n%s\nwant the container, up", ps)
	}
	var line psJSON
	if err := json.Unmarshal([]byte(e.out("ps", "--format", "json")), &line); err != nil || line.State != "running" || line.Names != "counter" {
		t.Errorf("ps --format json: %+v, %v", line, err)
	}
	e.waitLog("counter", "line3")
	logs := e.ok("logs", "--tail", "2", "counter").stdout
	if n := strings.Count(logs, "\n"); n != 2 {
		t.Errorf("logs --tail 2 printed %d lines: %q", n, logs)
	}
	ts := strings.SplitN(e.ok("logs", "-t", "counter").stdout, "\n", 2)[0]
	stamp, rest, _ := strings.Cut(ts, " ")
	if _, err := time.Parse(time.RFC3339Nano, stamp); err != nil || rest != "line0" {
		t.Errorf("logs -t first line %q; want an RFC 3339 time, then line0", ts)
	}
	// logs -f follows until the container stops.
	follow := e.cmd("logs", "-f", "counter")
	out := tempOut(t)
	follow.Stdout = out
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	e.ok("stop", "-t", "5", "counter")
	done := make(chan error, 1)
	go func() { done <- follow.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		follow.Process.Kill()
		t.Fatal("logs -f did not end when the container stopped")
	}
	if got := readFile(t, out.Name()); !strings.HasSuffix(got, "term\n") {
		t.Errorf("logs -f ended with %q; want the container's last line, term", got[max(0, len(got)-40):])
	}
	c := e.inspect("counter")
	if c.State.Status != "exited" || c.State.ExitCode != 42 || c.State.Running {
		t.Errorf("after stop: %+v; want exited with 42, the trap's status", c.State)
	}
	if code := e.out("wait", "counter"); code != "42" {
		t.Errorf("wait of a stopped container = %q; want 42", code)
	}
	if st := e.out("ps", "-a"); !strings.Contains(st, "Exited (42)") {
		t.Errorf("ps -a:\n%s\nwant Exited (42)", st)
	}

	// start: the same container again, its log goes on.
	e.ok("start", "counter")
	c = e.waitStatus("counter", "running")
	firstPid := c.State.Pid
	e.ok("restart", "-t", "5", "counter")
	c = e.waitStatus("counter", "running")
	if c.State.Pid == firstPid {
		t.Errorf("restart kept PID %d; want a new process", firstPid)
	}
	// kill -s: the signal reaches the process; wait returns its status.
	waited := make(chan result, 1)
	go func() { waited <- e.run("wait", "counter") }()
	time.Sleep(200 * time.Millisecond)
	e.ok("kill", "-s", "TERM", "counter")
	select {
	case r := <-waited:
		if strings.TrimSpace(r.stdout) != "42" {
			t.Errorf("wait while the container ran, then kill -s TERM: %s; want 42", r)
		}
	case <-time.After(time.Minute):
		t.Fatal("wait did not return when the container exited")
	}
	// stop of a container that ignores SIGTERM: SIGKILL after -t.
	e.ok("run", "-d", "--name", "stubborn", "unbox/busybox", "sh", "-c", "trap '' TERM; sleep 1000 & wait")
	start := time.Now()
	e.ok("stop", "-t", "1", "stubborn")
	if c := e.inspect("stubborn"); c.State.ExitCode != 137 || time.Since(start) < time.Second {
		t.Errorf("stop -t 1 of a container that ignores SIGTERM: exit %d after %v; want 137 after 1s", c.State.ExitCode, time.Since(start))
	}
	if got := e.out("logs", "counter"); !strings.Contains(got, "term\nline0") {
		t.Errorf("the log after a restart does not go on from the first run's: %q", got[:min(len(got), 200)])
	}
	e.ok("rm", "counter", "stubborn")
	if ps := e.out("ps", "-aq"); ps != "" {
		t.Errorf("ps -aq after rm = %q", ps)
	}
}

// TestPrivRestartPolicy: on-failure:N restarts a failing container N
// times; always restarts until stop, which wins over the policy.
func TestPrivRestartPolicy(t *testing.T) {
	e := newEnv(t)
	e.ok("run", "-d", "--name", "flaky", "--restart", "on-failure:2", "unbox/busybox", "sh", "-c", "echo try; exit 3")
	c := e.waitStatus("flaky", "exited")
	for deadline := time.Now().Add(time.Minute); c.RestartCount < 2 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		c = e.inspect("flaky")
	}
	c = e.waitStatus("flaky", "exited")
	time.Sleep(500 * time.Millisecond) // a third start would come within the backoff
	c = e.inspect("flaky")
	if c.RestartCount != 2 || c.State.ExitCode != 3 || strings.Count(e.out("logs", "flaky"), "try") != 3 {
		t.Errorf("on-failure:2: restarted %d times, exit %d, log %q; want 2 restarts (3 runs), exit 3", c.RestartCount, c.State.ExitCode, e.out("logs", "flaky"))
	}
	e.ok("run", "-d", "--name", "forever", "--restart", "always", "unbox/busybox", "sh", "-c", "sleep 0.2")
	for deadline := time.Now().Add(time.Minute); e.inspect("forever").RestartCount < 2 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
	}
	e.ok("stop", "forever")
	time.Sleep(500 * time.Millisecond)
	if c := e.inspect("forever"); c.State.Status != "exited" || c.State.Running {
		t.Errorf("restart=always after stop: %+v; want exited, and not started again", c.State)
	}
	if r := e.run("run", "--rm", "--restart", "always", "unbox/busybox", "true"); r.code != 125 || !strings.Contains(r.stderr, "--restart and --rm") {
		t.Errorf("run --rm --restart always: %s; want a conflict, 125", r)
	}
}

// TestPrivExec: exec's flags, statuses, and refusal on a stopped
// container.
func TestPrivExec(t *testing.T) {
	e := newEnv(t)
	e.ok("run", "-d", "--name", "box", "-e", "FROM_RUN=1", "-w", "/tmp", "unbox/busybox", "sleep", "1000")
	for _, tc := range []struct {
		args []string
		want string
		code int
	}{
		{[]string{"sh", "-c", "echo $FROM_RUN $EXTRA; pwd"}, "1\n/tmp", 0},
		{[]string{"-e", "EXTRA=2", "-w", "/etc", "sh", "-c", "echo $FROM_RUN $EXTRA; pwd"}, "1 2\n/etc", 0},
		{[]string{"-u", "nobody", "id", "-u"}, "65534", 0},
		{[]string{"sh", "-c", "exit 9"}, "", 9},
		{[]string{"nosuchcommand"}, "", 127},
		{[]string{"/etc"}, "", 126},
		{[]string{"hostname"}, e.inspect("box").Config.Hostname, 0},
	} {
		// exec's flags come before the container, the command after it.
		args := append([]string{}, tc.args...)
		i := 0
		for i < len(args) && strings.HasPrefix(args[i], "-") {
			i += 2
		}
		r := e.run(append(append(append([]string{"exec"}, args[:i]...), "box"), args[i:]...)...)
		if r.code != tc.code || strings.TrimSpace(r.stdout) != tc.want {
			t.Errorf("exec %v: %s; want %q, exit %d", tc.args, r, tc.want, tc.code)
		}
	}
	// exec -i: stdin reaches the process.
	if r := e.runIn(strings.NewReader("piped\n"), "exec", "-i", "box", "cat"); r.stdout != "piped\n" {
		t.Errorf("exec -i cat: %s; want piped", r)
	}
	// The exec'd process is in the container's namespaces.
	ns := func(args ...string) string { return e.out(append([]string{"exec", "box", "readlink"}, args...)...) }
	pid := e.inspect("box").State.Pid
	for _, kind := range []string{"pid", "mnt", "net", "uts", "ipc", "cgroup"} {
		host := readLink(t, "/proc/"+strconv.Itoa(pid)+"/ns/"+kind)
		if got := ns("/proc/self/ns/" + kind); got != host {
			t.Errorf("exec'd process's %s namespace %s; the container's is %s", kind, got, host)
		}
	}
	e.ok("stop", "-t", "1", "box")
	if r := e.run("exec", "box", "true"); r.code != 125 || !strings.Contains(r.stderr, "is not running") {
		t.Errorf("exec into a stopped container: %s; want 125, not running", r)
	}
}

// TestPrivTopStats: top lists the container's processes; stats reads its
// cgroup.
func TestPrivTopStats(t *testing.T) {
	e := newEnv(t)
	e.ok("run", "-d", "--name", "busy", "-m", "32m", "unbox/busybox", "sh", "-c", "sleep 1000 & sleep 1001; wait")
	e.waitStatus("busy", "running")
	var top string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if top = e.out("top", "busy"); strings.Contains(top, "sleep 1000") && strings.Contains(top, "sleep 1001") {
			break
		}
	}
	if !strings.HasPrefix(top, "UID") || !strings.Contains(top, "sleep 1000") || !strings.Contains(top, "sh -c") {
		t.Errorf("top:\n%s\nwant ps -ef's columns and the three processes", top)
	}
	st := e.out("stats", "--no-stream")
	if !strings.Contains(st, "busy") || !strings.Contains(st, "/ 32MiB") {
		t.Errorf("stats --no-stream:\n%s\nwant the container, its memory limit 32MiB", st)
	}
	var js map[string]string
	if err := json.Unmarshal([]byte(e.out("stats", "--no-stream", "--format", "json", "busy")), &js); err != nil || js["PIDs"] != "3" {
		t.Errorf("stats --format json: %v, %v; want 3 PIDs", js, err)
	}
	if r := e.run("top", "nosuch"); r.code != 125 || !strings.Contains(r.stderr, "no such container") {
		t.Errorf("top nosuch: %s", r)
	}
}
