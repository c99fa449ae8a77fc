package engine

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
)

// A container's healthcheck is Docker's (HEALTHCHECK in a Dockerfile,
// `docker run --health-*`, a Compose service's healthcheck): a command
// run inside the container every Interval, whose exit status says whether
// the container is healthy. The container's monitor runs it (Docker's
// daemon does, daemon/health.go), from each start of the container's
// process until it ends, and records the outcome in State.Health, which
// `ps` shows as "Up 5 seconds (healthy)".
//
// The rules, Docker's:
//
//   - a start sets the status to "starting", and the streak to 0;
//   - a probe that exits 0 makes the container "healthy" and ends its
//     failing streak;
//   - any other outcome (a non-zero status, a timeout, a command that
//     cannot run) adds one to the streak, and Retries failures in a row
//     make it "unhealthy"; but a failure during the start period, while
//     the container is still "starting", does not count;
//   - during the start period, a container still "starting" is probed
//     every StartInterval; otherwise every Interval.

// The health statuses, Docker's words; HealthNone is the `ps --filter
// health=` word for a container without a healthcheck.
const (
	HealthStarting  = "starting"
	HealthHealthy   = "healthy"
	HealthUnhealthy = "unhealthy"
	HealthNone      = "none"
)

// Docker's defaults for a healthcheck's zero values, and its limits: the
// last five results are kept, each with the first 4096 bytes of output
// (daemon/health.go: maxLogEntries, maxOutputLen).
const (
	defaultHealthInterval      = 30 * time.Second
	defaultHealthTimeout       = 30 * time.Second
	defaultHealthStartInterval = 5 * time.Second
	defaultHealthRetries       = 3
	healthLogEntries           = 5
	healthOutputMax            = 4096
)

// Health is a container's health as inspect shows it (State.Health).
type Health struct {
	Status        string         `json:"Status"`
	FailingStreak int            `json:"FailingStreak"`
	Log           []HealthResult `json:"Log"`
}

// HealthResult is one probe's outcome. ExitCode is the command's status,
// or -1 if it timed out or could not run (Output then says why).
type HealthResult struct {
	Start    time.Time `json:"Start"`
	End      time.Time `json:"End"`
	ExitCode int       `json:"ExitCode"`
	Output   string    `json:"Output"`
}

// HealthString is the container's health as `ps --filter health=` matches
// it: its status, or "none" if it has no healthcheck.
func (s State) HealthString() string {
	if s.Health == nil {
		return HealthNone
	}
	return s.Health.Status
}

// healthEnabled reports whether h is a healthcheck to run: one with a
// test that is not NONE.
func healthEnabled(h *dockerspec.HealthcheckConfig) bool {
	return h != nil && len(h.Test) > 0 && h.Test[0] != "NONE"
}

// healthTiming is h's timing with Docker's defaults for its zero values.
type healthTiming struct {
	Interval, Timeout, StartPeriod, StartInterval time.Duration
	Retries                                       int
}

func timingOf(h *dockerspec.HealthcheckConfig) healthTiming {
	t := healthTiming{Interval: defaultHealthInterval, Timeout: defaultHealthTimeout,
		StartPeriod: h.StartPeriod, StartInterval: defaultHealthStartInterval, Retries: defaultHealthRetries}
	if h.Interval > 0 {
		t.Interval = h.Interval
	}
	if h.Timeout > 0 {
		t.Timeout = h.Timeout
	}
	if h.StartInterval > 0 {
		t.StartInterval = h.StartInterval
	}
	if h.Retries > 0 {
		t.Retries = h.Retries
	}
	return t
}

// healthCommand is the process a test runs: CMD's arguments as they are,
// CMD-SHELL's command through the image's SHELL, or /bin/sh -c, as Docker
// runs them.
func healthCommand(test, shell []string) ([]string, error) {
	if len(test) < 2 {
		return nil, fmt.Errorf("healthcheck test %q has no command", test)
	}
	switch test[0] {
	case "CMD":
		return test[1:], nil
	case "CMD-SHELL":
		if len(shell) == 0 {
			shell = []string{"/bin/sh", "-c"}
		}
		return append(slices.Clone(shell), strings.Join(test[1:], " ")), nil
	}
	return nil, fmt.Errorf("healthcheck test %q: want NONE, CMD or CMD-SHELL first", test)
}

