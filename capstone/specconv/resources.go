//go:build linux

package specconv

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/unboxlab/unbox/internal/cgroups"
)

// Resources turns linux.resources into internal/cgroups' limits: CPU
// bandwidth, shares and cpuset; memory, reservation and swap; pids. The
// rest of linux.resources (block I/O, hugepages, network classes, RDMA,
// unified) is refused when set, so that a limit asked for is never silently
// missing; the device rules are [DeviceRules]. `update --resources` takes
// the same document, and leaves the device rules as they were made, as
// runc's update does.
func Resources(r *specs.LinuxResources) (cgroups.Resources, error) {
	var out cgroups.Resources
	if r == nil {
		return out, nil
	}
	if c := r.CPU; c != nil {
		if c.Quota != nil {
			out.CPUQuota = *c.Quota
			if out.CPUQuota < 0 {
				out.CPUQuota = cgroups.Unlimited
			}
		}
		if c.Period != nil {
			out.CPUPeriod = *c.Period
		}
		if c.Shares != nil {
			out.CPUShares = *c.Shares
		}
		out.CpusetCPUs, out.CpusetMems = c.Cpus, c.Mems
		if c.RealtimeRuntime != nil || c.RealtimePeriod != nil {
			return out, fmt.Errorf("linux.resources.cpu: realtime limits are not supported by unbox-runtime")
		}
	}
	if m := r.Memory; m != nil {
		if m.Limit != nil {
			out.Memory = limit(*m.Limit)
		}
		if m.Reservation != nil {
			out.MemoryReservation = limit(*m.Reservation)
		}
		if m.Swap != nil {
			out.MemorySwap = limit(*m.Swap)
		}
	}
	if p := r.Pids; p != nil && p.Limit != nil {
		out.PidsLimit = limit(*p.Limit)
		if *p.Limit == 0 {
			// runtime-spec: 0 or negative is "no limit".
			out.PidsLimit = cgroups.Unlimited
		}
	}
	switch {
	case r.BlockIO != nil && !emptyBlockIO(r.BlockIO):
		return out, fmt.Errorf("linux.resources.blockIO: not supported by unbox-runtime")
	case len(r.HugepageLimits) > 0:
		return out, fmt.Errorf("linux.resources.hugepageLimits: not supported by unbox-runtime")
	case len(r.Rdma) > 0:
		return out, fmt.Errorf("linux.resources.rdma: not supported by unbox-runtime")
	case len(r.Unified) > 0:
		return out, fmt.Errorf("linux.resources.unified: not supported by unbox-runtime")
	}
	if err := out.Validate(); err != nil {
		return out, fmt.Errorf("linux.resources: %w", err)
	}
	return out, nil
}

// limit maps the spec's "negative is unlimited" to cgroups.Unlimited.
func limit(v int64) int64 {
	if v < 0 {
		return cgroups.Unlimited
	}
	return v
}

// emptyBlockIO: podman and containerd send a blockIO object with nothing in
// it (or a weight of 0) for "no limit".
func emptyBlockIO(b *specs.LinuxBlockIO) bool {
	return (b.Weight == nil || *b.Weight == 0) && b.LeafWeight == nil && len(b.WeightDevice) == 0 &&
		len(b.ThrottleReadBpsDevice) == 0 && len(b.ThrottleWriteBpsDevice) == 0 &&
		len(b.ThrottleReadIOPSDevice) == 0 && len(b.ThrottleWriteIOPSDevice) == 0
}
