//go:build linux

package main

import (
	"strings"
	"testing"
)

// TestPrivDiff: diff lists what a container changed in its image, as
// docker diff does (A, C, D, sorted by path): a file written, a file
// removed, a tree added, a directory removed and made again (opaque);
// not the engine's own files (the init layer's, a volume's mount point,
// whose contents are in the volume); nothing before the first start.
func TestPrivDiff(t *testing.T) {
	e := newEnv(t)
	script := "echo app:x:1000:1000::/:/bin/sh >> /etc/passwd; rm /etc/group; mkdir -p /srv/new; echo hi > /srv/new/f; " +
		"echo v > /data/v; rmdir /tmp; mkdir /tmp; touch /tmp/t"
	e.ok("create", "--name", "df", "-v", "dfdata:/data", "unbox/busybox", "sh", "-c", script)
	if got := e.out("diff", "df"); got != "" {
		t.Errorf("diff of a container never started:\n%s\nwant nothing", got)
	}
	if r := e.ok("start", "-a", "df"); r.stderr != "" {
		t.Fatalf("the script failed: %s", r)
	}
	want := strings.Join([]string{
		"C /etc", "D /etc/group", "C /etc/passwd",
		"A /srv", "A /srv/new", "A /srv/new/f",
		"C /tmp", "A /tmp/t",
	}, "\n")
	if got := e.out("diff", "df"); got != want {
		t.Errorf("diff:\n%s\nwant\n%s", got, want)
	}
	if r := e.run("diff", "nosuch"); r.code == 0 || !strings.Contains(r.stderr, "nosuch") {
		t.Errorf("diff of no such container: %s\nwant an error naming it", r)
	}
	if r := e.run("diff", "df", "df"); r.code != 125 {
		t.Errorf("diff of two containers: %s\nwant 125 (exactly one)", r)
	}
	e.ok("rm", "df")
	e.ok("volume", "rm", "dfdata")
}
