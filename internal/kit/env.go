package kit

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// UserEnv looks up a preference the user set in their environment, also when
// the program was started through sudo.
//
// sudo resets the environment (sudoers(5), env_reset), so
// `NO_COLOR=1 go run -exec sudo ./lessons/01-namespaces` and
// `UNBOX_REQUIRE_PRIVILEGED=1 go test -exec sudo ./...` would otherwise lose
// the variable without a word, and a test run meant to fail on every skip
// would quietly skip. When the variable is not set here and our parent is
// sudo, we read it from sudo's own environment, which is still the user's.
// Only use it for preferences like these, never for anything that grants
// privilege.
func UserEnv(key string) (string, bool) {
	if v, ok := os.LookupEnv(key); ok {
		return v, true
	}
	if _, sudo := os.LookupEnv("SUDO_UID"); !sudo {
		return "", false
	}
	// `sudo` may run the command directly or, with use_pty (Debian's
	// default), through a monitor process that is a fork of sudo: either way
	// one of the nearest ancestors is sudo.
	pid := os.Getppid()
	for range 3 {
		if pid <= 1 {
			break
		}
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if strings.TrimSpace(string(comm)) == "sudo" {
			environ, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
			if err != nil {
				return "", false
			}
			return lookupEnviron(environ, key)
		}
		pid = parentOf(pid)
	}
	return "", false
}

// lookupEnviron finds key in the NUL-separated text of /proc/<pid>/environ.
func lookupEnviron(environ []byte, key string) (string, bool) {
	for _, kv := range bytes.Split(environ, []byte{0}) {
		if k, v, ok := strings.Cut(string(kv), "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}

// parentOf returns the parent PID of pid from /proc/<pid>/stat, or 0.
func parentOf(pid int) int {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name in parentheses may hold spaces; fields after the
	// last ')' are fixed: state, ppid, ... (proc(5)).
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}
