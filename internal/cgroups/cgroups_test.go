//go:build linux

package cgroups

// Pure tests: the package against fake v1 and v2 trees (fake_test.go).
// They check what is written where, in which order (through the trace),
// and what is read back.

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/procfs"
)

func TestDetectMode(t *testing.T) {
	const ext4 = 0xef53
	for _, c := range []struct {
		name    string
		types   map[string]int64
		want    Mode
		probes  []string
		wantErr string
	}{
		{"v2", map[string]int64{"/cg": unix.CGROUP2_SUPER_MAGIC}, Unified, []string{"/cg cgroup2fs"}, ""},
		{"hybrid", map[string]int64{"/cg": unix.TMPFS_MAGIC, "/cg/unified": unix.CGROUP2_SUPER_MAGIC}, Hybrid,
			[]string{"/cg tmpfs", "/cg/unified cgroup2fs"}, ""},
		{"legacy", map[string]int64{"/cg": unix.TMPFS_MAGIC}, Legacy,
			[]string{"/cg tmpfs", "/cg/unified stat: cannot read file system information for '/cg/unified': No such file or directory"}, ""},
		{"legacy, unified is not cgroup2", map[string]int64{"/cg": unix.TMPFS_MAGIC, "/cg/unified": unix.TMPFS_MAGIC}, Legacy,
			[]string{"/cg tmpfs", "/cg/unified tmpfs"}, ""},
		{"not mounted", map[string]int64{"/cg": ext4}, 0, nil, "neither a cgroup2 filesystem nor a tmpfs"},
		{"missing", map[string]int64{}, 0, nil, "statfs /cg"},
	} {
		t.Run(c.name, func(t *testing.T) {
			fsType := func(p string) (int64, error) {
				if v, ok := c.types[p]; ok {
					return v, nil
				}
				return 0, syscall.ENOENT
			}
			got, probes, err := detectMode("/cg", fsType)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("detectMode = %v, %v; want an error with %q", got, err, c.wantErr)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("detectMode = %v, %v; want %v", got, err, c.want)
			}
			var ps []string
			for _, p := range probes {
				ps = append(ps, p.Path+" "+p.TypeName())
			}
			if !slices.Equal(ps, c.probes) {
				t.Errorf("probes = %q; want %q", ps, c.probes)
			}
		})
	}
}

func TestConfigRejectsBadNames(t *testing.T) {
	h, _ := fakeV2(t, "cpu memory pids")
	for _, c := range []Config{
		{Parent: "", Name: "x"}, {Parent: "relative", Name: "x"}, {Parent: "/a/../b", Name: "x"}, {Parent: "/a/", Name: "x"},
		{Parent: "/", Name: ""}, {Parent: "/", Name: ".."}, {Parent: "/", Name: "a/b"},
	} {
		c.Controllers = []string{"cpu"}
		if _, err := h.New(c); err == nil {
			t.Errorf("New(%+v) = nil error; want one", c)
		}
	}
	for _, ctls := range [][]string{nil, {"cpu", "blkio"}} {
		if _, err := h.New(Config{Parent: "/", Name: "x", Controllers: ctls}); err == nil {
			t.Errorf("New(controllers %q) = nil error; want one", ctls)
		}
	}
}

// TestV2CreateEnablesControllers: on a root where nobody enabled the
// controllers, Create enables them at each level before the mkdir below it,
// and the leaf gets the controllers' files.
func TestV2CreateEnablesControllers(t *testing.T) {
	h, _ := fakeV2(t, "cpuset cpu io memory hugetlb pids rdma misc")
	ops := trace(h)
	m := mustCreate(t, h, "/unbox-x", "hog")
	want := []string{
		"echo '+cpu +memory +pids' > <root>/cgroup.subtree_control",
		"mkdir <root>/unbox-x",
		"echo '+cpu +memory +pids' > <root>/unbox-x/cgroup.subtree_control",
		"mkdir <root>/unbox-x/hog",
	}
	if !slices.Equal(*ops, want) {
		t.Errorf("Create did\n  %s\nwant\n  %s", strings.Join(*ops, "\n  "), strings.Join(want, "\n  "))
	}
	for _, f := range []string{"cpu.max", "memory.max", "pids.max"} {
		if !exists(m.File(f)) {
			t.Errorf("the new cgroup has no %s", f)
		}
	}
	if want := []string{h.Root + "/unbox-x/hog"}; !slices.Equal(m.Dirs(), want) || m.Path() != "/unbox-x/hog" {
		t.Errorf("Dirs() = %v, Path() = %q; want %v, /unbox-x/hog", m.Dirs(), m.Path(), want)
	}

	// A sibling: the parent exists, so only its subtree_control and mkdir.
	*ops = nil
	mustCreate(t, h, "/unbox-x", "bomb")
	want = []string{"echo '+cpu +memory +pids' > <root>/unbox-x/cgroup.subtree_control", "mkdir <root>/unbox-x/bomb"}
	if !slices.Equal(*ops, want) {
		t.Errorf("Create of a sibling did %q; want %q", *ops, want)
	}
	// Again: it exists, nothing to do.
	*ops = nil
	mustCreate(t, h, "/unbox-x", "bomb")
	if len(*ops) != 0 {
		t.Errorf("Create of an existing cgroup did %q; want nothing", *ops)
	}
}

