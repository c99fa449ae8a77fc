//go:build linux

package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/reexec"
)

func init() { reexec.Register("view", viewChild) }

// viewLimits are both limits at once: a small container.
var viewLimits = Resources{CPUPeriod: 100000, CPUQuota: 20000, Memory: 32 * mib}

// machineView is what the usual places say about the machine's size.
type machineView struct {
	MemTotal uint64 // /proc/meminfo, bytes
	CPUs     int    // sched_getaffinity(2), what nproc prints
}

func readMachineView() (machineView, error) {
	var v machineView
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return v, err
	}
	if v.MemTotal, err = memInfo(string(b), "MemTotal"); err != nil {
		return v, err
	}
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return v, fmt.Errorf("sched_getaffinity: %w", err)
	}
	v.CPUs = set.Count()
	return v, nil
}

// cgroupLimits are the limits a process finds by reading its own cgroup's
// files, the way a program should size itself.
type cgroupLimits struct {
	MemoryFile string
	Memory     uint64 // bytes, 0 for none
	CPUFile    string // cpu.max, or v1's cpu.cfs_quota_us
	Quota      int64  // µs per period, -1 for none
	Period     int64
}

// CPUs is the quota as a number of CPUs: 0.2 for 20000/100000.
func (l cgroupLimits) CPUs() float64 {
	if l.Quota < 0 || l.Period <= 0 {
		return 0
	}
	return float64(l.Quota) / float64(l.Period)
}

// Workers is how many threads of CPU work make sense: the quota rounded up.
func (l cgroupLimits) Workers(cpus int) int {
	if c := l.CPUs(); c > 0 {
		return min(cpus, int(math.Ceil(c)))
	}
	return cpus
}

// readLimits finds this process's cgroup in procSelfCgroup (the text of
// /proc/self/cgroup) and reads its memory and CPU limits under h's root.
// It reads the cgroup's own files only; a parent's tighter limit would
// apply too, which a careful program checks by walking up.
func readLimits(h Host, procSelfCgroup string) (cgroupLimits, error) {
	var l cgroupLimits
	lines, err := parseProcCgroup(procSelfCgroup)
	if err != nil {
		return l, err
	}
	var memDir, cpuDir string
	if h.Mode.V2() {
		p, ok := pathFor(lines, "")
		if !ok {
			return l, fmt.Errorf("/proc/self/cgroup has no 0:: line")
		}
		memDir, cpuDir = filepath.Join(h.Root, p), filepath.Join(h.Root, p)
		l.MemoryFile, l.CPUFile = filepath.Join(memDir, "memory.max"), filepath.Join(cpuDir, "cpu.max")
	} else {
		mp, ok1 := pathFor(lines, "memory")
		cp, ok2 := pathFor(lines, "cpu")
		if !ok1 || !ok2 {
			return l, fmt.Errorf("/proc/self/cgroup has no memory or cpu line")
		}
		memDir, cpuDir = filepath.Join(h.Root, "memory", mp), filepath.Join(h.Root, "cpu", cp)
		l.MemoryFile, l.CPUFile = filepath.Join(memDir, "memory.limit_in_bytes"), filepath.Join(cpuDir, "cpu.cfs_quota_us")
	}
	r := statReader{}
	if h.Mode.V2() {
		l.Memory = r.limit(l.MemoryFile)
		if r.err == nil {
			l.Quota, l.Period, r.err = parseCPUMax(r.read(l.CPUFile))
		}
	} else {
		if l.Memory = r.number(l.MemoryFile); l.Memory >= v1Unlimited {
			l.Memory = 0
		}
		l.Quota = r.signed(l.CPUFile)
		l.Period = int64(r.number(filepath.Join(cpuDir, "cpu.cfs_period_us")))
	}
	return l, r.err
}

// viewReport is what the child in the small cgroup read.
type viewReport struct {
	Machine machineView
	Limits  cgroupLimits
	Line    []string // its /proc/self/cgroup lines for the cgroup
}

