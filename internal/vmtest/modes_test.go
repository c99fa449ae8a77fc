package main

import (
	"bytes"
	"maps"
	"strings"
	"testing"
)

// What the guest's /init reported in each mode, from real boots (the
// test process's /proc/self/cgroup joined by spaces, as init.sh sends it).
const (
	hybridCgroups = "14:name=systemd:/user.slice/user-1000.slice/session-1.scope 13:misc:/ 12:rdma:/ " +
		"11:pids:/user.slice/user-1000.slice/session-1.scope 10:hugetlb:/ 9:perf_event:/ 8:net_cls,net_prio:/ 7:freezer:/ " +
		"6:devices:/user.slice 5:memory:/user.slice/user-1000.slice/session-1.scope 4:blkio:/user.slice " +
		"3:cpu,cpuacct:/user.slice 2:cpuset:/ 0::/user.slice/user-1000.slice/session-1.scope "
	legacyCgroups = "13:name=systemd:/user.slice/user-1000.slice/session-1.scope 12:misc:/ 11:rdma:/ " +
		"10:pids:/user.slice/user-1000.slice/session-1.scope 9:hugetlb:/ 8:perf_event:/ 7:net_cls,net_prio:/ 6:freezer:/ " +
		"5:devices:/user.slice 4:memory:/user.slice/user-1000.slice/session-1.scope 3:blkio:/user.slice " +
		"2:cpu,cpuacct:/user.slice 1:cpuset:/ "
	// This CI host's hybrid layout: cpu and cpuacct apart, no net_cls.
	apartCgroups = "9:name=systemd:/ 8:pids:/ 7:blkio:/ 6:freezer:/ 5:devices:/ 4:memory:/ 3:cpuset:/ 2:cpuacct:/ 1:cpu:/ 0::/ "
)

var reported = map[string]map[string]string{
	"bare": {"cgroupfs": "63677270", "cgroupro": "rw", "v1mounts": "0", "proccgroup": "0::/ "},
	"systemd": {"cgroupfs": "63677270", "cgroupro": "rw", "v1mounts": "0",
		"proccgroup": "0::/user.slice/user-1000.slice/session-1.scope "},
	"hybrid": {"cgroupfs": "1021994", "cgroupro": "ro", "v1mounts": "13", "unified": "63677270", "unified_controllers": "",
		"proccgroup": hybridCgroups},
	"legacy": {"cgroupfs": "1021994", "cgroupro": "ro", "v1mounts": "13", "proccgroup": legacyCgroups},
}

func bootWith(mode string, change map[string]string) *bootLog {
	info := maps.Clone(reported[mode])
	for k, v := range change {
		if v == "-" {
			delete(info, k)
			continue
		}
		info[k] = v
	}
	return &bootLog{Mode: mode, Info: info}
}

func TestLayoutProblems(t *testing.T) {
	for mode := range reported {
		if p := layoutProblems(bootWith(mode, nil)); p != nil {
			t.Errorf("layoutProblems(%s, as reported) = %q; want none", mode, p)
		}
	}
	for _, c := range []struct {
		name, mode string
		change     map[string]string
		want       string
	}{
		{"v1 mounts under v2", "bare", map[string]string{"v1mounts": "1"}, "not pure cgroup v2"},
		{"tmpfs under v2", "systemd", map[string]string{"cgroupfs": "1021994"}, "not pure cgroup v2"},
		{"systemd tests in the root", "systemd", map[string]string{"proccgroup": "0::/"}, "want " + sessionScope},
		{"v2 process in v1 hierarchies", "bare", map[string]string{"proccgroup": "1:cpu:/ 0::/"}, "2 hierarchies"},
		{"no report", "hybrid", map[string]string{"proccgroup": "-"}, "no /proc/self/cgroup"},
		{"writable tmpfs", "hybrid", map[string]string{"cgroupro": "rw"}, "not a read-only tmpfs"},
		{"cgroup2 at /sys/fs/cgroup", "legacy", map[string]string{"cgroupfs": "63677270"}, "not a read-only tmpfs"},
		{"cpu and cpuacct apart", "hybrid", map[string]string{"proccgroup": apartCgroups}, "no cpu,cpuacct hierarchy"},
		{"hybrid without cgroup2", "hybrid", map[string]string{"unified": "-", "proccgroup": legacyCgroups}, "no cgroup2 at /sys/fs/cgroup/unified"},
		{"controllers on unified", "hybrid", map[string]string{"unified_controllers": "pids"}, "hybrid has every controller on v1"},
		{"legacy with cgroup2", "legacy", map[string]string{"proccgroup": hybridCgroups}, "legacy has none"},
		{"memory at the root", "legacy", map[string]string{"proccgroup": strings.Replace(legacyCgroups,
			"4:memory:/user.slice/user-1000.slice/session-1.scope", "4:memory:/", 1)}, "in / in memory"},
	} {
		p := layoutProblems(bootWith(c.mode, c.change))
		if !strings.Contains(strings.Join(p, "\n"), c.want) {
			t.Errorf("%s: layoutProblems(%s) = %q; want a problem saying %q", c.name, c.mode, p, c.want)
		}
	}
}

func TestDescribeBootV1(t *testing.T) {
	var b bytes.Buffer
	describeBoot(&b, bootWith("hybrid", map[string]string{"kernel": "6.1.0-57-amd64"}))
	for _, want := range []string{"cgroup v1 hybrid", "cgroup2 at unified/", "a ro tmpfs", "13 v1 hierarchies",
		"3:cpu,cpuacct:/user.slice", "0::" + sessionScope} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("describeBoot(hybrid) lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	describeBoot(&b, bootWith("legacy", nil))
	if out := b.String(); !strings.Contains(out, "cgroup v1 legacy") || strings.Contains(out, "unified") {
		t.Errorf("describeBoot(legacy) =\n%s\nwant cgroup v1 legacy, no unified tree", out)
	}
}