// TestV2CreateUnderBusyParent: a parent holding processes cannot enable
// controllers for a child (no internal processes): Create says so, and
// leaves nothing behind.
func TestV2CreateUnderBusyParent(t *testing.T) {
	h, k := fakeV2(t, "cpu memory pids")
	writeFiles(t, h.Root, map[string]string{"cgroup.subtree_control": "cpu memory pids\n"}) // systemd enabled them
	if err := k.mkdir(filepath.Join(h.Root, "session.scope")); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, filepath.Join(h.Root, "session.scope"), map[string]string{"cgroup.procs": "42\n"})
	m := mustNew(t, h, "/session.scope", "ctr")
	err := m.Create()
	if !errors.Is(err, unix.EBUSY) || !strings.Contains(err.Error(), "no internal processes") {
		t.Fatalf("Create under a cgroup with processes: %v; want EBUSY naming the rule", err)
	}
	if exists(m.Dirs()[0]) {
		t.Errorf("Create failed but made %s", m.Dirs()[0])
	}
}

func TestV2CreateWithoutController(t *testing.T) {
	h, _ := fakeV2(t, "cpu memory") // pids bound to v1, or not built
	m := mustNew(t, h, "/unbox-x", "hog")
	err := m.Create()
	if err == nil || !strings.Contains(err.Error(), "the pids controller is not available") {
		t.Fatalf("Create without pids: %v; want an error naming pids", err)
	}
	if exists(filepath.Join(h.Root, "unbox-x")) {
		t.Errorf("Create failed but made the parent")
	}
	if err := h.Check("cpu", "pids"); err == nil || !strings.Contains(err.Error(), "pids") {
		t.Errorf("Check(cpu, pids) = %v; want an error naming pids", err)
	}
}

// TestV2DestroyRestoresRoot: the controllers Create enabled at the root are
// disabled again when the last cgroup of ours below the root goes, and
// those that were on before stay on.
func TestV2DestroyRestoresRoot(t *testing.T) {
	for _, c := range []struct{ before, after, op string }{
		{"", "", "echo '-cpu -memory -pids' > <root>/cgroup.subtree_control"},
		{"cpu io memory", "cpu io memory", "echo -pids > <root>/cgroup.subtree_control"},
		{"cpu memory pids", "cpu memory pids", ""}, // nothing of ours to undo
	} {
		h, _ := fakeV2(t, "cpuset cpu io memory pids")
		writeFiles(t, h.Root, map[string]string{"cgroup.subtree_control": c.before + "\n"})
		parent := mustNew(t, h, "/", "unbox-x")
		mustCreate(t, h, "/unbox-x", "hog")
		ops := trace(h)
		if err := parent.Destroy(); err != nil {
			t.Fatal(err)
		}
		if got := read(t, h.Root+"/cgroup.subtree_control"); got != c.after {
			t.Errorf("root was %q: after Destroy, cgroup.subtree_control = %q; want %q", c.before, got, c.after)
		}
		last := (*ops)[len(*ops)-1]
		if c.op != "" && last != c.op || c.op == "" && !strings.HasPrefix(last, "rmdir") {
			t.Errorf("root was %q: Destroy ended with %q; want %q", c.before, last, c.op)
		}
	}
}

func TestV1Create(t *testing.T) {
	for _, c := range []struct {
		name    string
		comount bool
		want    []string
		dirs    []string
	}{
		{"separate hierarchies", false, []string{
			"mkdir <root>/cpu/unbox-x", "mkdir <root>/cpu/unbox-x/hog",
			"mkdir <root>/cpuacct/unbox-x", "mkdir <root>/cpuacct/unbox-x/hog",
			"mkdir <root>/memory/unbox-x", "mkdir <root>/memory/unbox-x/hog",
			"mkdir <root>/pids/unbox-x", "mkdir <root>/pids/unbox-x/hog",
		}, []string{"cpu", "cpuacct", "memory", "pids"}},
		// Through the symlink named cpu: one directory for cpu and cpuacct.
		{"cpu,cpuacct mounted together", true, []string{
			"mkdir <root>/cpu/unbox-x", "mkdir <root>/cpu/unbox-x/hog",
			"mkdir <root>/memory/unbox-x", "mkdir <root>/memory/unbox-x/hog",
			"mkdir <root>/pids/unbox-x", "mkdir <root>/pids/unbox-x/hog",
		}, []string{"cpu", "memory", "pids"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			h, _ := fakeV1(t, c.comount)
			ops := trace(h)
			m := mustCreate(t, h, "/unbox-x", "hog")
			if !slices.Equal(*ops, c.want) {
				t.Errorf("Create did\n  %s\nwant\n  %s", strings.Join(*ops, "\n  "), strings.Join(c.want, "\n  "))
			}
			var dirs []string
			for _, d := range m.Dirs() {
				dirs = append(dirs, strings.Split(strings.TrimPrefix(d, h.Root+"/"), "/")[0])
			}
			if !slices.Equal(dirs, c.dirs) {
				t.Errorf("Dirs() in %v; want %v", dirs, c.dirs)
			}
			for _, f := range []string{"cpu.cfs_quota_us", "cpuacct.usage", "memory.limit_in_bytes", "pids.max"} {
				if !exists(m.File(f)) {
					t.Errorf("File(%q) = %s: no such file", f, m.File(f))
				}
			}
			if got, want := m.File("cgroup.procs"), h.Root+"/memory/unbox-x/hog/cgroup.procs"; got != want {
				t.Errorf("File(cgroup.procs) = %s; want the memory hierarchy's, %s", got, want)
			}
		})
	}
}

