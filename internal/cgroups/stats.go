package cgroups

// Stats are the kernel's counters for a cgroup, the same fields whichever
// the version. Each field's comment names its v1 file, then its v2 one.
// Counters of a controller the cgroup was not created with stay zero.
type Stats struct {
	CPU    CPUStats
	Memory MemoryStats
	Pids   PidsStats
}

// CPUStats count CPU time and throttling.
type CPUStats struct {
	// UsageUsec is CPU time used, all threads together: cpuacct.usage (ns);
	// cpu.stat usage_usec.
	UsageUsec uint64
	// UserUsec and SystemUsec split it: cpuacct.stat user and system (in
	// USER_HZ ticks, 100 a second); cpu.stat user_usec and system_usec.
	UserUsec   uint64
	SystemUsec uint64
	// Periods counts the bandwidth periods in which the cgroup had work,
	// Throttled those in which it spent its quota and had to wait, and
	// ThrottledUsec how long it waited: cpu.stat nr_periods, nr_throttled,
	// throttled_time (ns); the same in v2's cpu.stat, throttled_usec.
	Periods       uint64
	Throttled     uint64
	ThrottledUsec uint64
}

// MemoryStats count what is charged to the cgroup.
type MemoryStats struct {
	// Usage is memory charged now: memory.usage_in_bytes; memory.current.
	// docker stats shows Usage - InactiveFile.
	Usage uint64
	// Limit is the hard limit, 0 for none: memory.limit_in_bytes;
	// memory.max.
	Limit uint64
	// Peak is the highest Usage seen: memory.max_usage_in_bytes;
	// memory.peak (Linux 5.19+, else 0).
	Peak uint64
	// Swap is swap in use: memory.memsw.usage_in_bytes - Usage;
	// memory.swap.current. 0 without swap accounting.
	Swap uint64
	// InactiveFile is page cache the kernel can drop first: memory.stat
	// total_inactive_file; inactive_file.
	InactiveFile uint64
	// LimitHits counts how often a charge ran into the limit, so that the
	// kernel had to reclaim: memory.failcnt (failed charges); memory.events
	// max. Hitting the limit is not being killed: that is OOMKills.
	LimitHits uint64
	// OOMKills counts processes the OOM killer killed in the cgroup:
	// memory.oom_control oom_kill (Linux 4.13+); memory.events oom_kill.
	OOMKills uint64
}

// PidsStats count tasks, processes and threads alike: pids.current,
// pids.max (0 for none) and pids.events max (forks refused at the limit),
// the same files in both versions.
type PidsStats struct {
	Current   uint64
	Limit     uint64
	LimitHits uint64
}
