package engine

import (
	"fmt"
	"strings"
	"testing"
	"time"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
)

// TestHealthStateMachine feeds Health.record sequences of probe results,
// each at a time after the start, and checks the status and streak after
// each, as Docker's daemon would have them (daemon/health.go).
func TestHealthStateMachine(t *testing.T) {
	type step struct {
		at     time.Duration // the probe's start, after the container's
		code   int           // -1: timed out
		status string
		streak int
	}
	for _, tc := range []struct {
		name  string
		cfg   dockerspec.HealthcheckConfig
		steps []step
	}{{
		name: "failures count from the first, unhealthy at retries",
		cfg:  dockerspec.HealthcheckConfig{Retries: 2},
		steps: []step{
			{1 * time.Second, 1, HealthStarting, 1},
			{2 * time.Second, 1, HealthUnhealthy, 2},
			{3 * time.Second, 1, HealthUnhealthy, 3},
			{4 * time.Second, 0, HealthHealthy, 0},
		},
	}, {
		name: "a timeout is a failure",
		cfg:  dockerspec.HealthcheckConfig{Retries: 1},
		steps: []step{
			{1 * time.Second, 0, HealthHealthy, 0},
			{2 * time.Second, -1, HealthUnhealthy, 1},
		},
	}, {
		name: "healthy stays healthy until the streak reaches retries",
		cfg:  dockerspec.HealthcheckConfig{}, // Docker's default: 3 retries
		steps: []step{
			{1 * time.Second, 0, HealthHealthy, 0},
			{2 * time.Second, 1, HealthHealthy, 1},
			{3 * time.Second, 1, HealthHealthy, 2},
			{4 * time.Second, 0, HealthHealthy, 0},
			{5 * time.Second, 1, HealthHealthy, 1},
			{6 * time.Second, 2, HealthHealthy, 2},
			{7 * time.Second, -1, HealthUnhealthy, 3},
		},
	}, {
		name: "failures in the start period do not count",
		cfg:  dockerspec.HealthcheckConfig{Retries: 1, StartPeriod: 10 * time.Second},
		steps: []step{
			{1 * time.Second, 1, HealthStarting, 0},
			{9 * time.Second, -1, HealthStarting, 0},
			{10 * time.Second, 1, HealthUnhealthy, 1},
		},
	}, {
		name: "a success ends the start period",
		cfg:  dockerspec.HealthcheckConfig{Retries: 1, StartPeriod: 10 * time.Second},
		steps: []step{
			{1 * time.Second, 0, HealthHealthy, 0},
			{2 * time.Second, 1, HealthUnhealthy, 1},
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			var h Health
			h.start()
			timing := timingOf(&tc.cfg)
			for i, s := range tc.steps {
				h.record(timing, start, HealthResult{Start: start.Add(s.at), End: start.Add(s.at), ExitCode: s.code})
				if h.Status != s.status || h.FailingStreak != s.streak {
					t.Fatalf("after probe %d (exit %d at %v): status %s, streak %d; want %s, %d", i+1, s.code, s.at, h.Status, h.FailingStreak, s.status, s.streak)
				}
			}
			// A new start of the container: starting again, no streak,
			// the log kept.
			h.start()
			if h.Status != HealthStarting || h.FailingStreak != 0 || len(h.Log) == 0 {
				t.Errorf("after a restart: %+v; want starting, streak 0, the log kept", h)
			}
		})
	}
}

// TestHealthLogAndOutput: the log keeps the last five results; a probe's
// output is capped at 4096 bytes.
func TestHealthLogAndOutput(t *testing.T) {
	var h Health
	h.start()
	for i := range 7 {
		h.record(timingOf(&dockerspec.HealthcheckConfig{}), time.Time{}, HealthResult{ExitCode: i})
	}
	var codes []int
	for _, r := range h.Log {
		codes = append(codes, r.ExitCode)
	}
	if fmt.Sprint(codes) != "[2 3 4 5 6]" {
		t.Errorf("log after 7 probes has exit codes %v; want [2 3 4 5 6]", codes)
	}
	var b cappedBuffer
	b.Write([]byte(strings.Repeat("a", 4000)))
	if n, _ := b.Write([]byte(strings.Repeat("b", 200))); n != 200 {
		t.Errorf("cappedBuffer.Write = %d; want 200 (it takes everything)", n)
	}
	b.Write([]byte("c"))
	if got := b.String(); len(got) != 4096+3 || !strings.HasSuffix(got, strings.Repeat("b", 96)+"...") {
		t.Errorf("cappedBuffer kept %d bytes; want the first 4096, then ...", len(got))
	}
	var short cappedBuffer
	short.Write([]byte("ok\n"))
	if short.String() != "ok\n" {
		t.Errorf("cappedBuffer of 3 bytes = %q; want them, as they were", short.String())
	}
}

