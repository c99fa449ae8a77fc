//go:build linux

package main

// Parsers for the text the kernel writes in /proc and cgroup files. They
// are pure and tested against real text in testdata/.

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// parseKeyed parses a "flat keyed" file (cgroup-v2.rst, "Interface Files"):
// one "key value" pair per line, as in cpu.stat, memory.events,
// pids.events and v1's memory.oom_control.
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
// "no limit" is a huge number (PAGE_COUNTER_MAX pages), which is returned
// as it is.
func parseLimit(text string) (uint64, error) {
	text = strings.TrimSpace(text)
	if text == "max" {
		return 0, nil
	}
	return strconv.ParseUint(text, 10, 64)
}

// parseCPUMax parses v2's cpu.max, "$QUOTA $PERIOD", where QUOTA may be
// "max". quota is -1 for no limit.
func parseCPUMax(text string) (quota, period int64, err error) {
	q, p, ok := strings.Cut(strings.TrimSpace(text), " ")
	if !ok {
		return 0, 0, fmt.Errorf("cpu.max %q: want \"$QUOTA $PERIOD\"", text)
	}
	if period, err = strconv.ParseInt(p, 10, 64); err != nil {
		return 0, 0, fmt.Errorf("cpu.max %q: %w", text, err)
	}
	if q == "max" {
		return -1, period, nil
	}
	quota, err = strconv.ParseInt(q, 10, 64)
	return quota, period, err
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

// procCgroup is one line of /proc/<pid>/cgroup (cgroups(7)):
// "hierarchy-ID:controller-list:cgroup-path". The cgroup v2 line is
// "0::/path"; a v1 line lists its controllers ("4:memory:/path",
// "3:cpu,cpuacct:/path", "1:name=systemd:/path").
type procCgroup struct {
	ID          int
	Controllers []string
	Path        string
}

func parseProcCgroup(text string) ([]procCgroup, error) {
	var out []procCgroup
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		if line == "" {
			continue
		}
		// The path may itself hold colons: split off the first two fields.
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			return nil, fmt.Errorf("/proc/self/cgroup line %q: want ID:controllers:path", line)
		}
		id, err := strconv.Atoi(f[0])
		if err != nil {
			return nil, fmt.Errorf("/proc/self/cgroup line %q: %w", line, err)
		}
		pc := procCgroup{ID: id, Path: f[2]}
		if f[1] != "" {
			pc.Controllers = strings.Split(f[1], ",")
		}
		out = append(out, pc)
	}
	return out, nil
}

// pathFor returns the cgroup path of the v1 hierarchy that has controller,
// or of the v2 tree when controller is "".
func pathFor(lines []procCgroup, controller string) (string, bool) {
	for _, l := range lines {
		if controller == "" && l.ID == 0 && len(l.Controllers) == 0 {
			return l.Path, true
		}
		for _, c := range l.Controllers {
			if controller != "" && c == controller {
				return l.Path, true
			}
		}
	}
	return "", false
}

// memInfo returns a field of /proc/meminfo text in bytes ("MemTotal").
func memInfo(text, field string) (uint64, error) {
	for _, line := range strings.Split(text, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || k != field {
			continue
		}
		f := strings.Fields(v)
		n, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/meminfo %s: %w", field, err)
		}
		if len(f) > 1 && f[1] == "kB" {
			n *= 1024
		}
		return n, nil
	}
	return 0, fmt.Errorf("/proc/meminfo has no %s", field)
}

// statReader reads several cgroup files and keeps the first error, so that
// Stats reads like a list of fields.
type statReader struct{ err error }

func (r *statReader) read(path string) string {
	b, err := os.ReadFile(path)
	if err != nil && r.err == nil {
		r.err = err
	}
	return string(b)
}

func (r *statReader) keyed(path string) map[string]uint64 {
	text := r.read(path)
	m, err := parseKeyed(text)
	if err != nil && r.err == nil {
		r.err = fmt.Errorf("%s: %w", path, err)
	}
	return m
}

func (r *statReader) number(path string) uint64 {
	text := strings.TrimSpace(r.read(path))
	n, err := strconv.ParseUint(text, 10, 64)
	if err != nil && r.err == nil {
		r.err = fmt.Errorf("%s: %w", path, err)
	}
	return n
}

func (r *statReader) limit(path string) uint64 {
	n, err := parseLimit(r.read(path))
	if err != nil && r.err == nil {
		r.err = fmt.Errorf("%s: %w", path, err)
	}
	return n
}

// optionalNumber is a file that older kernels lack (memory.peak): 0 then.
func (r *statReader) optionalNumber(path string) uint64 {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return 0
	}
	return r.number(path)
}

// signed reads a number that may be negative (v1's cpu.cfs_quota_us is -1
// for no limit).
func (r *statReader) signed(path string) int64 {
	text := strings.TrimSpace(r.read(path))
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil && r.err == nil {
		r.err = fmt.Errorf("%s: %w", path, err)
	}
	return n
}