// TestV1Cpuset: a new v1 cpuset cgroup has no CPUs and no memory nodes,
// and refuses tasks (ENOSPC) until it gets some: Create copies the parent's.
func TestV1Cpuset(t *testing.T) {
	h, _ := fakeV1(t, false)
	ops := trace(h)
	m := mustCreate(t, h, "/unbox-x", "ctr", "cpuset")
	want := []string{
		"mkdir <root>/cpuset/unbox-x", "echo 0-3 > <root>/cpuset/unbox-x/cpuset.cpus", "echo 0 > <root>/cpuset/unbox-x/cpuset.mems",
		"mkdir <root>/cpuset/unbox-x/ctr", "echo 0-3 > <root>/cpuset/unbox-x/ctr/cpuset.cpus", "echo 0 > <root>/cpuset/unbox-x/ctr/cpuset.mems",
	}
	if !slices.Equal(*ops, want) {
		t.Errorf("Create did\n  %s\nwant\n  %s", strings.Join(*ops, "\n  "), strings.Join(want, "\n  "))
	}
	if err := m.Apply(4242); err != nil {
		t.Errorf("Apply into the new cpuset: %v", err)
	}
	if err := m.Set(Resources{CpusetCPUs: "1", CpusetMems: "0"}); err != nil {
		t.Fatal(err)
	}
	if got := read(t, m.File("cpuset.cpus")); got != "1" {
		t.Errorf("cpuset.cpus = %q; want 1", got)
	}
}

// TestSet checks what Set writes, in which order, in each version.
func TestSet(t *testing.T) {
	seed := Resources{CPUPeriod: 100000, CPUQuota: 20000, Memory: 32 << 20, PidsLimit: 20}
	for _, c := range []struct {
		name string
		v2   bool
		r    Resources
		want []string // "file value", as written
	}{
		{"v2 seed", true, seed, []string{"cpu.max 20000 100000", "memory.max 33554432", "pids.max 20"}},
		{"v2 no swap", true, Resources{Memory: 32 << 20, MemorySwap: 32 << 20}, []string{"memory.max 33554432", "memory.swap.max 0"}},
		{"v2 swap on top", true, Resources{Memory: 32 << 20, MemorySwap: 48 << 20}, []string{"memory.max 33554432", "memory.swap.max 16777216"}},
		{"v2 no quota", true, Resources{CPUQuota: Unlimited, CPUPeriod: 50000}, []string{"cpu.max max 50000"}},
		{"v2 quota alone keeps the period", true, Resources{CPUQuota: 50000}, []string{"cpu.max 50000 100000"}},
		{"v2 shares", true, Resources{CPUShares: 1024}, []string{"cpu.weight 100"}},
		{"v2 weight", true, Resources{CPUWeight: 300}, []string{"cpu.weight 300"}},
		{"v2 no limits", true, Resources{Memory: Unlimited, PidsLimit: Unlimited}, []string{"memory.max max", "memory.swap.max max", "pids.max max"}},
		{"v2 reservation and cpuset", true, Resources{MemoryReservation: 8 << 20, CpusetCPUs: "0-1", CpusetMems: "0"},
			[]string{"cpuset.cpus 0-1", "cpuset.mems 0", "memory.low 8388608"}},
		{"v1 seed", false, seed, []string{"cpu.cfs_period_us 100000", "cpu.cfs_quota_us 20000", "memory.limit_in_bytes 33554432", "pids.max 20"}},
		{"v1 no limits", false, Resources{CPUQuota: Unlimited, Memory: Unlimited, PidsLimit: Unlimited},
			[]string{"cpu.cfs_quota_us -1", "memory.memsw.limit_in_bytes -1", "memory.limit_in_bytes -1", "pids.max max"}},
		{"v1 memory and swap from no limit", false, Resources{Memory: 64 << 20, MemorySwap: 96 << 20},
			[]string{"memory.limit_in_bytes 67108864", "memory.memsw.limit_in_bytes 100663296"}},
		{"v1 weight", false, Resources{CPUWeight: 100}, []string{"cpu.shares 1024"}},
		{"v1 reservation and cpuset", false, Resources{MemoryReservation: 8 << 20, CpusetCPUs: "0-1"},
			[]string{"cpuset.cpus 0-1", "memory.soft_limit_in_bytes 8388608"}},
		{"nothing", false, Resources{}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			var h *Host
			if c.v2 {
				h, _ = fakeV2(t, "cpuset cpu memory pids")
			} else {
				h, _ = fakeV1(t, false)
			}
			m := mustCreate(t, h, "/unbox-x", "y", "cpu", "cpuset", "memory", "pids")
			var got []string
			h.Trace = func(o Op) {
				if filepath.Dir(o.Path) != filepath.Dir(m.File(filepath.Base(o.Path))) {
					t.Errorf("%s is not in the cgroup's directory for it", o.Path)
				}
				got = append(got, filepath.Base(o.Path)+" "+o.Value)
			}
			if err := m.Set(c.r); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("Set(%+v) wrote %q; want %q", c.r, got, c.want)
			}
			for _, w := range got {
				f, v, _ := strings.Cut(w, " ")
				if back := read(t, m.File(f)); back != v {
					t.Errorf("%s reads %q after Set; want %q", f, back, v)
				}
			}
		})
	}
}

