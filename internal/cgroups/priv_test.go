//go:build linux

package cgroups

// Privileged tests: the package on this machine's real cgroups, asserting
// on the kernel's own counters, never on the clock. kittest.Privileged's
// leak check then proves that no cgroup or process of ours is left, and
// that a cgroup v2 root's cgroup.subtree_control is as it was.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/kit/kittest"
	"github.com/unboxlab/unbox/internal/procfs"
	"github.com/unboxlab/unbox/internal/reexec"
)

func TestMain(m *testing.M) { kittest.Main(m, nil) }

// needCgroups is a cgroup filesystem with the controllers the tests use.
var needCgroups = kit.Need{
	Name: "cgroups (cpu, cpuset, memory, pids, freezer)",
	Check: func() error {
		h, err := OpenHost(DefaultRoot)
		if err != nil {
			return err
		}
		return h.Check("cpu", "cpuset", "memory", "pids", "freezer")
	},
	Fix: "cgroups mounted at /sys/fs/cgroup with these controllers (any current distribution); use the Vagrant VM",
}

func init() {
	// booted says so first thing, then waits until the parent says go, says
	// it is ready, and waits until the parent goes away.
	reexec.Register("booted", func(c *reexec.Conn) error {
		if err := c.Send("booted"); err != nil {
			return err
		}
		if err := c.Recv(nil); err != nil {
			return err
		}
		if err := c.Send("ready"); err != nil {
			return err
		}
		return c.Recv(nil)
	})
}

// testCgroup creates /unbox-cgtest-<pid>/t with ctls (cpu, memory and pids
// by default), removed with its parent when the test ends.
func testCgroup(t *testing.T, ctls ...string) (*Host, Manager) {
	t.Helper()
	if len(ctls) == 0 {
		ctls = []string{"cpu", "memory", "pids"}
	}
	h, err := OpenHost(DefaultRoot)
	if err != nil {
		t.Fatal(err)
	}
	name := kit.UniqueName("cgtest")
	parent, err := h.New(Config{Parent: "/", Name: name, Controllers: ctls})
	if err != nil {
		t.Fatal(err)
	}
	// Registered before Create, so that a half-made parent goes too.
	t.Cleanup(func() {
		if err := parent.Destroy(); err != nil {
			t.Errorf("Destroy: %v", err)
		}
	})
	m, err := h.New(Config{Parent: "/" + name, Name: "t", Controllers: ctls})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Create(); err != nil {
		t.Fatal(err)
	}
	return h, m
}

// shell is a /bin/sh started in a cgroup with Start, held until release:
// its script begins with `read go`, so that when it had to be moved in, it
// runs nothing of its own before.
type shell struct {
	cmd       *exec.Cmd
	stdin     io.WriteCloser
	out       bytes.Buffer
	placement Placement
}

func startShell(t *testing.T, m Manager, script string) *shell {
	t.Helper()
	sh := &shell{}
	p, err := Start(m, func(fd int) (int, error) {
		sh.cmd = exec.Command("/bin/sh", "-c", "read go; "+script)
		sh.cmd.Stdout, sh.cmd.Stderr = &sh.out, &sh.out
		sh.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if fd >= 0 {
			sh.cmd.SysProcAttr.UseCgroupFD, sh.cmd.SysProcAttr.CgroupFD = true, fd
		}
		var err error
		if sh.stdin, err = sh.cmd.StdinPipe(); err != nil {
			return 0, err
		}
		if err := sh.cmd.Start(); err != nil {
			return 0, err
		}
		return sh.cmd.Process.Pid, nil
	})
	if sh.cmd != nil && sh.cmd.Process != nil {
		t.Cleanup(func() {
			_ = sh.cmd.Process.Kill()
			_ = sh.cmd.Wait()
		})
	}
	if err != nil {
		t.Fatal(err)
	}
	sh.placement = p
	return sh
}

func (sh *shell) release() { fmt.Fprintln(sh.stdin, "go") }

// wantPlacement is what Start must achieve here: born in the cgroup on
// v2 (the tests' kernels are all 5.7+), moved in on v1.
func wantPlacement(h *Host) Placement {
	if h.Mode.V2() {
		return ClonedInto
	}
	return Moved
}

