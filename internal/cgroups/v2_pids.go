//go:build linux

package cgroups

// The pids controller, the same files in v1 and v2 (cgroup-v2.rst, "PID";
// cgroup-v1/pids.rst): pids.max, pids.current, and pids.events, whose
// "max" counts forks refused at the limit.

var v2Pids = v2Subsystem{
	name: "pids",
	set: func(m *v2Manager, r Resources) error {
		return setPids(m.h, m.File("pids.max"), r)
	},
	stats: func(m *v2Manager, rd *reader, st *Stats) { st.Pids = statPids(rd, m.File) },
}

func setPids(h *Host, file string, r Resources) error {
	if r.PidsLimit == 0 {
		return nil
	}
	return h.write(file, limitValue(r.PidsLimit))
}

func statPids(rd *reader, file func(string) string) PidsStats {
	return PidsStats{
		Current:   rd.number(file("pids.current")),
		Limit:     rd.limit(file("pids.max")),
		LimitHits: rd.keyed(file("pids.events"))["max"],
	}
}
