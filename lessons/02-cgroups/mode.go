//go:build linux

package main

import (
	"os"
	"strings"

	"github.com/unboxlab/unbox/internal/cgroups"
	"github.com/unboxlab/unbox/internal/kit"
)

// modeNotes say what each mode means for the steps that follow.
var modeNotes = map[cgroups.Mode]string{
	cgroups.Unified: "cgroup v2 (unified): one tree, every controller in it. The steps below use the v2 files\n" +
		"(the right-hand column):",
	cgroups.Hybrid: "cgroup v1 (hybrid): a tmpfs of v1 hierarchies, one per controller, and a cgroup2 tree at\n" +
		"unified/ that holds no controller. The steps below use the v1 files (the middle column):",
	cgroups.Legacy: "cgroup v1 (legacy): a tmpfs of v1 hierarchies, one per controller. The steps below use the\n" +
		"v1 files (the middle column):",
}

func (l *lessonState) stepMode(s *kit.Session) error {
	h, err := l.host()
	if err != nil {
		return err
	}
	// What the package's mode detection saw, as stat(1) prints it.
	for _, p := range h.Probes {
		s.Cmd("stat -f -c %%T %s", p.Path)
		s.Show("%s", p.TypeName())
	}
	s.Note("%s", modeNotes[h.Mode])
	s.Table([]string{"what", "cgroup v1 file (hierarchy)", "cgroup v2 file"}, [][]string{
		{s.T("CPU quota"), "cpu.cfs_quota_us, cpu.cfs_period_us (cpu)", "cpu.max"},
		{s.T("CPU used"), "cpuacct.usage (cpuacct)", "cpu.stat usage_usec"},
		{s.T("CPU throttled"), "cpu.stat (cpu)", "cpu.stat"},
		{s.T("memory limit"), "memory.limit_in_bytes (memory)", "memory.max"},
		{s.T("limit hit, OOM kills"), "memory.failcnt, memory.oom_control (memory)", "memory.events"},
		{s.T("tasks"), "pids.max, pids.current (pids)", "pids.max, pids.current"},
	})

	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return err
	}
	s.Cmd("cat /proc/self/cgroup")
	s.Show("%s", strings.TrimSpace(string(b)))
	if h.Mode.V2() {
		s.Note("One line, 0::<path>: where this process is in the one tree. A process is in exactly one\n" +
			"cgroup, and every controller enabled there applies to it.")
	} else {
		s.Note("One line per hierarchy, ID:controllers:path: this process can be in a different cgroup in each\n" +
			"(the 0:: line is the cgroup2 tree). A v1 cgroup is one directory per hierarchy.")
	}
	return nil
}
