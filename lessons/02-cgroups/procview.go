//go:build linux

package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/cgroups"
	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/procfs"
	"github.com/unboxlab/unbox/internal/reexec"
)

func init() { reexec.Register("view", viewChild) }

// viewLimits are both limits at once: a small container.
var viewLimits = cgroups.Resources{CPUPeriod: 100000, CPUQuota: 20000, Memory: 32 * mib, MemorySwap: 32 * mib}

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
// files, the way a program should size itself (cgroups.Host.Limits).
type cgroupLimits struct{ cgroups.ProcessLimits }

// CPUs is the quota as a number of CPUs: 0.2 for 20000/100000, 0 for none.
func (l cgroupLimits) CPUs() float64 {
	if l.CPUQuota < 0 || l.CPUPeriod == 0 {
		return 0
	}
	return cpus(l.Resources)
}

// Workers is how many threads of CPU work make sense: the quota rounded up.
func (l cgroupLimits) Workers(cpus int) int {
	if c := l.CPUs(); c > 0 {
		return min(cpus, int(math.Ceil(c)))
	}
	return cpus
}

// readLimits reads this process's limits.
func readLimits(h *cgroups.Host) (cgroupLimits, error) {
	lines, err := procfs.ReadCgroup("self")
	if err != nil {
		return cgroupLimits{}, err
	}
	l, err := h.Limits(lines)
	return cgroupLimits{l}, err
}

// memInfo returns a field of /proc/meminfo text in bytes ("MemTotal").
func memInfo(text, field string) (uint64, error) {
	for _, line := range strings.Split(text, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || k != field {
			continue
		}
		f := strings.Fields(v)
		n, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/meminfo %s: %w", field, err)
		}
		if len(f) > 1 && f[1] == "kB" {
			n *= 1024
		}
		return n, nil
	}
	return 0, fmt.Errorf("/proc/meminfo has no %s", field)
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
	h, err := cgroups.OpenHost(cgroups.DefaultRoot)
	if err != nil {
		return err
	}
	if r.Limits, err = readLimits(h); err != nil {
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

func procViewDemo(ctx context.Context, cg cgroups.Manager) (procViewReport, error) {
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
	limits := limitFor(viewLimits, h.Mode)
	err = cg.Set(limits)
	l.show(s)
	if err != nil {
		return err
	}
	r, err := procViewDemo(s.Ctx, cg)
	l.take() // starting the child: step 2 showed how
	if err != nil {
		return err
	}
	in := r.Inside
	s.Cmd("grep MemTotal /proc/meminfo; nproc    # in the child")
	s.Inside("MemTotal %s   %s", gibString(in.Machine.MemTotal), sameAsHost(s, in.Machine.MemTotal == r.Host.MemTotal, gibString(r.Host.MemTotal)))
	s.Inside("nproc %d   %s", in.Machine.CPUs, sameAsHost(s, in.Machine.CPUs == r.Host.CPUs, fmt.Sprint(r.Host.CPUs)))
	s.Note("A %d MiB, %g-CPU container is told it has the machine's memory and every CPU. /proc/meminfo\n"+
		"is not namespaced and knows nothing of memory.max; sched_getaffinity(2) follows the cpuset\n"+
		"controller (cpuset.cpus, exercise 2) but not a CPU quota, which limits time, not CPUs. A\n"+
		"program that sizes a heap or a thread pool by them overcommits, and meets the OOM killer or\n"+
		"the throttle.", limits.Memory/mib, cpus(limits))

	s.Cmd("cat /proc/self/cgroup    # in the child: where am I?")
	for _, line := range in.Line {
		s.Inside("%s", line)
	}
	lim := in.Limits
	s.Cmd("cat %s", lim.MemoryFile)
	s.Inside("%d: %d MiB", lim.Memory, lim.Memory/mib)
	s.Cmd("cat %s", shellPaths(lim.CPUFiles))
	sep := " "
	if !h.Mode.V2() {
		sep = " / "
	}
	s.Inside("%d%s%d: %.1f of a CPU, so %d worker thread, not %d", lim.CPUQuota, sep, lim.CPUPeriod,
		lim.CPUs(), lim.Workers(in.Machine.CPUs), in.Machine.CPUs)
	s.Note("What a program should read is its own cgroup's files, found through /proc/self/cgroup. The JVM\n" +
		"(10+), .NET and Go 1.25+ (for GOMAXPROCS) do. For programs that do not, LXCFS, a FUSE\n" +
		"filesystem, is mounted over /proc/meminfo, /proc/cpuinfo and friends in the container and\n" +
		"answers from the cgroup's limits.")
	return nil
}

func sameAsHost(s *kit.Session, same bool, host string) string {
	if same {
		return s.T("(the host's, exactly)")
	}
	return s.T("(the host has %s)", host)
}

func gibString(b uint64) string { return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30)) }