// viewChild reads the machine's size the usual way, then its cgroup's.
func viewChild(c *reexec.Conn) error {
	var path string
	if err := c.Recv(&path); err != nil {
		return err
	}
	var r viewReport
	var err error
	if r.Machine, err = readMachineView(); err != nil {
		return err
	}
	h, err := openHost(cgroupRoot)
	if err != nil {
		return err
	}
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return err
	}
	if r.Limits, err = readLimits(h, string(b)); err != nil {
		return err
	}
	if r.Line, err = cgroupLines("self", path); err != nil {
		return err
	}
	return c.Send(r)
}

type procViewReport struct {
	Inside viewReport
	Host   machineView
}

func procViewDemo(ctx context.Context, cg Cgroup) (procViewReport, error) {
	var r procViewReport
	var err error
	if r.Host, err = readMachineView(); err != nil {
		return r, err
	}
	c, err := startIn(ctx, cg, "view", cg.Path())
	if err != nil {
		return r, err
	}
	defer c.Close()
	if err := c.Recv(&r.Inside); err != nil {
		return r, err
	}
	return r, c.Wait()
}

func (l *lessonState) stepProcView(s *kit.Session) error {
	h, err := l.host()
	if err != nil {
		return err
	}
	cg, err := l.leaf(s, "view")
	if err != nil {
		return err
	}
	s.Cmd("%s", writeLines(cg.Writes(viewLimits)))
	if err := cg.Set(viewLimits); err != nil {
		return err
	}
	r, err := procViewDemo(s.Ctx, cg)
	if err != nil {
		return err
	}
	in := r.Inside
	s.Cmd("grep MemTotal /proc/meminfo; nproc    # in the child")
	s.Inside("MemTotal %s   %s", gibString(in.Machine.MemTotal), sameAsHost(in.Machine.MemTotal == r.Host.MemTotal, gibString(r.Host.MemTotal)))
	s.Inside("nproc %d   %s", in.Machine.CPUs, sameAsHost(in.Machine.CPUs == r.Host.CPUs, fmt.Sprint(r.Host.CPUs)))
	s.Note("A 32 MiB, 0.2-CPU container is told it has the machine's memory and every CPU. /proc/meminfo\n" +
		"and sched_getaffinity(2) are not namespaced and know nothing of cgroups; a program that sizes a\n" +
		"heap or a thread pool by them overcommits, and meets the OOM killer or the throttle.")

	s.Cmd("cat /proc/self/cgroup    # in the child: where am I?")
	for _, line := range in.Line {
		s.Inside("%s", line)
	}
	s.Cmd("cat %s", in.Limits.MemoryFile)
	s.Inside("%d: %d MiB", in.Limits.Memory, in.Limits.Memory/mib)
	if h.Mode.V2() {
		s.Cmd("cat %s", in.Limits.CPUFile)
		s.Inside("%d %d: %.1f of a CPU, so %d worker thread, not %d", in.Limits.Quota, in.Limits.Period,
			in.Limits.CPUs(), in.Limits.Workers(in.Machine.CPUs), in.Machine.CPUs)
	} else {
		s.Cmd("cat %s", shellPaths([]string{in.Limits.CPUFile, filepath.Join(filepath.Dir(in.Limits.CPUFile), "cpu.cfs_period_us")}))
		s.Inside("%d / %d: %.1f of a CPU, so %d worker thread, not %d", in.Limits.Quota, in.Limits.Period,
			in.Limits.CPUs(), in.Limits.Workers(in.Machine.CPUs), in.Machine.CPUs)
	}
	s.Note("What a program should read is its own cgroup's files, found through /proc/self/cgroup. The JVM\n" +
		"(10+), .NET and Go 1.25+ (for GOMAXPROCS) do. For programs that do not, LXCFS, a FUSE\n" +
		"filesystem, is mounted over /proc/meminfo, /proc/cpuinfo and friends in the container and\n" +
		"answers from the cgroup's limits.")
	return nil
}

func sameAsHost(same bool, host string) string {
	if same {
		return "(the host's, exactly)"
	}
	return "(the host has " + host + ")"
}

func gibString(b uint64) string { return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30)) }
