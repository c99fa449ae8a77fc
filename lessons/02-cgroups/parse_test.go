//go:build linux

package main

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseProcCgroup(t *testing.T) {
	v1, err := parseProcCgroup(readTestdata(t, "proc-self-cgroup-v1.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(v1) != 10 {
		t.Fatalf("v1: %d lines; want 10", len(v1))
	}
	if want := (procCgroup{ID: 4, Controllers: []string{"memory"}, Path: "/process_api/d7c8a36fcf49bd1a95c4d45916c25517"}); !reflect.DeepEqual(v1[5], want) {
		t.Errorf("v1 line 6 = %+v; want %+v", v1[5], want)
	}
	if want := (procCgroup{ID: 9, Controllers: []string{"name=systemd"}, Path: "/"}); !reflect.DeepEqual(v1[0], want) {
		t.Errorf("v1 line 1 = %+v; want %+v", v1[0], want)
	}
	v2, err := parseProcCgroup(readTestdata(t, "proc-self-cgroup-v2.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if want := []procCgroup{{ID: 0, Path: "/test.scope"}}; !reflect.DeepEqual(v2, want) {
		t.Errorf("v2 = %+v; want %+v", v2, want)
	}

	for _, c := range []struct {
		text, controller, want string
		ok                     bool
	}{
		{readTestdata(t, "proc-self-cgroup-v1.txt"), "memory", "/process_api/d7c8a36fcf49bd1a95c4d45916c25517", true},
		{readTestdata(t, "proc-self-cgroup-v1.txt"), "cpu", "/", true},
		{readTestdata(t, "proc-self-cgroup-v1.txt"), "", "/", true},
		{readTestdata(t, "proc-self-cgroup-v2.txt"), "", "/test.scope", true},
		{readTestdata(t, "proc-self-cgroup-v2.txt"), "memory", "", false},
		{"3:cpu,cpuacct:/docker/abc\n", "cpuacct", "/docker/abc", true},
		{"0::/a:b\n", "", "/a:b", true}, // a path with a colon
	} {
		lines, err := parseProcCgroup(c.text)
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := pathFor(lines, c.controller); got != c.want || ok != c.ok {
			t.Errorf("pathFor(%q, %q) = %q, %v; want %q, %v", firstLine(c.text), c.controller, got, ok, c.want, c.ok)
		}
	}
	for _, bad := range []string{"0:/x", "x::/", "nonsense"} {
		if _, err := parseProcCgroup(bad); err == nil {
			t.Errorf("parseProcCgroup(%q) = nil error; want one", bad)
		}
	}
}

func firstLine(s string) string { l, _, _ := strings.Cut(s, "\n"); return l }

func TestParseKeyed(t *testing.T) {
	for _, c := range []struct {
		file string
		want map[string]uint64
	}{
		{"cpu.stat-v2.txt", map[string]uint64{"usage_usec": 2790491, "user_usec": 939005, "system_usec": 1851486, "nr_periods": 139, "nr_throttled": 138, "throttled_usec": 17046225, "nr_bursts": 0, "burst_usec": 0}},
		{"cpu.stat-v1.txt", map[string]uint64{"nr_periods": 38, "nr_throttled": 38, "throttled_time": 2778537254, "nr_bursts": 0, "burst_time": 0}},
		{"memory.events.txt", map[string]uint64{"low": 0, "high": 0, "max": 9112, "oom": 535, "oom_kill": 1, "oom_group_kill": 0}},
		{"memory.oom_control.txt", map[string]uint64{"oom_kill_disable": 0, "under_oom": 0, "oom_kill": 1}},
		{"pids.events.txt", map[string]uint64{"max": 1}},
	} {
		got, err := parseKeyed(readTestdata(t, c.file))
		if err != nil {
			t.Errorf("parseKeyed(%s): %v", c.file, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("parseKeyed(%s) = %v; want %v", c.file, got, c.want)
		}
	}
	for _, bad := range []string{"max", "max -1", "max x"} {
		if _, err := parseKeyed(bad); err == nil {
			t.Errorf("parseKeyed(%q) = nil error; want one", bad)
		}
	}
	if got, err := parseKeyed(""); err != nil || len(got) != 0 {
		t.Errorf("parseKeyed(\"\") = %v, %v; want an empty map", got, err)
	}
}

func TestParseCPUMax(t *testing.T) {
	for _, c := range []struct {
		in            string
		quota, period int64
		ok            bool
	}{
		{"20000 100000\n", 20000, 100000, true},
		{"max 100000\n", -1, 100000, true},
		{"20000", 0, 0, false},
		{"x 100000", 0, 0, false},
		{"20000 y", 0, 0, false},
	} {
		q, p, err := parseCPUMax(c.in)
		if (err == nil) != c.ok || (c.ok && (q != c.quota || p != c.period)) {
			t.Errorf("parseCPUMax(%q) = %d, %d, %v; want %d, %d (ok %v)", c.in, q, p, err, c.quota, c.period, c.ok)
		}
	}
}

func TestParseLimit(t *testing.T) {
	for _, c := range []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"max\n", 0, true},
		{"33554432\n", 33554432, true},
		{"-1", 0, false},
	} {
		got, err := parseLimit(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("parseLimit(%q) = %d, %v; want %d (ok %v)", c.in, got, err, c.want, c.ok)
		}
	}
}

func TestParsePids(t *testing.T) {
	got, err := parsePids("101\n102\n")
	if err != nil || !reflect.DeepEqual(got, []int{101, 102}) {
		t.Errorf("parsePids = %v, %v; want [101 102]", got, err)
	}
	if got, err := parsePids(""); err != nil || got != nil {
		t.Errorf("parsePids(\"\") = %v, %v; want nothing", got, err)
	}
	if _, err := parsePids("12 x"); err == nil {
		t.Error("parsePids(\"12 x\") = nil error; want one")
	}
}

func TestMemInfo(t *testing.T) {
	text := "MemTotal:       24683300 kB\nMemFree:        24390004 kB\nHugePages_Total:       0\n"
	if got, err := memInfo(text, "MemTotal"); err != nil || got != 24683300*1024 {
		t.Errorf("memInfo(MemTotal) = %d, %v; want %d", got, err, 24683300*1024)
	}
	if got, err := memInfo(text, "HugePages_Total"); err != nil || got != 0 {
		t.Errorf("memInfo(HugePages_Total) = %d, %v; want 0", got, err)
	}
	if _, err := memInfo(text, "SwapTotal"); err == nil {
		t.Error("memInfo(SwapTotal) = nil error; want one for a missing field")
	}
}
