//go:build linux

package main

import (
	"strings"
	"testing"
	"time"
)

// TestPrivLogsSinceUntil: --since and --until keep the entries of a time
// window, read from the log's own times, in every form Docker takes, and
// --tail counts what they keep.
func TestPrivLogsSinceUntil(t *testing.T) {
	e := newEnv(t)
	e.ok("run", "--name", "lg", "unbox/busybox", "sh", "-c", "for i in 1 2 3 4 5; do echo l$i; sleep 0.2; done")
	var times []time.Time
	for _, l := range strings.Split(e.out("logs", "-t", "lg"), "\n") {
		stamp, _, _ := strings.Cut(l, " ")
		ts, err := time.Parse(time.RFC3339Nano, stamp)
		if err != nil {
			t.Fatalf("logs -t line %q: %v", l, err)
		}
		times = append(times, ts)
	}
	if len(times) != 5 {
		t.Fatalf("logs -t: %d lines; want 5", len(times))
	}
	third := times[2].Format(time.RFC3339Nano)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--since", third}, "l3 l4 l5"},
		{[]string{"--until", third}, "l1 l2"},
		{[]string{"--since", times[1].Format(time.RFC3339Nano), "--until", times[3].Format(time.RFC3339Nano)}, "l2 l3"},
		{[]string{"--since", third, "--tail", "1"}, "l5"},
		{[]string{"--since", "1h"}, "l1 l2 l3 l4 l5"},
		{[]string{"--until", "1h"}, ""},
	} {
		got := strings.Join(strings.Fields(e.out(append(append([]string{"logs"}, c.args...), "lg")...)), " ")
		if got != c.want {
			t.Errorf("logs %v: %q; want %q", c.args, got, c.want)
		}
	}
	if r := e.run("logs", "--since", "yesterday", "lg"); r.code != 125 || !strings.Contains(r.stderr, "invalid time") {
		t.Errorf("logs --since yesterday: %s\nwant 125 and the forms it takes", r)
	}
	e.ok("rm", "lg")
}
