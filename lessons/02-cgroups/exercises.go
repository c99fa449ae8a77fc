//go:build linux && !solution

package main

// The exercises of the README, to fill in. Check one with
// `go run -exec sudo ./lessons/02-cgroups check N`: it runs your code and
// reads back what the kernel did. (A TODO(exercise N) marks where you
// write, not unfinished work: the lesson runs without them.)

import (
	"github.com/unboxlab/unbox/internal/cgroups"
	"github.com/unboxlab/unbox/internal/kit"
)

// joinCgroup moves process pid into the cgroup cg, by hand: what
// cgroups.Manager.Apply does, and what `echo PID > cgroup.procs` does.
//
// TODO(exercise 1): write pid, in decimal, to the cgroup.procs file of
// every directory of the cgroup: one on cgroup v2, one per hierarchy on v1
// (cg.Dirs() lists them; step 1 says which mode this machine has).
func joinCgroup(cg cgroups.Manager, pid int) error {
	return kit.TODO(1)
}

// restrictCPUs limits the cgroup cg, which has the cpuset controller, to
// the CPUs in cpus ("1", "0-1", as cpuset.cpus spells them).
//
// TODO(exercise 2): write cpus to the cgroup's cpuset.cpus (cg.File knows
// where it is, on v1 and v2). Then watch what nproc, that is
// sched_getaffinity(2), says inside: unlike cpu.max, a cpuset changes it.
func restrictCPUs(cg cgroups.Manager, cpus string) error {
	return kit.TODO(2)
}

// effectiveMemoryLimit runs inside a container: it finds this process's own
// cgroup in /proc/self/cgroup and returns the memory limit that holds it, in
// bytes: the smallest limit of its cgroup and of every cgroup above it, as
// the kernel enforces them (a parent's limit holds its children too).
//
// TODO(exercise 3): read /proc/self/cgroup: "0::/path" on cgroup v2, or the
// line naming "memory" on v1. Then, from that cgroup up to the root, read
// memory.max (v2, under /sys/fs/cgroup/path; "max" is no limit) or
// memory.limit_in_bytes (v1, under /sys/fs/cgroup/memory/path), and keep
// the smallest.
func effectiveMemoryLimit() (uint64, error) {
	return 0, kit.TODO(3)
}
