//go:build linux

package main

import (
	"strings"
	"testing"
)

// TestPrivContainerCommands: Docker's management command names, as
// tutorials type them: container run/ls/stop/rm/prune, image ls.
func TestPrivContainerCommands(t *testing.T) {
	e := newEnv(t)
	e.ok("container", "run", "-d", "--name", "cg1", "unbox/busybox", "sleep", "60")
	e.ok("container", "create", "--name", "cg2", "unbox/busybox", "true")
	for _, ls := range []string{"ls", "ps", "list"} {
		if out := e.out("container", ls); !strings.Contains(out, "cg1") || strings.Contains(out, "cg2") {
			t.Errorf("container %s:\n%s\nwant cg1, the running one, alone", ls, out)
		}
	}
	if out := e.out("container", "ls", "-a"); !strings.Contains(out, "cg2") {
		t.Errorf("container ls -a:\n%s\nwant cg2 too", out)
	}
	e.ok("container", "stop", "-t", "1", "cg1")
	e.ok("run", "-d", "--name", "cg3", "unbox/busybox", "sleep", "60")
	id1, id2 := e.inspect("cg1").ID, e.inspect("cg2").ID
	out := e.out("container", "prune", "-f")
	if !strings.Contains(out, "Deleted Containers:") || !strings.Contains(out, id1) || !strings.Contains(out, id2) {
		t.Errorf("container prune:\n%s\nwant the stopped ones, %s and %s", out, id1, id2)
	}
	if r := e.run("inspect", "cg1"); r.code == 0 {
		t.Errorf("cg1 is still there after container prune")
	}
	if c := e.inspect("cg3"); c.State.Status != "running" {
		t.Errorf("container prune touched a running container: %+v", c.State)
	}
	if out := e.out("image", "ls"); !strings.Contains(out, "unbox/busybox") {
		t.Errorf("image ls:\n%s\nwant the built-in image", out)
	}
	e.ok("container", "rm", "-f", "cg3")
}
