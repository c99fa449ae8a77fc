//go:build linux

package cgroups

// The v1 pids controller (Documentation/admin-guide/cgroup-v1/pids.rst):
// the same files as v2's, written and read by v2_pids.go's functions.

import "path/filepath"

var v1Pids = v1Subsystem{
	name: "pids",
	set: func(m *v1Manager, dir string, r Resources) error {
		return setPids(m.h, filepath.Join(dir, "pids.max"), r)
	},
	stats: func(rd *reader, dir string, st *Stats) {
		st.Pids = statPids(rd, func(name string) string { return filepath.Join(dir, name) })
	},
}
