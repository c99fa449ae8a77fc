//go:build linux

package cgroups

// The v2 cpu controller (cgroup-v2.rst, "CPU"): cpu.max is the bandwidth
// limit, "$QUOTA $PERIOD" in one file; cpu.weight the share under
// contention; cpu.stat the counters.

import (
	"fmt"
	"strconv"
)

var v2CPU = v2Subsystem{name: "cpu", set: setV2CPU, stats: statV2CPU}

func setV2CPU(m *v2Manager, r Resources) error {
	if r.CPUQuota != 0 || r.CPUPeriod != 0 {
		quota, period := r.CPUQuota, r.CPUPeriod
		if quota == 0 || period == 0 {
			// One of the two is given: keep the other as it is. (Writing
			// "max $PERIOD" for a new period alone would drop the quota.)
			text, err := readString(m.File("cpu.max"))
			if err != nil {
				return fmt.Errorf("read %s: %w", m.File("cpu.max"), err)
			}
			q, p, err := parseCPUMax(text)
			if err != nil {
				return fmt.Errorf("%s: %w", m.File("cpu.max"), err)
			}
			if quota == 0 {
				quota = q
			}
			if period == 0 {
				period = p
			}
		}
		v := "max"
		if quota > 0 {
			v = strconv.FormatInt(quota, 10)
		}
		if err := m.h.write(m.File("cpu.max"), v+" "+strconv.FormatUint(period, 10)); err != nil {
			return err
		}
	}
	weight := r.CPUWeight
	if r.CPUShares != 0 {
		weight = SharesToWeight(r.CPUShares)
	}
	if weight != 0 {
		return m.h.write(m.File("cpu.weight"), strconv.FormatUint(weight, 10))
	}
	return nil
}

func statV2CPU(m *v2Manager, rd *reader, st *Stats) {
	cpu := rd.keyed(m.File("cpu.stat"))
	st.CPU = CPUStats{
		UsageUsec:     cpu["usage_usec"],
		UserUsec:      cpu["user_usec"],
		SystemUsec:    cpu["system_usec"],
		Periods:       cpu["nr_periods"],
		Throttled:     cpu["nr_throttled"],
		ThrottledUsec: cpu["throttled_usec"],
	}
}
