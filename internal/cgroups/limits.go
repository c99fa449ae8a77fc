//go:build linux

package cgroups

import (
	"fmt"
	"path/filepath"
	"strconv"

	"github.com/unboxlab/unbox/internal/procfs"
)

// ProcessLimits are the limits on the cgroup a process is in, and the
// files they were read from.
type ProcessLimits struct {
	// Resources holds CPUQuota, CPUPeriod and Memory, [Unlimited] where
	// none is set.
	Resources
	MemoryFile string   // memory.max; v1 memory.limit_in_bytes
	CPUFiles   []string // cpu.max; v1 cpu.cfs_quota_us and cpu.cfs_period_us
}

// Limits reads back the CPU bandwidth and memory limits of the cgroup a
// process is in, given its /proc/<pid>/cgroup (procfs.ReadCgroup). This is
// what a program inside a container should read to size itself (Go 1.25+
// does for GOMAXPROCS, the JVM for its heap), since /proc/meminfo and
// sched_getaffinity(2) describe the machine.
//
// It reads that cgroup's own files only; a tighter limit on a cgroup above
// applies too, and a careful program walks up to the root.
func (h *Host) Limits(lines []procfs.Cgroup) (ProcessLimits, error) {
	var l ProcessLimits
	file := func(ctl, name string) (string, error) {
		key := ctl
		if h.Mode.V2() {
			key = "" // the 0:: line
		}
		path, ok := procfs.CgroupPath(lines, key)
		if !ok {
			return "", fmt.Errorf("/proc/<pid>/cgroup names no cgroup for %s: %v", ctl, lines)
		}
		dir, err := h.Dir(ctl, path)
		return filepath.Join(dir, name), err
	}
	names := [3][2]string{{"memory", "memory.limit_in_bytes"}, {"cpu", "cpu.cfs_quota_us"}, {"cpu", "cpu.cfs_period_us"}}
	if h.Mode.V2() {
		names = [3][2]string{{"memory", "memory.max"}, {"cpu", "cpu.max"}}
	}
	var text [3]string
	for i, n := range names {
		if n[0] == "" {
			continue
		}
		f, err := file(n[0], n[1])
		if err != nil {
			return l, err
		}
		if text[i], err = readString(f); err != nil {
			return l, fmt.Errorf("read %s: %w", f, err)
		}
		if i == 0 {
			l.MemoryFile = f
		} else {
			l.CPUFiles = append(l.CPUFiles, f)
		}
	}
	var err error
	if h.Mode.V2() {
		var n uint64
		if n, err = parseLimit(text[0]); err != nil {
			return l, fmt.Errorf("%s: %w", l.MemoryFile, err)
		}
		l.Memory = Unlimited
		if n != 0 {
			l.Memory = int64(n)
		}
		if l.CPUQuota, l.CPUPeriod, err = parseCPUMax(text[1]); err != nil {
			return l, fmt.Errorf("%s: %w", l.CPUFiles[0], err)
		}
		return l, nil
	}
	if l.Memory, err = strconv.ParseInt(text[0], 10, 64); err != nil {
		return l, fmt.Errorf("%s: %w", l.MemoryFile, err)
	}
	if l.Memory >= v1Unlimited {
		l.Memory = Unlimited
	}
	if l.CPUQuota, err = strconv.ParseInt(text[1], 10, 64); err != nil {
		return l, fmt.Errorf("%s: %w", l.CPUFiles[0], err)
	}
	if l.CPUPeriod, err = strconv.ParseUint(text[2], 10, 64); err != nil {
		return l, fmt.Errorf("%s: %w", l.CPUFiles[1], err)
	}
	return l, nil
}