// TestPrivStartInCgroup: the child's first read of its own
// /proc/self/cgroup already names the cgroup. On v2 the child is cat
// itself, cloned into the cgroup and never held: nothing could have moved
// it before it read. On v1 it is a shell held on `read` until Start has
// moved it, which then execs cat.
func TestPrivStartInCgroup(t *testing.T) {
	kittest.Privileged(t, needCgroups)
	h, m := testCgroup(t)
	var out bytes.Buffer
	var cmd *exec.Cmd
	var stdin io.WriteCloser
	p, err := Start(m, func(fd int) (int, error) {
		if fd >= 0 {
			cmd = exec.Command("/bin/cat", "/proc/self/cgroup")
			cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
		} else {
			cmd = exec.Command("/bin/sh", "-c", "read go; exec cat /proc/self/cgroup")
			var err error
			if stdin, err = cmd.StdinPipe(); err != nil {
				return 0, err
			}
		}
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			return 0, err
		}
		return cmd.Process.Pid, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if stdin != nil {
		fmt.Fprintln(stdin, "go")
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("cat /proc/self/cgroup: %v\n%s", err, out.String())
	}
	if want := wantPlacement(h); p != want {
		t.Errorf("Start placed the child: %v; want %v", p, want)
	}
	lines, err := procfs.ParseCgroup(out.String())
	if err != nil {
		t.Fatal(err)
	}
	ctls := []string{""}
	if !h.Mode.V2() {
		ctls = []string{"cpu", "cpuacct", "memory", "pids"}
	}
	for _, ctl := range ctls {
		if got, ok := procfs.CgroupPath(lines, ctl); !ok || got != m.Path() {
			t.Errorf("the child read its cgroup for %q: %q (found %v); want %s\n%s", ctl, got, ok, m.Path(), out.String())
		}
	}
}

// TestPrivChargesFollowPlacement holds the package doc to what the kernel
// does with memory. A Go child's runtime touches a few MiB as it starts;
// here the child says when it has started, and only then does Start
// return (and, on v1, move it). Cloned into the cgroup, all of that
// start-up is charged there: the cgroup's usage is at least the child's
// private memory (RssAnon). Moved in, it stays charged to the cgroup the
// child started in, and the new cgroup holds only what the child touched
// after the move: less than half of its RssAnon.
func TestPrivChargesFollowPlacement(t *testing.T) {
	kittest.Privileged(t, needCgroups)
	h, m := testCgroup(t)
	var c *reexec.Child
	p, err := Start(m, func(fd int) (int, error) {
		c = reexec.NewChild("booted")
		if fd >= 0 {
			c.Cmd.SysProcAttr.UseCgroupFD, c.Cmd.SysProcAttr.CgroupFD = true, fd
		}
		if err := c.Start(context.Background()); err != nil {
			return 0, err
		}
		return c.Pid(), c.Recv(nil)
	})
	if c != nil {
		defer c.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Send(nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Recv(nil); err != nil {
		t.Fatal(err)
	}
	status, err := procfs.ReadStatus(strconv.Itoa(c.Pid()))
	if err != nil {
		t.Fatal(err)
	}
	kb, err := strconv.ParseUint(strings.TrimSuffix(status["RssAnon"], " kB"), 10, 64)
	if err != nil {
		t.Fatalf("RssAnon %q: %v", status["RssAnon"], err)
	}
	st, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	rss, usage := kb<<10, st.Memory.Usage
	t.Logf("%v: the child's RssAnon %d KiB, the cgroup's usage %d KiB", p, rss>>10, usage>>10)
	if want := wantPlacement(h); p != want {
		t.Fatalf("Start placed the child: %v; want %v", p, want)
	}
	switch {
	case p == ClonedInto && usage < rss:
		t.Errorf("cloned into the cgroup: its usage %d KiB is below the child's RssAnon %d KiB; want all of it charged here", usage>>10, rss>>10)
	case p == Moved && usage >= rss/2:
		t.Errorf("moved in: the cgroup's usage %d KiB is half or more of the child's RssAnon %d KiB; want the start-up charged where the child started", usage>>10, rss>>10)
	}
}

// TestPrivCPUThrottled: with a quota of 20000 µs per 100000 µs, a busy
// loop is throttled, and its CPU time per period stays near the quota, far
// from the whole period it would use unthrottled. In a VM without hardware
// virtualisation a vCPU can be descheduled for a long stretch that the
// guest then charges to whatever ran, so the median of five windows is
// judged, not one.
func TestPrivCPUThrottled(t *testing.T) {
	kittest.Privileged(t, needCgroups)
	_, m := testCgroup(t)
	limit := Resources{CPUQuota: 20000, CPUPeriod: 100000}
	if err := m.Set(limit); err != nil {
		t.Fatal(err)
	}
	sh := startShell(t, m, "while :; do :; done")
	sh.release()
	before, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	var perPeriod []float64
	prev := before.CPU
	for range 5 {
		time.Sleep(400 * time.Millisecond)
		st, err := m.Stats()
		if err != nil {
			t.Fatal(err)
		}
		used, periods := st.CPU.UsageUsec-prev.UsageUsec, st.CPU.Periods-prev.Periods
		t.Logf("window: %d µs used, %d periods, %d throttled", used, periods, st.CPU.Throttled-prev.Throttled)
		// The window's edges cut into two more periods than it counts.
		perPeriod = append(perPeriod, float64(used)/float64(periods+2))
		prev = st.CPU
	}
	if prev.Throttled == before.CPU.Throttled || prev.ThrottledUsec == before.CPU.ThrottledUsec {
		t.Fatalf("nr_throttled %d -> %d, throttled time %d -> %d µs; want throttling", before.CPU.Throttled, prev.Throttled,
			before.CPU.ThrottledUsec, prev.ThrottledUsec)
	}
	slices.Sort(perPeriod)
	median := perPeriod[len(perPeriod)/2]
	// The scheduler hands out runtime in slices and checks it at ticks:
	// allow half as much again as the quota. Unthrottled, the loop would
	// use the whole period, five times the quota.
	if most := float64(limit.CPUQuota) * 1.5; median > most {
		t.Errorf("median usage per period = %.0f µs; want at most %.0f (the quota, %d µs, and some slack)", median, most, limit.CPUQuota)
	}
}

// TestPrivMemoryOOMKill: a process that touches more than the limit, with
// nothing the kernel could reclaim, is killed by the OOM killer in its
// cgroup; the counters say so and the peak stays at the limit.
func TestPrivMemoryOOMKill(t *testing.T) {
	kittest.Privileged(t, needCgroups)
	h, m := testCgroup(t)
	const limit = 32 << 20
	r := Resources{Memory: limit}
	if h.Mode.V2() {
		// No swap to spill into. (On v1, memsw would take the failed
		// charges from memory.failcnt; these hosts have no swap.)
		r.MemorySwap = limit
	}
	if err := m.Set(r); err != nil {
		t.Fatal(err)
	}
	// dd reads 128 MiB of zeros into one buffer: every page is written.
	sh := startShell(t, m, "exec dd if=/dev/zero of=/dev/null bs=128M count=1")
	sh.release()
	err := sh.cmd.Wait()
	ws, _ := sh.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("dd of 128 MiB in a 32 MiB cgroup ended with %v; want SIGKILL\n%s", err, sh.out.String())
	}
	st, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	// A task the OOM killer picked may charge a few pages past the limit
	// on its way out (mm/memcontrol.c lets a dying task through).
	if st.Memory.OOMKills != 1 || st.Memory.LimitHits == 0 || st.Memory.Limit != limit || st.Memory.Peak > limit+1<<20 {
		t.Errorf("memory stats %+v; want oom_kill 1, limit hits, limit %d, peak at most the limit", st.Memory, limit)
	}
}

// TestPrivPidsLimit: past pids.max, fork fails; the refusals are counted
// and the cgroup never holds more tasks than the limit.
func TestPrivPidsLimit(t *testing.T) {
	kittest.Privileged(t, needCgroups)
	_, m := testCgroup(t)
	if err := m.Set(Resources{PidsLimit: 5}); err != nil {
		t.Fatal(err)
	}
	// The shell and four sleeps fill the cgroup; the fifth fork fails, and
	// the shell gives up (or goes on failing) and ends, leaving the sleeps.
	sh := startShell(t, m, "for i in 1 2 3 4 5 6 7 8 9 10; do sleep 60 >/dev/null 2>&1 & done")
	sh.release()
	_ = sh.cmd.Wait()
	st, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Pids.LimitHits == 0 || st.Pids.Limit != 5 || st.Pids.Current > 4 || st.Pids.Current == 0 {
		t.Errorf("pids stats %+v after the shell ended; want refused forks, limit 5, and its sleeps (1 to 4) left\n%s", st.Pids, sh.out.String())
	}
	if err := m.Kill(); err != nil {
		t.Fatal(err)
	}
	if procs, _ := m.Procs(); len(procs) != 0 {
		t.Errorf("after Kill: %v left", procs)
	}
}

// TestPrivFreeze: a frozen busy loop uses no CPU; thawed, it does again.
func TestPrivFreeze(t *testing.T) {
	kittest.Privileged(t, needCgroups)
	_, m := testCgroup(t, "cpu", "memory", "pids", "freezer")
	sh := startShell(t, m, "while :; do :; done")
	sh.release()
	usage := func() uint64 {
		st, err := m.Stats()
		if err != nil {
			t.Fatal(err)
		}
		return st.CPU.UsageUsec
	}
	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	frozen := usage()
	time.Sleep(300 * time.Millisecond)
	if used := usage() - frozen; used > 1000 {
		t.Errorf("frozen for 300 ms, the loop used %d µs of CPU; want none", used)
	}
	if err := m.Thaw(); err != nil {
		t.Fatal(err)
	}
	thawed := usage()
	time.Sleep(300 * time.Millisecond)
	if used := usage() - thawed; used < 10000 {
		t.Errorf("thawed for 300 ms, the loop used %d µs of CPU; want it running again", used)
	}
}

// TestPrivKillAndDestroy: Kill empties a cgroup and its children,
// grandchildren included; rmdir alone is refused while a process is in it;
// Destroy removes it.
func TestPrivKillAndDestroy(t *testing.T) {
	kittest.Privileged(t, needCgroups)
	_, m := testCgroup(t)
	sh := startShell(t, m, "sleep 60 & sleep 60 & wait")
	sh.release()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		st, err := m.Stats()
		if err != nil {
			t.Fatal(err)
		}
		if st.Pids.Current == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pids.current = %d; want the shell and its two sleeps", st.Pids.Current)
		}
	}
	if err := syscall.Rmdir(m.Dirs()[0]); err != syscall.EBUSY {
		t.Errorf("rmdir with processes inside: %v; want EBUSY", err)
	}
	if err := m.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = sh.cmd.Wait()
	if ws, _ := sh.cmd.ProcessState.Sys().(syscall.WaitStatus); ws.Signal() != syscall.SIGKILL {
		t.Errorf("the shell ended with %v; want SIGKILL", sh.cmd.ProcessState)
	}
	if procs, _ := m.Procs(); len(procs) != 0 {
		t.Errorf("after Kill: %v left", procs)
	}
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	for _, d := range m.Dirs() {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("after Destroy, %s: %v; want it gone", d, err)
		}
	}
}