// TestSetV1MemoryOrder: memory+swap must stay at least memory after each
// write, so raising both writes memsw first, lowering both memory first.
func TestSetV1MemoryOrder(t *testing.T) {
	h, _ := fakeV1(t, false)
	m := mustCreate(t, h, "/unbox-x", "y", "memory")
	if err := m.Set(Resources{Memory: 32 << 20, MemorySwap: 32 << 20}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		r    Resources
		want []string
	}{
		{Resources{Memory: 64 << 20, MemorySwap: 96 << 20}, []string{"memory.memsw.limit_in_bytes", "memory.limit_in_bytes"}},
		{Resources{Memory: 16 << 20, MemorySwap: 16 << 20}, []string{"memory.limit_in_bytes", "memory.memsw.limit_in_bytes"}},
		{Resources{Memory: Unlimited}, []string{"memory.memsw.limit_in_bytes", "memory.limit_in_bytes"}},
	} {
		var got []string
		h.Trace = func(o Op) { got = append(got, filepath.Base(o.Path)) }
		if err := m.Set(c.r); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("Set(memory %d, swap %d) wrote %q; want %q", c.r.Memory, c.r.MemorySwap, got, c.want)
		}
	}
}

// TestSetV1PeriodRetry: a period the kernel refuses until the new quota is
// in is written again after it, as runc does.
func TestSetV1PeriodRetry(t *testing.T) {
	h, k := fakeV1(t, false)
	m := mustCreate(t, h, "/unbox-x", "y", "cpu")
	k.refuse = map[string]int{"cpu.cfs_period_us": 1}
	ops := trace(h)
	if err := m.Set(Resources{CPUPeriod: 10000, CPUQuota: 5000}); err != nil {
		t.Fatal(err)
	}
	want := []string{"echo 5000 > <root>/cpu/unbox-x/y/cpu.cfs_quota_us", "echo 10000 > <root>/cpu/unbox-x/y/cpu.cfs_period_us"}
	if !slices.Equal(*ops, want) {
		t.Errorf("Set did %q; want %q", *ops, want)
	}
	// Without a quota to write, the refusal is the answer.
	k.refuse = map[string]int{"cpu.cfs_period_us": 1}
	if err := m.Set(Resources{CPUPeriod: 10000}); !errors.Is(err, unix.EINVAL) || !strings.Contains(err.Error(), "cpu.cfs_period_us") {
		t.Errorf("Set(period) refused: %v; want EINVAL naming the file", err)
	}
}

// TestSetWithoutSwapAccounting: "no swap" and "any swap" need no file; a
// number of bytes of swap does.
func TestSetWithoutSwapAccounting(t *testing.T) {
	for _, v2 := range []bool{true, false} {
		var h *Host
		var k *fakeKernel
		if v2 {
			h, k = fakeV2(t, "cpu memory pids")
		} else {
			h, k = fakeV1(t, false)
		}
		k.noSwap = true
		m := mustCreate(t, h, "/unbox-x", "y")
		if err := m.Set(Resources{Memory: 32 << 20, MemorySwap: 32 << 20}); err != nil {
			t.Errorf("v2 %v: Set(no swap) without swap accounting: %v; want nil", v2, err)
		}
		if err := m.Set(Resources{Memory: 32 << 20, MemorySwap: 64 << 20}); err == nil || !strings.Contains(err.Error(), "swap") {
			t.Errorf("v2 %v: Set(32 MiB of swap) without swap accounting: %v; want an error", v2, err)
		}
	}
}

