//go:build linux

package cgroups

// The v2 memory controller (cgroup-v2.rst, "Memory"): memory.max is the
// hard limit, memory.low the protected amount, memory.swap.max the swap the
// cgroup may use on top; memory.current, memory.peak, memory.events and
// memory.stat the counters.

import "strconv"

var v2Memory = v2Subsystem{name: "memory", set: setV2Memory, stats: statV2Memory}

// limitValue spells a limit as v2 files (and pids.max) do: a number, or
// "max" for none.
func limitValue(n int64) string {
	if n == Unlimited {
		return "max"
	}
	return strconv.FormatInt(n, 10)
}

func setV2Memory(m *v2Manager, r Resources) error {
	swap, setSwap, err := SwapOnly(r.MemorySwap, r.Memory)
	if err != nil {
		return err
	}
	if r.Memory != 0 {
		if err := m.h.write(m.File("memory.max"), limitValue(r.Memory)); err != nil {
			return err
		}
	}
	if setSwap {
		// Without swap accounting (CONFIG_MEMCG_SWAP off, or no swap
		// configured on some kernels) there is no memory.swap.max: "no
		// swap" and "any swap" then need no file, as runc decides; a
		// number does.
		if f := m.File("memory.swap.max"); exists(f) || (swap != 0 && swap != Unlimited) {
			if err := m.h.write(f, limitValue(swap)); err != nil {
				return err
			}
		}
	}
	if r.MemoryReservation != 0 {
		return m.h.write(m.File("memory.low"), limitValue(r.MemoryReservation))
	}
	return nil
}

func statV2Memory(m *v2Manager, rd *reader, st *Stats) {
	events := rd.keyed(m.File("memory.events"))
	st.Memory = MemoryStats{
		Usage:        rd.number(m.File("memory.current")),
		Limit:        rd.limit(m.File("memory.max")),
		Peak:         rd.optionalNumber(m.File("memory.peak")),
		Swap:         rd.optionalNumber(m.File("memory.swap.current")),
		InactiveFile: rd.keyed(m.File("memory.stat"))["inactive_file"],
		LimitHits:    events["max"],
		OOMKills:     events["oom_kill"],
	}
}