// TestPrivCpuset: a cpuset of CPU 0 is what the child's scheduler affinity
// then allows (unlike the CPU quota). On v1 the new cgroups start with no
// CPUs and refuse tasks until given some: Create copies the parent's.
func TestPrivCpuset(t *testing.T) {
	kittest.Privileged(t, needCgroups)
	_, m := testCgroup(t, "cpuset", "pids")
	if err := m.Set(Resources{CpusetCPUs: "0"}); err != nil {
		t.Fatal(err)
	}
	sh := startShell(t, m, "exec grep Cpus_allowed_list /proc/self/status")
	sh.release()
	if err := sh.cmd.Wait(); err != nil {
		t.Fatalf("grep: %v\n%s", err, sh.out.String())
	}
	if got := strings.Join(strings.Fields(sh.out.String()), " "); got != "Cpus_allowed_list: 0" {
		t.Errorf("in a cpuset of CPU 0, the child read %q; want Cpus_allowed_list: 0", got)
	}
}

// TestPrivSetReadBack: what Set writes, the kernel keeps, in the units the
// kernel uses; Stats reads the limits back.
func TestPrivSetReadBack(t *testing.T) {
	kittest.Privileged(t, needCgroups)
	h, m := testCgroup(t)
	r := Resources{CPUQuota: 50000, CPUPeriod: 200000, CPUShares: 512, Memory: 64 << 20, MemoryReservation: 16 << 20, PidsLimit: 42}
	if err := m.Set(r); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"pids.max": "42"}
	if h.Mode.V2() {
		want["cpu.max"] = "50000 200000"
		want["cpu.weight"] = strconv.FormatUint(SharesToWeight(512), 10)
		want["memory.max"] = "67108864"
		want["memory.low"] = "16777216"
	} else {
		want["cpu.cfs_quota_us"] = "50000"
		want["cpu.cfs_period_us"] = "200000"
		want["cpu.shares"] = "512"
		want["memory.limit_in_bytes"] = "67108864"
		want["memory.soft_limit_in_bytes"] = "16777216"
	}
	for f, v := range want {
		b, err := os.ReadFile(m.File(f))
		if err != nil {
			t.Error(err)
			continue
		}
		if got := strings.TrimSpace(string(b)); got != v {
			t.Errorf("%s = %q; want %q", filepath.Base(m.File(f)), got, v)
		}
	}
	st, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Memory.Limit != 64<<20 || st.Pids.Limit != 42 {
		t.Errorf("Stats: memory limit %d, pids limit %d; want %d, 42", st.Memory.Limit, st.Pids.Limit, 64<<20)
	}
}