// TestSetErrors: a bad value or a missing controller fails before any
// write, and a missing file names the controller to enable.
func TestSetErrors(t *testing.T) {
	h, _ := fakeV2(t, "cpu memory pids")
	m := mustCreate(t, h, "/unbox-x", "y", "cpu", "pids")
	ops := trace(h)
	for _, c := range []struct {
		r    Resources
		want string
	}{
		{Resources{CPUQuota: 500}, "at least 1000"},
		{Resources{CPUPeriod: 2000000}, "1000 to 1000000"},
		{Resources{CPUShares: 1024, CPUWeight: 100}, "set one of them"},
		{Resources{Memory: -2}, "Memory -2"},
		{Resources{Memory: 64 << 20, MemorySwap: 32 << 20}, "at least Memory"},
		{Resources{Memory: 32 << 20}, "need the memory controller"},
	} {
		if err := m.Set(c.r); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Set(%+v) = %v; want an error with %q", c.r, err, c.want)
		}
	}
	if len(*ops) != 0 {
		t.Errorf("failed Sets wrote %q; want nothing", *ops)
	}
	// The parent enabled cpu and pids only: memory.max does not exist.
	writeFiles(t, h.Root, map[string]string{"cgroup.subtree_control": "cpu pids\n"})
	cut := mustCreate(t, h, "/", "unbox-cut", "cpu", "pids")
	cut.(*v2Manager).c.Controllers = []string{"cpu", "memory", "pids"} // as if the parent had lost memory
	err := cut.Set(Resources{Memory: 1 << 20})
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "is the memory controller enabled") {
		t.Errorf("Set(memory) without memory.max: %v; want an error naming the controller", err)
	}
}

