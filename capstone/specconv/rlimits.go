//go:build linux

package specconv

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/unboxlab/unbox/capstone/container"
)

// rlimitTypes are getrlimit(2)'s resources by name. The numbers are the
// same on every Linux architecture Go builds for, except MIPS and SPARC,
// which unbox does not support.
var rlimitTypes = map[string]int{
	"RLIMIT_CPU":        0,
	"RLIMIT_FSIZE":      1,
	"RLIMIT_DATA":       2,
	"RLIMIT_STACK":      3,
	"RLIMIT_CORE":       4,
	"RLIMIT_RSS":        5,
	"RLIMIT_NPROC":      6,
	"RLIMIT_NOFILE":     7,
	"RLIMIT_MEMLOCK":    8,
	"RLIMIT_AS":         9,
	"RLIMIT_LOCKS":      10,
	"RLIMIT_SIGPENDING": 11,
	"RLIMIT_MSGQUEUE":   12,
	"RLIMIT_NICE":       13,
	"RLIMIT_RTPRIO":     14,
	"RLIMIT_RTTIME":     15,
}

func convertRlimits(rs []specs.POSIXRlimit) ([]container.Rlimit, error) {
	var out []container.Rlimit
	seen := map[string]bool{}
	for _, r := range rs {
		n, ok := rlimitTypes[r.Type]
		if !ok {
			return nil, fmt.Errorf("process.rlimits: unknown type %q", r.Type)
		}
		if seen[r.Type] {
			return nil, fmt.Errorf("process.rlimits: %s listed twice", r.Type)
		}
		seen[r.Type] = true
		if r.Soft > r.Hard {
			return nil, fmt.Errorf("process.rlimits: %s soft limit %d is above its hard limit %d", r.Type, r.Soft, r.Hard)
		}
		out = append(out, container.Rlimit{Type: n, Name: r.Type, Hard: r.Hard, Soft: r.Soft})
	}
	return out, nil
}
