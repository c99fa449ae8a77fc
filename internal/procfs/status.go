package procfs

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Status is /proc/<pid>/status (proc(5)): "Key:\tvalue" lines, such as
// Name, PPid, Uid ("real effective saved fs"), NSpid (the PID in each PID
// namespace, outermost first), CapEff (hex), NoNewPrivs, Seccomp.
type Status map[string]string

// ParseStatus parses the text of a status file.
func ParseStatus(b []byte) (Status, error) {
	st := Status{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			return nil, fmt.Errorf("status line %q: want \"Key: value\"", sc.Text())
		}
		st[k] = strings.TrimSpace(v)
	}
	return st, sc.Err()
}

// ReadStatus reads /proc/<pid>/status.
func ReadStatus(pid string) (Status, error) {
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return nil, err
	}
	return ParseStatus(b)
}

// Ints parses a field of whitespace-separated decimal numbers (Uid, Gid,
// NSpid, Groups).
func (s Status) Ints(key string) ([]int, error) {
	v, ok := s[key]
	if !ok {
		return nil, fmt.Errorf("status has no %s", key)
	}
	var out []int
	for _, f := range strings.Fields(v) {
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("status %s %q: %w", key, v, err)
		}
		out = append(out, n)
	}
	return out, nil
}

// Hex parses a hexadecimal field, such as the capability sets CapInh,
// CapPrm, CapEff, CapBnd and CapAmb.
func (s Status) Hex(key string) (uint64, error) {
	v, ok := s[key]
	if !ok {
		return 0, fmt.Errorf("status has no %s", key)
	}
	n, err := strconv.ParseUint(v, 16, 64)
	if err != nil {
		return 0, fmt.Errorf("status %s %q: %w", key, v, err)
	}
	return n, nil
}

// Environ parses /proc/<pid>/environ text: NUL-separated KEY=value.
func Environ(b []byte) []string {
	var out []string
	for _, kv := range bytes.Split(b, []byte{0}) {
		if len(kv) > 0 {
			out = append(out, string(kv))
		}
	}
	return out
}

// ReadEnviron reads /proc/<pid>/environ: the environment the process was
// started with (later setenv calls do not show).
func ReadEnviron(pid string) ([]string, error) {
	b, err := os.ReadFile("/proc/" + pid + "/environ")
	if err != nil {
		return nil, err
	}
	return Environ(b), nil
}

// Lookup returns the value of key in env, a list of KEY=value.
func Lookup(env []string, key string) (string, bool) {
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}