// TestStats reads counters from real kernel text.
func TestStats(t *testing.T) {
	t.Run("v2", func(t *testing.T) {
		h, _ := fakeV2(t, "cpu memory pids")
		m := mustCreate(t, h, "/unbox-x", "y")
		dir := m.Dirs()[0]
		copyTestdata(t, dir, map[string]string{"cpu.stat-v2.txt": "cpu.stat", "memory.events.txt": "memory.events", "pids.events.txt": "pids.events"})
		writeFiles(t, dir, map[string]string{"memory.max": "8388608\n", "memory.current": "8364032\n", "memory.peak": "8388608\n",
			"memory.stat": "anon 8200192\nfile 163840\ninactive_file 131072\n", "pids.max": "5\n", "pids.current": "4\n"})
		st, err := m.Stats()
		if err != nil {
			t.Fatal(err)
		}
		want := Stats{
			CPU:    CPUStats{UsageUsec: 2790491, UserUsec: 939005, SystemUsec: 1851486, Periods: 139, Throttled: 138, ThrottledUsec: 17046225},
			Memory: MemoryStats{Usage: 8364032, Limit: 8388608, Peak: 8388608, InactiveFile: 131072, LimitHits: 9112, OOMKills: 1},
			Pids:   PidsStats{Current: 4, Limit: 5, LimitHits: 1},
		}
		if st != want {
			t.Errorf("Stats() =\n  %+v\nwant\n  %+v", st, want)
		}
		// memory.peak is Linux 5.19+: without it, 0.
		os.Remove(m.File("memory.peak"))
		if st, err := m.Stats(); err != nil || st.Memory.Peak != 0 {
			t.Errorf("Stats() without memory.peak = %+v, %v; want Peak 0", st.Memory, err)
		}
	})
	t.Run("v1", func(t *testing.T) {
		h, _ := fakeV1(t, true)
		m := mustCreate(t, h, "/unbox-x", "y")
		copyTestdata(t, filepath.Dir(m.File("cpu.stat")), map[string]string{"cpu.stat-v1.txt": "cpu.stat", "cpuacct.stat.txt": "cpuacct.stat"})
		copyTestdata(t, filepath.Dir(m.File("memory.stat")), map[string]string{"memory.oom_control.txt": "memory.oom_control", "memory.stat-v1.txt": "memory.stat"})
		writeFiles(t, filepath.Dir(m.File("cpuacct.usage")), map[string]string{"cpuacct.usage": "758862328\n"})
		writeFiles(t, filepath.Dir(m.File("memory.failcnt")), map[string]string{"memory.failcnt": "140\n", "memory.usage_in_bytes": "8200192\n",
			"memory.memsw.usage_in_bytes": "8400192\n", "memory.max_usage_in_bytes": "8388608\n"})
		st, err := m.Stats()
		if err != nil {
			t.Fatal(err)
		}
		want := Stats{
			CPU: CPUStats{UsageUsec: 758862, UserUsec: 595150000, SystemUsec: 291790000, Periods: 38, Throttled: 38, ThrottledUsec: 2778537},
			Memory: MemoryStats{Usage: 8200192, Limit: 0, Peak: 8388608, Swap: 200000, InactiveFile: 3145728,
				LimitHits: 140, OOMKills: 1},
		}
		if st != want {
			t.Errorf("Stats() =\n  %+v\nwant\n  %+v", st, want)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		h, _ := fakeV2(t, "cpu memory pids")
		m := mustCreate(t, h, "/unbox-x", "y")
		os.Remove(m.File("memory.events"))
		if _, err := m.Stats(); err == nil || !strings.Contains(err.Error(), "memory.events") {
			t.Errorf("Stats() without memory.events: %v; want an error naming it", err)
		}
	})
}

func copyTestdata(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for from, to := range files {
		b, err := os.ReadFile(filepath.Join("testdata", from))
		if err != nil {
			t.Fatal(err)
		}
		writeFiles(t, dir, map[string]string{to: string(b)})
	}
}

// putProcs writes pids into each of m's cgroup.procs files.
func putProcs(t *testing.T, m Manager, pids string) {
	for _, d := range m.Dirs() {
		writeFiles(t, d, map[string]string{"cgroup.procs": pids})
	}
}

// TestDestroy: processes are killed first, each once, then the cgroups are
// removed deepest first, in every hierarchy; nothing is left.
func TestDestroy(t *testing.T) {
	for _, c := range []struct {
		name string
		host func(t *testing.T) (*Host, *fakeKernel)
		want []string
	}{
		{"v2", func(t *testing.T) (*Host, *fakeKernel) { return fakeV2(t, "cpu memory pids") }, []string{
			"echo 1 > <root>/unbox-x/cgroup.kill",
			"rmdir <root>/unbox-x/hog", "rmdir <root>/unbox-x",
			"echo '-cpu -memory -pids' > <root>/cgroup.subtree_control",
		}},
		{"v1", func(t *testing.T) (*Host, *fakeKernel) { return fakeV1(t, false) }, []string{
			"kill -KILL $(cat <root>/memory/unbox-x/cgroup.procs)",
			"rmdir <root>/cpu/unbox-x/hog", "rmdir <root>/cpu/unbox-x",
			"rmdir <root>/cpuacct/unbox-x/hog", "rmdir <root>/cpuacct/unbox-x",
			"rmdir <root>/memory/unbox-x/hog", "rmdir <root>/memory/unbox-x",
			"rmdir <root>/pids/unbox-x/hog", "rmdir <root>/pids/unbox-x",
		}},
		{"v1 co-mounted", func(t *testing.T) (*Host, *fakeKernel) { return fakeV1(t, true) }, []string{
			"kill -KILL $(cat <root>/memory/unbox-x/cgroup.procs)",
			"rmdir <root>/cpu/unbox-x/hog", "rmdir <root>/cpu/unbox-x",
			"rmdir <root>/memory/unbox-x/hog", "rmdir <root>/memory/unbox-x",
			"rmdir <root>/pids/unbox-x/hog", "rmdir <root>/pids/unbox-x",
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			h, k := c.host(t)
			parent := mustCreate(t, h, "/", "unbox-x")
			leaf := mustCreate(t, h, "/unbox-x", "hog")
			putProcs(t, leaf, "101\n102\n")
			ops := trace(h)
			if err := parent.Destroy(); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(*ops, c.want) {
				t.Errorf("Destroy did\n  %s\nwant\n  %s", strings.Join(*ops, "\n  "), strings.Join(c.want, "\n  "))
			}
			slices.Sort(k.killed)
			if got := slices.Compact(k.killed); !slices.Equal(got, []int{101, 102}) {
				t.Errorf("killed %v; want 101 and 102", got)
			}
			for _, d := range append(parent.Dirs(), leaf.Dirs()...) {
				if exists(d) {
					t.Errorf("after Destroy, %s is left", d)
				}
			}
			*ops = nil
			if err := parent.Destroy(); err != nil || len(*ops) != 0 {
				t.Errorf("Destroy of a removed cgroup: %v, did %q; want nil and nothing", err, *ops)
			}
		})
	}
}

// TestKillEmpty: killing an empty cgroup writes nothing, signals nothing.
func TestKillEmpty(t *testing.T) {
	for _, h := range []*Host{first(fakeV2(t, "cpu memory pids")), first(fakeV1(t, false))} {
		m := mustCreate(t, h, "/unbox-x", "y", "pids", "freezer")
		ops := trace(h)
		if err := m.Kill(); err != nil || len(*ops) != 0 {
			t.Errorf("%v: Kill of an empty cgroup = %v, did %q; want nil and nothing", h.Mode, err, *ops)
		}
	}
}

func first(h *Host, _ *fakeKernel) *Host { return h }

// TestKillFreezesOnV1: with the freezer, v1's Kill freezes, signals, thaws.
func TestKillFreezesOnV1(t *testing.T) {
	h, _ := fakeV1(t, false)
	m := mustCreate(t, h, "/unbox-x", "y", "pids", "freezer")
	putProcs(t, m, "7\n")
	ops := trace(h)
	if err := m.Kill(); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"echo FROZEN > <root>/pids/unbox-x/y/freezer.state",
		"kill -KILL $(cat <root>/pids/unbox-x/y/cgroup.procs)",
		"echo THAWED > <root>/pids/unbox-x/y/freezer.state",
	}
	// freezer.state is in the freezer hierarchy; File maps it there.
	for i, w := range want {
		want[i] = strings.Replace(w, "pids/unbox-x/y/freezer.state", "freezer/unbox-x/y/freezer.state", 1)
	}
	if !slices.Equal(*ops, want) {
		t.Errorf("Kill did\n  %s\nwant\n  %s", strings.Join(*ops, "\n  "), strings.Join(want, "\n  "))
	}
}

func TestFreeze(t *testing.T) {
	h, _ := fakeV2(t, "cpu memory pids")
	m := mustCreate(t, h, "/unbox-x", "y")
	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	if got := read(t, m.File("cgroup.events")); !strings.Contains(got, "frozen 1") {
		t.Errorf("after Freeze, cgroup.events = %q", got)
	}
	if err := m.Thaw(); err != nil {
		t.Fatal(err)
	}
	h1, _ := fakeV1(t, false)
	m1 := mustCreate(t, h1, "/unbox-x", "y", "pids")
	if err := m1.Freeze(); err == nil || !strings.Contains(err.Error(), "freezer") {
		t.Errorf("v1 Freeze without the freezer: %v; want an error naming it", err)
	}
}

