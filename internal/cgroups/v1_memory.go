//go:build linux

package cgroups

// The v1 memory controller (Documentation/admin-guide/cgroup-v1/memory.rst):
// memory.limit_in_bytes, memory.soft_limit_in_bytes, and with swap
// accounting memory.memsw.limit_in_bytes (memory and swap together, which
// must stay at least the memory limit); the counters are usage_in_bytes,
// max_usage_in_bytes, failcnt, oom_control and memory.stat.

import (
	"fmt"
	"path/filepath"
	"strconv"
)

var v1Memory = v1Subsystem{name: "memory", set: setV1Memory, stats: statV1Memory}

// v1Unlimited is at or below what memory.limit_in_bytes reads when no
// limit is set (PAGE_COUNTER_MAX pages, rounded down to a page:
// 9223372036854771712 on x86-64).
const v1Unlimited = 1 << 62

func setV1Memory(m *v1Manager, dir string, r Resources) error {
	limit := filepath.Join(dir, "memory.limit_in_bytes")
	memsw := filepath.Join(dir, "memory.memsw.limit_in_bytes")
	swap := r.MemorySwap
	if r.Memory == Unlimited && swap == 0 {
		swap = Unlimited // no memory limit means no memory+swap limit either
	}
	if swap != 0 && !exists(memsw) {
		if swap != Unlimited && swap != r.Memory {
			return fmt.Errorf("MemorySwap %d for %s: this kernel does not account swap per cgroup (no %s): boot it with swapaccount=1",
				swap, m.Path(), memsw)
		}
		swap = 0 // "no swap" or "any swap": nothing to write, and nothing it could
	}
	writeLimit := func() error {
		if r.Memory == 0 {
			return nil
		}
		return m.h.write(limit, strconv.FormatInt(r.Memory, 10))
	}
	writeSwap := func() error {
		if swap == 0 {
			return nil
		}
		return m.h.write(memsw, strconv.FormatInt(swap, 10))
	}
	// memsw must stay at least the memory limit after each write: raising
	// both, memsw goes first (runc's setMemoryAndSwap).
	first, second := writeLimit, writeSwap
	if r.Memory != 0 && swap != 0 {
		cur, err := readString(limit)
		if err != nil {
			return fmt.Errorf("read %s: %w", limit, err)
		}
		n, err := strconv.ParseUint(cur, 10, 64)
		if err != nil {
			return fmt.Errorf("%s: %w", limit, err)
		}
		if swap == Unlimited || n < uint64(swap) {
			first, second = writeSwap, writeLimit
		}
	}
	if err := first(); err != nil {
		return err
	}
	if err := second(); err != nil {
		return err
	}
	if r.MemoryReservation != 0 {
		return m.h.write(filepath.Join(dir, "memory.soft_limit_in_bytes"), strconv.FormatInt(r.MemoryReservation, 10))
	}
	return nil
}

func statV1Memory(rd *reader, dir string, st *Stats) {
	file := func(name string) string { return filepath.Join(dir, name) }
	limit := rd.number(file("memory.limit_in_bytes"))
	if limit >= v1Unlimited {
		limit = 0
	}
	usage := rd.number(file("memory.usage_in_bytes"))
	var swap uint64
	if memsw := rd.optionalNumber(file("memory.memsw.usage_in_bytes")); memsw > usage {
		swap = memsw - usage
	}
	st.Memory = MemoryStats{
		Usage:        usage,
		Limit:        limit,
		Peak:         rd.number(file("memory.max_usage_in_bytes")),
		Swap:         swap,
		InactiveFile: rd.keyed(file("memory.stat"))["total_inactive_file"],
		LimitHits:    rd.number(file("memory.failcnt")),
		OOMKills:     rd.keyed(file("memory.oom_control"))["oom_kill"],
	}
}
