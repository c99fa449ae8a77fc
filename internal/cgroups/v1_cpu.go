//go:build linux

package cgroups

// The v1 cpu and cpuacct controllers. cpu holds the CFS bandwidth limit,
// two files (Documentation/scheduler/sched-bwc.rst), the shares
// (cgroup-v1 has no document of its own for cpu; see sched-design-CFS.rst,
// "Group scheduler extensions") and the throttling counters in cpu.stat;
// cpuacct counts the usage (cgroup-v1/cpuacct.rst). systemd mounts the two
// together.

import (
	"errors"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

var (
	v1CPU     = v1Subsystem{name: "cpu", set: setV1CPU, stats: statV1CPU}
	v1CPUAcct = v1Subsystem{name: "cpuacct", stats: statV1CPUAcct}
)

// setV1CPU writes the period, then the quota, as runc does. The kernel
// checks each write against the other file's current value (and the
// parent's limit), so a new period can be refused (EINVAL) until the new
// quota is in: then the period is written again after the quota.
func setV1CPU(m *v1Manager, dir string, r Resources) error {
	periodFile, quotaFile := filepath.Join(dir, "cpu.cfs_period_us"), filepath.Join(dir, "cpu.cfs_quota_us")
	retryPeriod := false
	if r.CPUPeriod != 0 {
		err := m.h.write(periodFile, strconv.FormatUint(r.CPUPeriod, 10))
		switch {
		case errors.Is(err, unix.EINVAL) && r.CPUQuota != 0:
			retryPeriod = true
		case err != nil:
			return err
		}
	}
	if r.CPUQuota != 0 {
		if err := m.h.write(quotaFile, strconv.FormatInt(r.CPUQuota, 10)); err != nil {
			return err
		}
	}
	if retryPeriod {
		if err := m.h.write(periodFile, strconv.FormatUint(r.CPUPeriod, 10)); err != nil {
			return err
		}
	}
	shares := r.CPUShares
	if r.CPUWeight != 0 {
		shares = WeightToShares(r.CPUWeight)
	}
	if shares != 0 {
		return m.h.write(filepath.Join(dir, "cpu.shares"), strconv.FormatUint(shares, 10))
	}
	return nil
}

func statV1CPU(rd *reader, dir string, st *Stats) {
	cpu := rd.keyed(filepath.Join(dir, "cpu.stat"))
	st.CPU.Periods = cpu["nr_periods"]
	st.CPU.Throttled = cpu["nr_throttled"]
	st.CPU.ThrottledUsec = cpu["throttled_time"] / 1000
}

// userHZ is the unit of cpuacct.stat: USER_HZ ticks, 100 a second on
// every architecture Linux exports to user space (times(2)).
const userHZ = 100

func statV1CPUAcct(rd *reader, dir string, st *Stats) {
	st.CPU.UsageUsec = rd.number(filepath.Join(dir, "cpuacct.usage")) / 1000
	ticks := rd.keyed(filepath.Join(dir, "cpuacct.stat"))
	st.CPU.UserUsec = ticks["user"] * 1e6 / userHZ
	st.CPU.SystemUsec = ticks["system"] * 1e6 / userHZ
}