// TestStart: on v2 the process is cloned into the cgroup, or, where the
// kernel refuses clone3, started held and moved in; on v1 always moved.
func TestStart(t *testing.T) {
	for _, c := range []struct {
		name    string
		v2      bool
		refuse  error // what clone3 with a cgroup fd fails with
		want    Placement
		calls   []bool // fd given, per call of start
		wantErr string
	}{
		{"v2", true, nil, ClonedInto, []bool{true}, ""},
		{"v2 without clone3 (ENOSYS)", true, unix.ENOSYS, Moved, []bool{true, false}, ""},
		{"v2 on Linux 5.3-5.6 (E2BIG)", true, unix.E2BIG, Moved, []bool{true, false}, ""},
		{"v2 into a cgroup with children (EBUSY)", true, unix.EBUSY, 0, []bool{true}, "no internal processes"},
		{"v1", false, nil, Moved, []bool{false}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			var h *Host
			if c.v2 {
				h, _ = fakeV2(t, "cpu memory pids")
			} else {
				h, _ = fakeV1(t, false)
			}
			m := mustCreate(t, h, "/unbox-x", "ctr")
			ops := trace(h)
			var calls []bool
			p, err := Start(m, func(fd int) (int, error) {
				calls = append(calls, fd >= 0)
				if fd >= 0 && c.refuse != nil {
					return 0, &os.PathError{Op: "fork/exec", Path: "/proc/self/exe", Err: c.refuse}
				}
				return 4242, nil
			})
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("Start = %v, %v; want an error with %q", p, err, c.wantErr)
				}
				return
			}
			if err != nil || p != c.want || !slices.Equal(calls, c.calls) {
				t.Fatalf("Start = %v, %v, start called with fd %v; want %v, nil, %v", p, err, calls, c.want, c.calls)
			}
			procs, _ := m.Procs()
			switch p {
			case ClonedInto:
				if want := []string{"# clone3(CLONE_INTO_CGROUP, fd of <root>/unbox-x/ctr)"}; !slices.Equal(*ops, want) {
					t.Errorf("Start did %q; want %q", *ops, want)
				}
			case Moved:
				if !slices.Equal(procs, []int{4242}) || len(*ops) != len(m.Dirs()) {
					t.Errorf("after a move, cgroup.procs = %v and Start did %q; want 4242 written to each hierarchy", procs, *ops)
				}
			}
		})
	}
}

func TestSharesAndWeight(t *testing.T) {
	for _, c := range []struct{ shares, weight uint64 }{
		{0, 0}, {2, 1}, {1024, 100}, {262144, 10000}, {1, 1}, {1 << 20, 10000},
	} {
		if got := SharesToWeight(c.shares); got != c.weight {
			t.Errorf("SharesToWeight(%d) = %d; want %d", c.shares, got, c.weight)
		}
	}
	for _, c := range []struct{ weight, shares uint64 }{{0, 0}, {1, 2}, {100, 1024}, {10000, 262144}} {
		if got := WeightToShares(c.weight); got != c.shares {
			t.Errorf("WeightToShares(%d) = %d; want %d", c.weight, got, c.shares)
		}
	}
	prev := uint64(0)
	for s := uint64(2); s <= 262144; s += 97 {
		w := SharesToWeight(s)
		if w < prev {
			t.Fatalf("SharesToWeight(%d) = %d < SharesToWeight(%d) = %d: not monotonic", s, w, s-97, prev)
		}
		prev = w
	}
	for w := uint64(1); w <= 10000; w++ {
		if back := SharesToWeight(WeightToShares(w)); back+1 < w || back > w+1 {
			t.Fatalf("SharesToWeight(WeightToShares(%d)) = %d; want within 1", w, back)
		}
	}
}

func TestSwapOnly(t *testing.T) {
	for _, c := range []struct {
		swap, mem, want int64
		ok, err         bool
	}{
		{0, 32, 0, false, false},
		{32, 32, 0, true, false},
		{48, 32, 16, true, false},
		{Unlimited, 32, Unlimited, true, false},
		{0, Unlimited, Unlimited, true, false},
		{48, Unlimited, 48, true, false},
		{16, 32, 0, false, true},
		{16, 0, 0, false, true},
	} {
		got, ok, err := SwapOnly(c.swap, c.mem)
		if got != c.want || ok != c.ok || (err != nil) != c.err {
			t.Errorf("SwapOnly(%d, %d) = %d, %v, %v; want %d, %v, error %v", c.swap, c.mem, got, ok, err, c.want, c.ok, c.err)
		}
	}
}

