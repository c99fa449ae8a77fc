//go:build linux

package main

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// parseSignal reads a signal as kill(1) does: "KILL", "SIGKILL" or "9".
func parseSignal(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, fmt.Errorf("signal %d: want 1 to 64", n)
		}
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	// The real-time signals, as kill(1) and glibc number them: SIGRTMIN
	// is 34 (the C library keeps 32 and 33), SIGRTMAX 64.
	for _, rt := range []struct {
		prefix string
		base   int
		sign   int
	}{{"SIGRTMIN", 34, 1}, {"SIGRTMAX", 64, -1}} {
		if rest, ok := strings.CutPrefix(name, rt.prefix); ok {
			n := 0
			if rest != "" {
				var err error
				if n, err = strconv.Atoi(strings.TrimLeft(rest, "+-")); err != nil || len(rest) < 2 {
					break
				}
			}
			if sig := rt.base + rt.sign*n; sig >= 34 && sig <= 64 {
				return unix.Signal(sig), nil
			}
		}
	}
	return 0, fmt.Errorf("unknown signal %q (kill -l lists them)", s)
}
