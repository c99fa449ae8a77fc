//go:build linux

package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/unboxlab/unbox/internal/cgroups"
)

func TestShellPaths(t *testing.T) {
	for _, c := range []struct {
		in   []string
		want string
	}{
		{[]string{"/a/b"}, "/a/b"},
		{[]string{"/r/cpu/x", "/r/memory/x"}, "/r/{cpu,memory}/x"},
		{[]string{"/r/cpu/x/p", "/r/memory/x/p", "/r/pids/x/p"}, "/r/{cpu,memory,pids}/x/p"},
		{[]string{"/r/cpu,cpuacct/x", "/r/memory/x"}, "/r/cpu,cpuacct/x /r/memory/x"},
		{[]string{"/r/a/x", "/r/b/y"}, "/r/a/x /r/b/y"},
		{[]string{"/r/a", "/r/a/b"}, "/r/a /r/a/b"},
	} {
		if got := shellPaths(c.in); got != c.want {
			t.Errorf("shellPaths(%q) = %q; want %q", c.in, got, c.want)
		}
	}
}

// TestShellLines: the package's trace as the lesson prints it.
func TestShellLines(t *testing.T) {
	mk := func(kind cgroups.OpKind, path, value string) cgroups.Op {
		return cgroups.Op{Kind: kind, Path: path, Value: value}
	}
	v1 := &cgroups.Host{Root: "/r", Mode: cgroups.Hybrid}
	v2 := &cgroups.Host{Root: "/r", Mode: cgroups.Unified}
	for _, c := range []struct {
		name string
		h    *cgroups.Host
		ops  []cgroups.Op
		want []string
	}{
		{"v1 create: a mkdir per level, across hierarchies", v1, []cgroups.Op{
			mk(cgroups.OpMkdir, "/r/cpu/x", ""), mk(cgroups.OpMkdir, "/r/cpu/x/y", ""),
			mk(cgroups.OpMkdir, "/r/memory/x", ""), mk(cgroups.OpMkdir, "/r/memory/x/y", ""),
		}, []string{"mkdir /r/{cpu,memory}/x", "mkdir /r/{cpu,memory}/x/y"}},
		{"v1 apply: one tee", v1, []cgroups.Op{
			mk(cgroups.OpWrite, "/r/cpu/x/cgroup.procs", "42"), mk(cgroups.OpWrite, "/r/memory/x/cgroup.procs", "42"),
		}, []string{"echo 42 | tee /r/{cpu,memory}/x/cgroup.procs"}},
		{"v1 set: separate writes", v1, []cgroups.Op{
			mk(cgroups.OpWrite, "/r/cpu/x/cpu.cfs_period_us", "100000"), mk(cgroups.OpWrite, "/r/cpu/x/cpu.cfs_quota_us", "20000"),
		}, []string{"echo 100000 > /r/cpu/x/cpu.cfs_period_us", "echo 20000 > /r/cpu/x/cpu.cfs_quota_us"}},
		{"v2 create and destroy", v2, []cgroups.Op{
			mk(cgroups.OpWrite, "/r/cgroup.subtree_control", "+cpu +pids"), mk(cgroups.OpMkdir, "/r/x", ""),
			mk(cgroups.OpWrite, "/r/x/cgroup.kill", "1"), mk(cgroups.OpRmdir, "/r/x/a", ""), mk(cgroups.OpRmdir, "/r/x", ""),
			{Kind: cgroups.OpClone, Path: "/r/x"},
		}, []string{"echo '+cpu +pids' > /r/cgroup.subtree_control", "mkdir /r/x", "echo 1 > /r/x/cgroup.kill    # Linux 5.14+",
			"rmdir /r/x/a", "rmdir /r/x", "# clone3(CLONE_INTO_CGROUP, fd of /r/x)"}},
	} {
		if got := shellLines(c.h, c.ops); !slices.Equal(got, c.want) {
			t.Errorf("%s: shellLines =\n  %s\nwant\n  %s", c.name, strings.Join(got, "\n  "), strings.Join(c.want, "\n  "))
		}
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

func TestWorkers(t *testing.T) {
	l := cgroupLimits{cgroups.ProcessLimits{Resources: cgroups.Resources{CPUQuota: 20000, CPUPeriod: 100000}}}
	if l.CPUs() != 0.2 || l.Workers(2) != 1 || l.Workers(64) != 1 {
		t.Errorf("CPUs() = %v, Workers(2) = %d, Workers(64) = %d; want 0.2, 1, 1", l.CPUs(), l.Workers(2), l.Workers(64))
	}
	free := cgroupLimits{cgroups.ProcessLimits{Resources: cgroups.Resources{CPUQuota: cgroups.Unlimited, CPUPeriod: 100000}}}
	if free.CPUs() != 0 || free.Workers(8) != 8 {
		t.Errorf("without a quota: CPUs() = %v, Workers(8) = %d; want 0, 8", free.CPUs(), free.Workers(8))
	}
}