func TestOpString(t *testing.T) {
	for _, c := range []struct {
		op   Op
		want string
	}{
		{Op{Kind: OpMkdir, Path: "/r/x"}, "mkdir /r/x"},
		{Op{Kind: OpRmdir, Path: "/r/x"}, "rmdir /r/x"},
		{Op{Kind: OpWrite, Path: "/r/x/cpu.max", Value: "20000 100000"}, "echo '20000 100000' > /r/x/cpu.max"},
		{Op{Kind: OpWrite, Path: "/r/cgroup.subtree_control", Value: "+cpu"}, "echo '+cpu' > /r/cgroup.subtree_control"},
		{Op{Kind: OpWrite, Path: "/r/x/pids.max", Value: "20"}, "echo 20 > /r/x/pids.max"},
		{Op{Kind: OpWrite, Path: "/r/x/f", Value: "it's"}, `echo 'it'\''s' > /r/x/f`},
		{Op{Kind: OpKill, Path: "/r/x/cgroup.procs", PIDs: []int{7}}, "kill -KILL $(cat /r/x/cgroup.procs)"},
		{Op{Kind: OpClone, Path: "/r/x"}, "# clone3(CLONE_INTO_CGROUP, fd of /r/x)"},
	} {
		if got := c.op.String(); got != c.want {
			t.Errorf("%+v.String() = %q; want %q", c.op, got, c.want)
		}
	}
}

func TestHostDirAndCheck(t *testing.T) {
	h, _ := fakeV1(t, true)
	if d, err := h.Dir("cpuacct", "/a"); err != nil || d != h.Root+"/cpuacct/a" {
		t.Errorf("Dir(cpuacct, /a) = %q, %v; want %s/cpuacct/a", d, err, h.Root)
	}
	if err := h.Check("cpu", "memory", "pids", "cpuset", "freezer"); err != nil {
		t.Errorf("Check = %v; want nil", err)
	}
	os.RemoveAll(filepath.Join(h.Root, "pids"))
	if err := h.Check("cpu", "pids"); err == nil || !strings.Contains(err.Error(), "no cgroup v1 pids hierarchy") {
		t.Errorf("Check without a pids hierarchy = %v; want an error naming it", err)
	}
	if _, ok := h.UnifiedDir(); !ok {
		t.Errorf("a hybrid host has no UnifiedDir")
	}
}

// TestLimits finds a process's limits from its /proc/<pid>/cgroup and its
// cgroup's files, in both versions.
func TestLimits(t *testing.T) {
	parse := func(text string) []procfs.Cgroup {
		lines, err := procfs.ParseCgroup(text)
		if err != nil {
			t.Fatal(err)
		}
		return lines
	}
	t.Run("v2", func(t *testing.T) {
		h, _ := fakeV2(t, "cpu memory pids")
		m := mustCreate(t, h, "/", "test.scope")
		if err := m.Set(Resources{CPUQuota: 20000, CPUPeriod: 100000, Memory: 32 << 20}); err != nil {
			t.Fatal(err)
		}
		l, err := h.Limits(parse("0::/test.scope\n"))
		if want := (Resources{CPUQuota: 20000, CPUPeriod: 100000, Memory: 32 << 20}); err != nil || !reflect.DeepEqual(l.Resources, want) {
			t.Errorf("Limits = %+v, %v; want %+v", l, err, want)
		}
		if l.MemoryFile != m.File("memory.max") || !slices.Equal(l.CPUFiles, []string{m.File("cpu.max")}) {
			t.Errorf("Limits read %s and %v; want %s and %s", l.MemoryFile, l.CPUFiles, m.File("memory.max"), m.File("cpu.max"))
		}
		mustCreate(t, h, "/", "free.scope")
		l, err = h.Limits(parse("0::/free.scope\n"))
		if want := (Resources{CPUQuota: Unlimited, CPUPeriod: 100000, Memory: Unlimited}); err != nil || !reflect.DeepEqual(l.Resources, want) {
			t.Errorf("Limits without limits = %+v, %v; want %+v", l, err, want)
		}
		if _, err := h.Limits(parse("1:name=systemd:/\n")); err == nil {
			t.Error("Limits without a 0:: line = nil error; want one")
		}
	})
	t.Run("v1", func(t *testing.T) {
		h, _ := fakeV1(t, false)
		m := mustCreate(t, h, "/process_api", "d7c8", "memory")
		if err := m.Set(Resources{Memory: 32 << 20}); err != nil {
			t.Fatal(err)
		}
		// As on this project's CI host: memory in a cgroup of its own, cpu
		// at the root, which has no quota.
		l, err := h.Limits(parse("4:memory:/process_api/d7c8\n2:cpuacct:/\n1:cpu:/\n0::/\n"))
		if want := (Resources{CPUQuota: -1, CPUPeriod: 100000, Memory: 32 << 20}); err != nil || !reflect.DeepEqual(l.Resources, want) {
			t.Errorf("Limits = %+v, %v; want %+v", l, err, want)
		}
		want := []string{h.Root + "/cpu/cpu.cfs_quota_us", h.Root + "/cpu/cpu.cfs_period_us"}
		if l.MemoryFile != m.File("memory.limit_in_bytes") || !slices.Equal(l.CPUFiles, want) {
			t.Errorf("Limits read %s and %v; want %s and %v", l.MemoryFile, l.CPUFiles, m.File("memory.limit_in_bytes"), want)
		}
	})
}
