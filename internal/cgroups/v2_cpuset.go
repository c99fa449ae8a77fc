//go:build linux

package cgroups

// The v2 cpuset controller (cgroup-v2.rst, "Cpuset"): cpuset.cpus and
// cpuset.mems. Empty means "whatever the parent has", so a new cgroup
// needs nothing written, unlike v1.

var v2Cpuset = v2Subsystem{name: "cpuset", set: setV2Cpuset, stats: func(*v2Manager, *reader, *Stats) {}}

func setV2Cpuset(m *v2Manager, r Resources) error {
	if r.CpusetCPUs != "" {
		if err := m.h.write(m.File("cpuset.cpus"), r.CpusetCPUs); err != nil {
			return err
		}
	}
	if r.CpusetMems != "" {
		return m.h.write(m.File("cpuset.mems"), r.CpusetMems)
	}
	return nil
}