// TestHealthNextProbe: every StartInterval while starting within the start
// period, else every Interval; Docker's defaults for zero values.
func TestHealthNextProbe(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tm := timingOf(&dockerspec.HealthcheckConfig{StartPeriod: time.Minute, StartInterval: time.Second, Interval: 10 * time.Second})
	for _, tc := range []struct {
		after  time.Duration
		status string
		want   time.Duration
	}{
		{0, HealthStarting, time.Second},
		{30 * time.Second, HealthStarting, time.Second},
		{30 * time.Second, HealthHealthy, 10 * time.Second},
		{30 * time.Second, HealthUnhealthy, 10 * time.Second},
		{time.Minute, HealthStarting, 10 * time.Second},
	} {
		if got := tm.nextProbe(start, start.Add(tc.after), tc.status); got != tc.want {
			t.Errorf("nextProbe(%v after the start, %s) = %v; want %v", tc.after, tc.status, got, tc.want)
		}
	}
	d := timingOf(&dockerspec.HealthcheckConfig{})
	if d.Interval != 30*time.Second || d.Timeout != 30*time.Second || d.StartInterval != 5*time.Second || d.Retries != 3 || d.StartPeriod != 0 {
		t.Errorf("defaults = %+v; want Docker's: 30s, 30s, start interval 5s, 3 retries, no start period", d)
	}
	if got := d.nextProbe(start, start, HealthStarting); got != 30*time.Second {
		t.Errorf("without a start period, the first probe is due after %v; want the interval, 30s", got)
	}
}

// TestMergeHealthcheck: the user's fields over the image's, one by one.
func TestMergeHealthcheck(t *testing.T) {
	img := &dockerspec.HealthcheckConfig{Test: []string{"CMD", "true"}, Interval: time.Minute, Timeout: time.Second, Retries: 5}
	got := MergeHealthcheck(&dockerspec.HealthcheckConfig{Interval: time.Second, Retries: 2}, img)
	want := dockerspec.HealthcheckConfig{Test: []string{"CMD", "true"}, Interval: time.Second, Timeout: time.Second, Retries: 2}
	if fmt.Sprint(*got) != fmt.Sprint(want) {
		t.Errorf("MergeHealthcheck = %+v; want %+v", *got, want)
	}
	if got := MergeHealthcheck(&dockerspec.HealthcheckConfig{Test: []string{"NONE"}}, img); healthEnabled(got) {
		t.Errorf("NONE over the image's: %+v; want no healthcheck", got)
	}
	if got := MergeHealthcheck(nil, img); got == img || fmt.Sprint(*got) != fmt.Sprint(*img) {
		t.Errorf("no flags: %+v; want a copy of the image's", got)
	}
	if MergeHealthcheck(nil, nil) != nil {
		t.Errorf("no healthcheck anywhere: want nil")
	}
	for _, bad := range []dockerspec.HealthcheckConfig{
		{Test: []string{"CMD", "true"}, Interval: time.Microsecond},
		{Test: []string{"CMD", "true"}, Retries: -1},
		{Test: []string{"CMD"}},
		{Test: []string{"SHELL", "true"}},
	} {
		if err := checkHealthcheck(&bad); err == nil {
			t.Errorf("checkHealthcheck(%+v) = nil; want an error", bad)
		}
	}
	if cmd, _ := healthCommand([]string{"CMD-SHELL", "test -f /x"}, nil); fmt.Sprint(cmd) != "[/bin/sh -c test -f /x]" {
		t.Errorf("healthCommand(CMD-SHELL) = %q", cmd)
	}
	if cmd, _ := healthCommand([]string{"CMD-SHELL", "test -f /x"}, []string{"/bin/ash", "-ec"}); fmt.Sprint(cmd) != "[/bin/ash -ec test -f /x]" {
		t.Errorf("healthCommand(CMD-SHELL) with the image's SHELL = %q", cmd)
	}
	if cmd, _ := healthCommand([]string{"CMD", "test", "-f", "/x"}, []string{"/bin/ash", "-ec"}); fmt.Sprint(cmd) != "[test -f /x]" {
		t.Errorf("healthCommand(CMD) = %q; want the arguments alone", cmd)
	}
}
