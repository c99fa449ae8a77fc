//go:build linux

package cgroups

// The v1 cpuset controller (Documentation/admin-guide/cgroup-v1/cpusets.rst).
// A new cpuset cgroup starts with empty cpuset.cpus and cpuset.mems, and no
// task can join it until both are set (ENOSPC): initCpuset copies the
// parent's, as runc does, unless the parent has cgroup.clone_children set,
// which makes the kernel do it.

import (
	"fmt"
	"path/filepath"
)

var v1Cpuset = v1Subsystem{name: "cpuset", set: setV1Cpuset}

func setV1Cpuset(m *v1Manager, dir string, r Resources) error {
	if r.CpusetCPUs != "" {
		if err := m.h.write(filepath.Join(dir, "cpuset.cpus"), r.CpusetCPUs); err != nil {
			return err
		}
	}
	if r.CpusetMems != "" {
		return m.h.write(filepath.Join(dir, "cpuset.mems"), r.CpusetMems)
	}
	return nil
}

// initCpuset gives the new cpuset cgroup at dir its parent's CPUs and
// memory nodes where it has none.
func initCpuset(h *Host, dir string) error {
	for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
		own, err := readString(filepath.Join(dir, f))
		if err != nil {
			return fmt.Errorf("read %s: %w", filepath.Join(dir, f), err)
		}
		if own != "" {
			continue
		}
		parent, err := readString(filepath.Join(filepath.Dir(dir), f))
		if err != nil {
			return fmt.Errorf("read %s: %w", filepath.Join(filepath.Dir(dir), f), err)
		}
		if err := h.write(filepath.Join(dir, f), parent); err != nil {
			return err
		}
	}
	return nil
}
