package cgroups

// Parsers for the text of cgroup interface files (cgroup-v2.rst,
// "Interface Files", describes the formats; v1 uses the same ones). They
// are pure and tested against real kernel text in testdata/.

import (
	"fmt"
	"strconv"
	"strings"
)

// parseKeyed parses a "flat keyed" file: one "key value" pair per line, as
// in cpu.stat, memory.events, memory.stat, pids.events and v1's
// memory.oom_control and cpuacct.stat.
func parseKeyed(text string) (map[string]uint64, error) {
	m := map[string]uint64{}
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, " ")
		if !ok {
			return nil, fmt.Errorf("line %q: want \"key value\"", line)
		}
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("line %q: %w", line, err)
		}
		m[k] = n
	}
	return m, nil
}

// parseLimit parses a limit file: a number, or "max" for none (0). v1's
// "no limit" is a huge number instead, which the v1 code maps to 0.
func parseLimit(text string) (uint64, error) {
	text = strings.TrimSpace(text)
	if text == "max" {
		return 0, nil
	}
	return strconv.ParseUint(text, 10, 64)
}

// parseCPUMax parses v2's cpu.max, "$QUOTA $PERIOD", where QUOTA may be
// "max": quota is then [Unlimited].
func parseCPUMax(text string) (quota int64, period uint64, err error) {
	q, p, ok := strings.Cut(strings.TrimSpace(text), " ")
	if !ok {
		return 0, 0, fmt.Errorf("cpu.max %q: want \"$QUOTA $PERIOD\"", text)
	}
	if period, err = strconv.ParseUint(p, 10, 64); err != nil {
		return 0, 0, fmt.Errorf("cpu.max %q: %w", text, err)
	}
	if q == "max" {
		return Unlimited, period, nil
	}
	if quota, err = strconv.ParseInt(q, 10, 64); err != nil {
		return 0, 0, fmt.Errorf("cpu.max %q: %w", text, err)
	}
	return quota, period, nil
}

// parsePids parses cgroup.procs: one PID per line.
func parsePids(text string) ([]int, error) {
	var pids []int
	for _, f := range strings.Fields(text) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("cgroup.procs: %q is not a PID", f)
		}
		pids = append(pids, pid)
	}
	return pids, nil
}
