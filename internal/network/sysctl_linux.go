package network

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// ReadSysctl reads a kernel parameter of the host's network namespace
// (sysctl(8) spelling: "net.ipv4.ip_forward"). /proc/sys/net shows the
// namespace of the thread that opens it, so this must run on a thread in the
// host's namespace (any goroutine outside [NetNS.Do]).
func ReadSysctl(key string) (string, error) {
	b, err := os.ReadFile(sysctlPath(key))
	if err != nil {
		return "", fmt.Errorf("sysctl %s: %w", key, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// WriteSysctl sets a kernel parameter, as `sysctl -w key=value` does.
func WriteSysctl(key, value string) error {
	err := os.WriteFile(sysctlPath(key), []byte(value+"\n"), 0o644)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, os.ErrPermission):
		return fmt.Errorf("sysctl -w %s=%s: %w: this needs root", key, value, err)
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("sysctl -w %s=%s: no such parameter (%s): is the interface there?", key, value, sysctlPath(key))
	}
	return fmt.Errorf("sysctl -w %s=%s: %w", key, value, err)
}
