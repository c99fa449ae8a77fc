package cgroups

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

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
		{"cpuacct.stat.txt", map[string]uint64{"user": 59515, "system": 29179}},
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
	stat, err := parseKeyed(readTestdata(t, "memory.stat-v1.txt"))
	if err != nil || stat["total_inactive_file"] != 3145728 || stat["hierarchical_memory_limit"] != 9223372036854771712 {
		t.Errorf("parseKeyed(memory.stat-v1.txt) = %v, %v; want total_inactive_file 3145728", stat, err)
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
		in     string
		quota  int64
		period uint64
		ok     bool
	}{
		{"20000 100000\n", 20000, 100000, true},
		{"max 100000\n", Unlimited, 100000, true},
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

func TestResourcesValidate(t *testing.T) {
	ok := []Resources{
		{}, {CPUQuota: Unlimited, CPUPeriod: 1000}, {CPUQuota: 1000, CPUPeriod: 1000000}, {CPUShares: 2}, {CPUWeight: 10000},
		{Memory: Unlimited, MemorySwap: Unlimited, PidsLimit: Unlimited}, {Memory: 32, MemorySwap: 32},
	}
	for _, r := range ok {
		if err := r.Validate(); err != nil {
			t.Errorf("%+v.Validate() = %v; want nil", r, err)
		}
	}
	bad := []Resources{
		{CPUQuota: -2}, {CPUQuota: 999}, {CPUPeriod: 999}, {CPUPeriod: 1000001}, {CPUShares: 1}, {CPUWeight: 10001},
		{CPUShares: 2, CPUWeight: 1}, {Memory: -2}, {PidsLimit: -5}, {Memory: 64, MemorySwap: 32},
	}
	for _, r := range bad {
		if err := r.Validate(); err == nil {
			t.Errorf("%+v.Validate() = nil; want an error", r)
		}
	}
}
