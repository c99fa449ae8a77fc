package engine

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/unboxlab/unbox/internal/cgroups"
	"github.com/unboxlab/unbox/internal/procfs"
)

// cgroup is the container's cgroup, as the engine named it for the
// runtime (linux.cgroupsPath = <parent>/<id>), whichever runtime made it.
func (e *Engine) cgroup(c *Container) (cgroups.Manager, error) {
	host, err := cgroups.OpenHost(cgroups.DefaultRoot)
	if err != nil {
		return nil, err
	}
	return host.New(cgroups.Config{Parent: c.HostConfig.CgroupParent, Name: c.ID, Controllers: []string{"cpu", "memory", "pids"}})
}

// Process is one line of `unbox top`: ps -ef's columns.
type Process struct {
	UID   string
	PID   int
	PPID  int
	STIME string
	TTY   string
	TIME  string
	CMD   string
}

// Top lists the processes of a running container, read from its cgroup
// and /proc (proc(5)), as `ps -ef` would show them on the host.
func (e *Engine) Top(ref string) ([]Process, error) {
	c, err := e.Lookup(ref)
	if err != nil {
		return nil, err
	}
	if !c.State.Running || !e.monitorAlive(c.ID) {
		return nil, fmt.Errorf("container %s is not running", Short(c.ID))
	}
	m, err := e.cgroup(c)
	if err != nil {
		return nil, err
	}
	pids, err := m.Procs()
	if err != nil {
		return nil, err
	}
	sort.Ints(pids)
	boot := bootTime()
	var out []Process
	for _, pid := range pids {
		p := strconv.Itoa(pid)
		st, err := procfs.ReadStat(p)
		if err != nil {
			continue // gone meanwhile
		}
		status, _ := procfs.ReadStatus(p)
		uid, _, _ := strings.Cut(status["Uid"], "\t")
		cmd, _ := os.ReadFile("/proc/" + p + "/cmdline")
		line := strings.TrimSpace(string(bytes.ReplaceAll(cmd, []byte{0}, []byte{' '})))
		if line == "" {
			line = "[" + st.Comm + "]"
		}
		utime, stime, tty := statTimes(p)
		started := boot.Add(time.Duration(st.StartTime) * time.Second / clockTicks)
		out = append(out, Process{
			UID: uid, PID: pid, PPID: st.PPID, STIME: started.Local().Format("15:04"), TTY: tty,
			TIME: cpuTime((utime + stime) / clockTicks), CMD: line,
		})
	}
	return out, nil
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's times: 100 on
// every Linux architecture Go supports.
const clockTicks = 100

// statTimes reads utime, stime and the terminal from /proc/<pid>/stat
// (fields 14, 15 and 7).
func statTimes(pid string) (utime, stime uint64, tty string) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	tty = "?"
	if err != nil {
		return 0, 0, tty
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, tty
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, 0, tty
	}
	utime, _ = strconv.ParseUint(f[11], 10, 64)
	stime, _ = strconv.ParseUint(f[12], 10, 64)
	if nr, _ := strconv.Atoi(f[4]); nr != 0 {
		major, minor := (nr>>8)&0xfff, (nr&0xff)|((nr>>12)&0xfff00)
		if major == 136 {
			tty = "pts/" + strconv.Itoa(minor)
		}
	}
	return utime, stime, tty
}

func cpuTime(secs uint64) string {
	return fmt.Sprintf("%02d:%02d:%02d", secs/3600, secs/60%60, secs%60)
}

// bootTime is when the machine booted (/proc/stat btime).
func bootTime() time.Time {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return time.Time{}
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "btime "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return time.Unix(n, 0)
		}
	}
	return time.Time{}
}

// Stats is one line of `unbox stats`.
type Stats struct {
	ID, Name           string
	CPUPercent         float64
	MemUsage, MemLimit uint64
	MemPercent         float64
	NetRx, NetTx       uint64
	Pids               uint64
}

// Stats samples the cgroups of the running containers named (all running
// ones when refs is empty) twice, interval apart, for the CPU share, as
// `docker stats --no-stream` does.
func (e *Engine) Stats(ctx context.Context, refs []string, interval time.Duration) ([]Stats, error) {
	var cs []*Container
	if len(refs) == 0 {
		all, err := e.List()
		if err != nil {
			return nil, err
		}
		for _, c := range all {
			if c.State.Running {
				cs = append(cs, c)
			}
		}
	}
	for _, r := range refs {
		c, err := e.Lookup(r)
		if err != nil {
			return nil, err
		}
		if !c.State.Running {
			return nil, fmt.Errorf("container %s is not running", r)
		}
		cs = append(cs, c)
	}
	type sample struct {
		m     cgroups.Manager
		first cgroups.Stats
	}
	samples := make([]sample, len(cs))
	for i, c := range cs {
		m, err := e.cgroup(c)
		if err != nil {
			return nil, err
		}
		st, err := m.Stats()
		if err != nil {
			return nil, fmt.Errorf("stats of %s: %w", c.Name, err)
		}
		samples[i] = sample{m, st}
	}
	start := time.Now()
	select {
	case <-time.After(interval):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	elapsed := time.Since(start)
	hostMem := hostMemory()
	var out []Stats
	for i, c := range cs {
		st, err := samples[i].m.Stats()
		if err != nil {
			continue // it stopped meanwhile
		}
		s := Stats{ID: c.ID, Name: c.Name, Pids: st.Pids.Current}
		used := st.CPU.UsageUsec - samples[i].first.CPU.UsageUsec
		if st.CPU.UsageUsec >= samples[i].first.CPU.UsageUsec {
			s.CPUPercent = float64(used) / float64(elapsed.Microseconds()) * 100
		}
		s.MemUsage = st.Memory.Usage
		if st.Memory.InactiveFile < s.MemUsage {
			s.MemUsage -= st.Memory.InactiveFile
		}
		s.MemLimit = st.Memory.Limit
		if s.MemLimit == 0 || s.MemLimit > hostMem {
			s.MemLimit = hostMem
		}
		if s.MemLimit > 0 {
			s.MemPercent = float64(s.MemUsage) / float64(s.MemLimit) * 100
		}
		s.NetRx, s.NetTx = netIO(c.State.Pid)
		out = append(out, s)
	}
	return out, nil
}

// hostMemory is MemTotal of /proc/meminfo, in bytes.
func hostMemory() uint64 {
	b, _ := os.ReadFile("/proc/meminfo")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "MemTotal:"); ok {
			n, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n << 10
		}
	}
	return 0
}

// netIO sums the bytes received and sent by the interfaces (but lo) of
// pid's network namespace (/proc/<pid>/net/dev).
func netIO(pid int) (rx, tx uint64) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/net/dev")
	if err != nil {
		return 0, 0
	}
	for _, l := range strings.Split(string(b), "\n")[2:] {
		name, rest, ok := strings.Cut(l, ":")
		if !ok || strings.TrimSpace(name) == "lo" {
			continue
		}
		f := strings.Fields(rest)
		if len(f) >= 9 {
			r, _ := strconv.ParseUint(f[0], 10, 64)
			t, _ := strconv.ParseUint(f[8], 10, 64)
			rx, tx = rx+r, tx+t
		}
	}
	return rx, tx
}
