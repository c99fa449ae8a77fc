package cgroups

import (
	"errors"
	"fmt"
	"math"
)

// Unlimited, in a [Resources] field that takes it, removes the limit
// ("max" in a v2 file, -1 in v1's).
const Unlimited = -1

// Resources are the limits of a cgroup, as plain data, in the units of the
// OCI runtime spec's linux.resources and of `docker run`'s flags. A zero
// field leaves the cgroup's current value alone, so the same struct serves
// creation and `update`.
//
// Each field's comment names the files it is written to: v1 first, then v2.
// Where the two versions measure differently, [Manager.Set] converts (CPU
// shares and weight, memory+swap and swap), as runc does.
type Resources struct {
	// CPUQuota and CPUPeriod are the CFS bandwidth limit
	// (Documentation/scheduler/sched-bwc.rst): the cgroup's threads together
	// get CPUQuota µs of CPU time per CPUPeriod µs, then wait for the next
	// period. --cpus=0.5 is 50000 per 100000. CPUQuota may be [Unlimited].
	// v1: cpu.cfs_quota_us, cpu.cfs_period_us. v2: cpu.max, "$QUOTA $PERIOD".
	// The period must lie in [1000, 1000000] µs, the quota be at least 1000.
	CPUQuota  int64
	CPUPeriod uint64
	// CPUShares is the cgroup's relative weight when CPUs are contended,
	// in v1's unit: [2, 262144], default 1024 (--cpu-shares, OCI
	// cpu.shares). v1: cpu.shares; v2: cpu.weight = [SharesToWeight].
	CPUShares uint64
	// CPUWeight is the same in v2's unit: [1, 10000], default 100. Set
	// CPUShares or CPUWeight, not both. v1: cpu.shares = [WeightToShares];
	// v2: cpu.weight.
	CPUWeight uint64
	// CpusetCPUs and CpusetMems restrict the cgroup to CPUs and memory
	// nodes, as lists such as "0-3,6" (--cpuset-cpus, --cpuset-mems):
	// cpuset.cpus, cpuset.mems in both versions. Unlike the CPU quota,
	// this changes what sched_getaffinity(2) (and nproc) report inside.
	CpusetCPUs string
	CpusetMems string
	// Memory is the hard limit in bytes, or [Unlimited] (--memory): past
	// it the kernel reclaims, then the OOM killer kills in the cgroup.
	// v1: memory.limit_in_bytes; v2: memory.max.
	Memory int64
	// MemoryReservation is a soft limit in bytes, or [Unlimited]
	// (--memory-reservation): memory the cgroup keeps under pressure.
	// v1: memory.soft_limit_in_bytes; v2: memory.low.
	MemoryReservation int64
	// MemorySwap is memory plus swap in bytes, or [Unlimited], as Docker's
	// --memory-swap and OCI's memory.swap count it: equal to Memory means
	// no swap. v1: memory.memsw.limit_in_bytes; v2: memory.swap.max =
	// MemorySwap - Memory (swap alone). Without swap accounting (no such
	// file) a request for no swap or unlimited swap is skipped, as runc
	// does; any other value is an error.
	MemorySwap int64
	// PidsLimit caps the tasks, processes and threads alike, or
	// [Unlimited] (--pids-limit): pids.max in both versions. Past it,
	// fork(2) and clone(2) fail with EAGAIN.
	PidsLimit int64
	// Devices are the device rules, in order (devices.go says how they
	// are read): v1 devices.deny and devices.allow; v2 a
	// BPF_PROG_TYPE_CGROUP_DEVICE program. Nil leaves the cgroup's rules
	// alone; an empty list denies every device.
	Devices []DeviceRule
}