func init() {
	// devices waits for the parent's word (on v1, the move into the
	// cgroup), then tries each mknod and open it was sent and answers
	// with the errors, "" for none.
	reexec.Register("devices", func(c *reexec.Conn) error {
		var tries []deviceTry
		if err := c.Recv(&tries); err != nil {
			return err
		}
		got := make([]string, len(tries))
		for i, try := range tries {
			var err error
			if try.Mknod != 0 {
				err = unix.Mknod(try.Path, try.Mknod, int(unix.Mkdev(try.Major, try.Minor)))
			} else {
				var fd int
				if fd, err = unix.Open(try.Path, try.Flags|unix.O_CLOEXEC, 0); err == nil {
					unix.Close(fd)
				}
			}
			if err != nil {
				got[i] = err.Error()
			}
		}
		return c.Send(got)
	})
}

// deviceTry is one mknod(2) (Mknod the file type, S_IFCHR or S_IFBLK) or
// open(2) for the devices stage.
type deviceTry struct {
	Path         string
	Mknod        uint32
	Major, Minor uint32
	Flags        int
}

// TestPrivDevices: in a cgroup whose rules allow /dev/null, and mknod
// alone of /dev/zero, a process running as root makes the node of
// /dev/null and of /dev/zero, but not of a disk (sda, b 8:0); it opens the
// host's /dev/null for reading and writing, and cannot open the host's
// /dev/zero at all: EPERM, from the v1 devices controller or from the v2
// BPF filter, whatever path leads to the node.
func TestPrivDevices(t *testing.T) {
	kittest.Privileged(t, needCgroups)
	_, m := testCgroup(t, "pids", "devices")
	rules := []DeviceRule{rule(false, "a *:* rwm"), rule(true, "c 1:3 rwm"), rule(true, "c 1:5 m")}
	if err := m.Set(Resources{Devices: rules}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tries := []deviceTry{
		{Path: dir + "/null", Mknod: unix.S_IFCHR | 0o666, Major: 1, Minor: 3},
		{Path: dir + "/zero", Mknod: unix.S_IFCHR | 0o666, Major: 1, Minor: 5},
		{Path: dir + "/sda", Mknod: unix.S_IFBLK | 0o600, Major: 8, Minor: 0},
		{Path: "/dev/null", Flags: unix.O_RDWR},
		{Path: "/dev/zero", Flags: unix.O_RDONLY},
	}
	want := []string{"", "", unix.EPERM.Error(), "", unix.EPERM.Error()}
	var c *reexec.Child
	_, err := Start(m, func(fd int) (int, error) {
		c = reexec.NewChild("devices")
		if fd >= 0 {
			c.Cmd.SysProcAttr.UseCgroupFD, c.Cmd.SysProcAttr.CgroupFD = true, fd
		}
		if err := c.Start(context.Background()); err != nil {
			return 0, err
		}
		return c.Pid(), nil
	})
	if c != nil {
		defer c.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Send(tries); err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := c.Recv(&got); err != nil {
		t.Fatal(err)
	}
	for i, try := range tries {
		op := "open"
		if try.Mknod != 0 {
			op = "mknod"
		}
		if got[i] != want[i] {
			t.Errorf("%s %s in the cgroup = %q; want %q (rules %v)", op, try.Path, got[i], want[i], rules)
		}
	}
}
