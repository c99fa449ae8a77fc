package procfs

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Stat holds the fields of /proc/<pid>/stat (proc(5)) that unbox reads.
type Stat struct {
	PID  int
	Comm string // the thread name, up to 15 bytes (prctl(2) PR_SET_NAME)
	// State is R running, S sleeping, D disk sleep, Z zombie, T stopped...
	State string
	PPID  int
	// StartTime is when the process started, in clock ticks after boot:
	// with the PID it names one process, even after the PID is reused.
	StartTime uint64
}

// ParseStat parses the one line of a stat file. comm, in parentheses, may
// itself hold spaces and parentheses, so the fixed fields are counted from
// the last ')'.
func ParseStat(b []byte) (Stat, error) {
	i, j := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if i < 1 || j < i {
		return Stat{}, fmt.Errorf("stat %q: no (comm)", b)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b[:i])))
	if err != nil {
		return Stat{}, fmt.Errorf("stat %q: pid: %w", b, err)
	}
	// After comm: (3) state (4) ppid ... (22) starttime.
	f := strings.Fields(string(b[j+1:]))
	if len(f) < 20 {
		return Stat{}, fmt.Errorf("stat %q: %d fields after comm; want at least 20", b, len(f))
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return Stat{}, fmt.Errorf("stat %q: ppid: %w", b, err)
	}
	start, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return Stat{}, fmt.Errorf("stat %q: starttime: %w", b, err)
	}
	return Stat{PID: pid, Comm: string(b[i+1 : j]), State: f[0], PPID: ppid, StartTime: start}, nil
}

// ReadStat reads /proc/<pid>/stat.
func ReadStat(pid string) (Stat, error) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return Stat{}, err
	}
	return ParseStat(b)
}

// PIDs lists the processes in /proc, as the reader's PID namespace numbers
// them.
func PIDs() ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}