// MergeHealthcheck is the container's healthcheck: the image's, with each
// field the user gave (flags, a Compose file) in its place, as Docker
// merges them (daemon/commit.go, merge): an empty test or a zero value
// keeps the image's.
func MergeHealthcheck(user, image *dockerspec.HealthcheckConfig) *dockerspec.HealthcheckConfig {
	if user == nil {
		if image == nil {
			return nil
		}
		h := *image
		return &h
	}
	h := *user
	if image == nil {
		return &h
	}
	if len(h.Test) == 0 {
		h.Test = image.Test
	}
	if h.Interval == 0 {
		h.Interval = image.Interval
	}
	if h.Timeout == 0 {
		h.Timeout = image.Timeout
	}
	if h.StartPeriod == 0 {
		h.StartPeriod = image.StartPeriod
	}
	if h.StartInterval == 0 {
		h.StartInterval = image.StartInterval
	}
	if h.Retries == 0 {
		h.Retries = image.Retries
	}
	return &h
}

// checkHealthcheck refuses what Docker's daemon refuses: durations under
// a millisecond (but zero, the default), negative retries, a test that
// is not NONE, CMD or CMD-SHELL with a command.
func checkHealthcheck(h *dockerspec.HealthcheckConfig) error {
	if h == nil {
		return nil
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"interval", h.Interval}, {"timeout", h.Timeout}, {"start period", h.StartPeriod}, {"start interval", h.StartInterval}} {
		if d.v != 0 && d.v < time.Millisecond {
			return fmt.Errorf("the healthcheck's %s cannot be less than 1ms (%v)", d.name, d.v)
		}
	}
	if h.Retries < 0 {
		return errors.New("the healthcheck's retries cannot be negative")
	}
	if len(h.Test) == 0 || h.Test[0] == "NONE" {
		return nil
	}
	_, err := healthCommand(h.Test, nil)
	return err
}

// start resets h for a new start of the container: "starting", no
// failures; the log of earlier runs is kept, as Docker keeps it.
func (h *Health) start() {
	h.Status, h.FailingStreak = HealthStarting, 0
	if h.Log == nil {
		h.Log = []HealthResult{}
	}
}

// record takes one probe's result r into h, for a container whose process
// started at startedAt (daemon/health.go, handleProbeResult).
func (h *Health) record(t healthTiming, startedAt time.Time, r HealthResult) {
	h.Log = append(h.Log, r)
	if len(h.Log) > healthLogEntries {
		h.Log = append([]HealthResult(nil), h.Log[len(h.Log)-healthLogEntries:]...)
	}
	if r.ExitCode == 0 {
		h.Status, h.FailingStreak = HealthHealthy, 0
		return
	}
	if h.Status == HealthStarting && r.Start.Sub(startedAt) < t.StartPeriod {
		return // the start period's failures do not count
	}
	h.FailingStreak++
	if h.FailingStreak >= t.Retries {
		h.Status = HealthUnhealthy
	}
}

// nextProbe is how long after a probe (or the start) at now the next one
// is due: StartInterval while the container is still starting within its
// start period, else Interval.
func (t healthTiming) nextProbe(startedAt, now time.Time, status string) time.Duration {
	if now.Sub(startedAt) < t.StartPeriod && status == HealthStarting {
		return t.StartInterval
	}
	return t.Interval
}

// cappedBuffer keeps the first healthOutputMax bytes written to it, and
// says "..." after them if there was more, as Docker keeps a probe's
// output.
type cappedBuffer struct {
	b         []byte
	truncated bool
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	room := healthOutputMax - len(c.b)
	c.b = append(c.b, p[:max(0, min(room, len(p)))]...)
	c.truncated = c.truncated || room < len(p)
	return len(p), nil
}

func (c *cappedBuffer) String() string {
	if c.truncated {
		return string(c.b) + "..."
	}
	return string(c.b)
}