// Validate checks r before anything is written, so that a bad value fails
// with a reason rather than the kernel's EINVAL halfway through a Set.
func (r Resources) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if r.CPUQuota < Unlimited || (r.CPUQuota > 0 && r.CPUQuota < 1000) {
		bad("CPUQuota %d µs: want at least 1000, or -1 for no limit (sched-bwc.rst)", r.CPUQuota)
	}
	if r.CPUPeriod != 0 && (r.CPUPeriod < 1000 || r.CPUPeriod > 1000000) {
		bad("CPUPeriod %d µs: want 1000 to 1000000 (sched-bwc.rst)", r.CPUPeriod)
	}
	if r.CPUShares != 0 && r.CPUWeight != 0 {
		bad("CPUShares %d and CPUWeight %d: set one of them, the v1 or the v2 unit", r.CPUShares, r.CPUWeight)
	}
	if r.CPUShares != 0 && (r.CPUShares < minShares || r.CPUShares > maxShares) {
		bad("CPUShares %d: want %d to %d", r.CPUShares, minShares, maxShares)
	}
	if r.CPUWeight != 0 && (r.CPUWeight < minWeight || r.CPUWeight > maxWeight) {
		bad("CPUWeight %d: want %d to %d", r.CPUWeight, minWeight, maxWeight)
	}
	for _, f := range []struct {
		name string
		v    int64
	}{{"Memory", r.Memory}, {"MemoryReservation", r.MemoryReservation}, {"MemorySwap", r.MemorySwap}, {"PidsLimit", r.PidsLimit}} {
		if f.v < Unlimited {
			bad("%s %d: want a positive number, or -1 for no limit", f.name, f.v)
		}
	}
	if err := validateDevices(r.Devices); err != nil {
		errs = append(errs, err)
	}
	if r.MemorySwap > 0 && r.Memory > 0 && r.MemorySwap < r.Memory {
		bad("MemorySwap %d is less than Memory %d: it counts memory and swap together, so it must be at least Memory", r.MemorySwap, r.Memory)
	}
	return errors.Join(errs...)
}

// The ranges of cpu.shares (kernel/sched: MIN_SHARES 2, MAX_SHARES 1<<18)
// and cpu.weight (CGROUP_WEIGHT_MIN 1, _DFL 100, _MAX 10000).
const (
	minShares, defaultShares, maxShares = 2, 1024, 262144
	minWeight, defaultWeight, maxWeight = 1, 100, 10000
)

// SharesToWeight converts v1's cpu.shares to v2's cpu.weight as runc and
// crun do since 2025 (opencontainers/cgroups, runc#4785): a quadratic in
// log2(shares) through the three points that matter, min to min (2 → 1),
// default to default (1024 → 100) and max to max (262144 → 10000). The
// older linear formula, 1 + (shares-2)*9999/262142, sent the default 1024
// to 39, so a container with default shares got less CPU under v2 than
// a plain process (kubernetes#131216). 0 stays 0 (unset).
func SharesToWeight(shares uint64) uint64 {
	switch {
	case shares == 0:
		return 0
	case shares <= minShares:
		return minWeight
	case shares >= maxShares:
		return maxWeight
	}
	l := math.Log2(float64(shares))
	exponent := (l*l+125*l)/612 - 7.0/34
	return uint64(math.Ceil(math.Pow(10, exponent)))
}

// WeightToShares is the inverse of [SharesToWeight], for a weight written
// on a v1 host: log10(weight) = (l² + 125·l)/612 - 7/34 solved for
// l = log2(shares). Round trips land within one unit of the start.
func WeightToShares(weight uint64) uint64 {
	switch {
	case weight == 0:
		return 0
	case weight <= minWeight:
		return minShares
	case weight >= maxWeight:
		return maxShares
	}
	c := 612 * (math.Log10(float64(weight)) + 7.0/34)
	l := (-125 + math.Sqrt(125*125+4*c)) / 2
	return uint64(math.Round(math.Pow(2, l)))
}

// SwapOnly converts OCI's memory+swap (MemorySwap) into what v2's
// memory.swap.max holds, swap alone, as runc's
// ConvertMemorySwapToCgroupV2Value does. ok is false when there is nothing
// to write (memorySwap 0: leave swap alone); swap is [Unlimited] for no
// limit, and 0 for no swap at all (memorySwap equal to memory).
func SwapOnly(memorySwap, memory int64) (swap int64, ok bool, err error) {
	switch {
	case memory == Unlimited && memorySwap == 0:
		// As on v1: memory without a limit and swap unset means both
		// without a limit.
		return Unlimited, true, nil
	case memorySwap == 0:
		return 0, false, nil
	case memorySwap == Unlimited || memory == Unlimited:
		return memorySwap, true, nil
	case memory == 0:
		return 0, false, errors.New("MemorySwap without Memory: memory+swap needs the memory limit, in the same Set, to take swap from")
	case memorySwap < memory:
		return 0, false, fmt.Errorf("MemorySwap %d is less than Memory %d: it counts memory and swap together", memorySwap, memory)
	}
	return memorySwap - memory, true, nil
}
