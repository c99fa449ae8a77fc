//go:build linux

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/kit"
)

// fsTypeNames are statfs(2) f_type values as stat -f -c %T prints them.
var fsTypeNames = map[int64]string{
	unix.CGROUP2_SUPER_MAGIC: "cgroup2fs",
	unix.CGROUP_SUPER_MAGIC:  "cgroupfs",
	unix.TMPFS_MAGIC:         "tmpfs",
}

func fsTypeName(path string) string {
	t, err := statfsType(path)
	if err != nil {
		return fmt.Sprintf("stat: cannot read file system information for '%s': %v", path, err)
	}
	if n, ok := fsTypeNames[t]; ok {
		return n
	}
	return fmt.Sprintf("UNKNOWN (%#x)", t)
}

// modeNotes say what each mode means for the steps that follow.
var modeNotes = map[Mode]string{
	Unified: "cgroup v2 (unified): one tree, every controller in it. The steps below use the v2 files\n" +
		"(the right-hand column):",
	Hybrid: "cgroup v1 (hybrid): a tmpfs of v1 hierarchies, one per controller, and a cgroup2 tree at\n" +
		"unified/ that holds no controller. The steps below use the v1 files (the middle column):",
	Legacy: "cgroup v1 (legacy): a tmpfs of v1 hierarchies, one per controller. The steps below use the\n" +
		"v1 files (the middle column):",
}

func (l *lessonState) stepMode(s *kit.Session) error {
	h, err := l.host()
	if err != nil {
		return err
	}
	s.Cmd("stat -f -c %%T %s", h.Root)
	s.Show("%s", fsTypeName(h.Root))
	if !h.Mode.V2() {
		unified := filepath.Join(h.Root, "unified")
		s.Cmd("stat -f -c %%T %s", unified)
		s.Show("%s", fsTypeName(unified))
	}
	s.Note("%s", modeNotes[h.Mode])
	s.Table([]string{"what", "cgroup v1 file (hierarchy)", "cgroup v2 file"}, [][]string{
		{"CPU quota", "cpu.cfs_quota_us, cpu.cfs_period_us (cpu)", "cpu.max"},
		{"CPU used", "cpuacct.usage (cpuacct)", "cpu.stat usage_usec"},
		{"CPU throttled", "cpu.stat (cpu)", "cpu.stat"},
		{"memory limit", "memory.limit_in_bytes (memory)", "memory.max"},
		{"limit hit, OOM kills", "memory.failcnt, memory.oom_control (memory)", "memory.events"},
		{"tasks", "pids.max, pids.current (pids)", "pids.max, pids.current"},
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
