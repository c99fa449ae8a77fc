//go:build linux

package main

import (
	"strings"
	"testing"
)

// TestPrivAttach: attach joins a detached container's output and input
// through its monitor and exits with its status; it refuses a stopped
// container (and does not start it) and a paused one.
func TestPrivAttach(t *testing.T) {
	e := newEnv(t)
	e.ok("run", "-d", "-i", "--name", "at", "unbox/busybox", "sh", "-c", "echo ready; read x; echo got $x; exit 4")
	e.waitLog("at", "ready")
	r := e.runIn(strings.NewReader("hello\n"), "attach", "at")
	if r.code != 4 || !strings.Contains(r.stdout, "got hello") {
		t.Errorf("attach with input: %s\nwant the container's answer and its status, 4", r)
	}
	if r := e.run("attach", "at"); r.code == 0 || !strings.Contains(r.stderr, "stopped container") {
		t.Errorf("attach to a stopped container: %s\nwant refused", r)
	}
	if c := e.inspect("at"); c.State.Status != "exited" {
		t.Errorf("attach started a stopped container: %+v", c.State)
	}

	e.ok("run", "-d", "--name", "at2", "unbox/busybox", "sh", "-c", "echo first; sleep 60")
	e.waitLog("at2", "first")
	e.ok("pause", "at2")
	if r := e.run("attach", "at2"); r.code == 0 || !strings.Contains(r.stderr, "paused container") {
		t.Errorf("attach to a paused container: %s\nwant refused", r)
	}
	e.ok("rm", "-f", "at", "at2")
}
