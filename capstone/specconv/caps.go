//go:build linux

package specconv

import (
	"fmt"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/unboxlab/unbox/capstone/container"
)

// capNames are the capabilities by number (capabilities(7);
// include/uapi/linux/capability.h).
var capNames = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
	"CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK",
	"CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
	"CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
	"CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
	"CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
}

// CapabilityNames lists the capabilities this runtime knows (for `features`).
func CapabilityNames() []string { return append([]string(nil), capNames...) }

// capMask turns capability names into a bit mask. Unknown names are an
// error: a typo would otherwise silently leave a capability out (runc only
// warns).
func capMask(set string, names []string) (uint64, error) {
	var m uint64
	for _, n := range names {
		i := capIndex(n)
		if i < 0 {
			return 0, fmt.Errorf("process.capabilities.%s: unknown capability %q", set, n)
		}
		m |= 1 << uint(i)
	}
	return m, nil
}

func capIndex(name string) int {
	name = strings.ToUpper(name)
	if !strings.HasPrefix(name, "CAP_") {
		name = "CAP_" + name
	}
	for i, n := range capNames {
		if n == name {
			return i
		}
	}
	return -1
}

func convertCaps(c *specs.LinuxCapabilities) (*container.Caps, error) {
	if c == nil {
		return nil, nil
	}
	var out container.Caps
	var err error
	for _, s := range []struct {
		name  string
		names []string
		to    *uint64
	}{
		{"bounding", c.Bounding, &out.Bounding},
		{"effective", c.Effective, &out.Effective},
		{"inheritable", c.Inheritable, &out.Inheritable},
		{"permitted", c.Permitted, &out.Permitted},
		{"ambient", c.Ambient, &out.Ambient},
	} {
		if *s.to, err = capMask(s.name, s.names); err != nil {
			return nil, err
		}
	}
	return &out, nil
}

// CapNames spells a capability mask as names, for tests and errors.
func CapNames(mask uint64) []string {
	var out []string
	for i, n := range capNames {
		if mask&(1<<uint(i)) != 0 {
			out = append(out, n)
		}
	}
	return out
}

// CapMask is the bit of one capability, by name ("CAP_NET_ADMIN" or
// "NET_ADMIN"), for `exec --cap`.
func CapMask(name string) (uint64, error) { return capMask("--cap", []string{name}) }
