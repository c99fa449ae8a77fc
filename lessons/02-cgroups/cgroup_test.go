//go:build linux

package main

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// Pure tests: the cgroup code against fake v1 and v2 trees in a temporary
// directory, with a fake kernel that does what the real one does on mkdir
// (fill the directory with the files of its controllers), rmdir (refuse a
// cgroup with processes or children) and kill (take the process out of its
// cgroup).

type fakeKernel struct {
	t      *testing.T
	root   string
	v2     bool
	noSwap bool // v2: no memory.swap.max (a kernel without swap accounting)
	killed []int
}

// controllerFiles are the files a fake cgroup gets per controller, with
// their initial contents.
var controllerFiles = map[bool]map[string]map[string]string{
	true: { // v2
		"cpu":    {"cpu.max": "max 100000\n", "cpu.stat": "usage_usec 0\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\n"},
		"memory": {"memory.max": "max\n", "memory.current": "0\n", "memory.peak": "0\n", "memory.swap.max": "max\n", "memory.events": "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n"},
		"pids":   {"pids.max": "max\n", "pids.current": "0\n", "pids.events": "max 0\n"},
	},
	false: { // v1
		"cpu":     {"cpu.cfs_quota_us": "-1\n", "cpu.cfs_period_us": "100000\n", "cpu.stat": "nr_periods 0\nnr_throttled 0\nthrottled_time 0\n"},
		"cpuacct": {"cpuacct.usage": "0\n"},
		"memory":  {"memory.limit_in_bytes": "9223372036854771712\n", "memory.usage_in_bytes": "0\n", "memory.max_usage_in_bytes": "0\n", "memory.failcnt": "0\n", "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n"},
		"pids":    {"pids.max": "max\n", "pids.current": "0\n", "pids.events": "max 0\n"},
	},
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// fakeV2 is a cgroup2 root whose cgroup.controllers lists controllers and
// whose cgroup.subtree_control is empty, as on a machine without systemd.
func fakeV2(t *testing.T, controllers string) (Host, *fakeKernel) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"cgroup.controllers":     controllers + "\n",
		"cgroup.subtree_control": "",
		"cgroup.procs":           "1\n",
	})
	k := &fakeKernel{t: t, root: root, v2: true}
	return Host{Root: root, Mode: Unified, sys: k.kernel()}, k
}

// fakeV1 is a tmpfs of v1 hierarchies; with comount, cpu and cpuacct are one
// hierarchy "cpu,cpuacct" with a symlink named for each, as systemd makes.
func fakeV1(t *testing.T, comount bool) (Host, *fakeKernel) {
	root := t.TempDir()
	hier := []string{"cpu", "cpuacct", "memory", "pids"}
	if comount {
		hier = []string{"cpu,cpuacct", "memory", "pids"}
		for _, l := range []string{"cpu", "cpuacct"} {
			if err := os.Symlink("cpu,cpuacct", filepath.Join(root, l)); err != nil {
				t.Fatal(err)
			}
		}
	}
	k := &fakeKernel{t: t, root: root}
	for _, h := range hier {
		dir := filepath.Join(root, h)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		k.fill(dir, strings.Split(h, ","))
	}
	return Host{Root: root, Mode: Hybrid, sys: k.kernel()}, k
}

func (k *fakeKernel) kernel() *kernel {
	return &kernel{mkdir: k.mkdir, rmdir: k.rmdir, kill: k.kill}
}

func (k *fakeKernel) fill(dir string, ctls []string) {
	writeFiles(k.t, dir, map[string]string{"cgroup.procs": ""})
	for _, c := range ctls {
		files := controllerFiles[k.v2][c]
		if k.noSwap {
			files = withoutKey(files, "memory.swap.max")
		}
		writeFiles(k.t, dir, files)
	}
}

func withoutKey(m map[string]string, key string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		if k != key {
			out[k] = v
		}
	}
	return out
}

func (k *fakeKernel) mkdir(path string) error {
	if err := os.Mkdir(path, 0o755); err != nil {
		return err
	}
	var ctls []string
	if k.v2 {
		// A new cgroup has the controllers its parent enabled.
		b, _ := os.ReadFile(filepath.Join(filepath.Dir(path), "cgroup.subtree_control"))
		for _, f := range strings.Fields(string(b)) {
			ctls = append(ctls, strings.TrimPrefix(f, "+"))
		}
		writeFiles(k.t, path, map[string]string{
			"cgroup.controllers": strings.Join(ctls, " ") + "\n", "cgroup.subtree_control": "", "cgroup.kill": "",
		})
	} else {
		rel, _ := filepath.Rel(k.root, path)
		ctls = strings.Split(strings.Split(rel, "/")[0], ",")
	}
	k.fill(path, ctls)
	return nil
}

func (k *fakeKernel) rmdir(path string) error {
	entries, err := os.ReadDir(path)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() {
			return unix.EBUSY
		}
	}
	if b, _ := os.ReadFile(filepath.Join(path, "cgroup.procs")); strings.TrimSpace(string(b)) != "" {
		return unix.EBUSY
	}
	return os.RemoveAll(path)
}

// kill takes pid out of every cgroup.procs, as an exiting process leaves.
func (k *fakeKernel) kill(pid int) error {
	k.killed = append(k.killed, pid)
	return filepath.WalkDir(k.root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.Name() != "cgroup.procs" {
			return err
		}
		b, _ := os.ReadFile(p)
		var keep []string
		for _, f := range strings.Fields(string(b)) {
			if f != strconv.Itoa(pid) {
				keep = append(keep, f)
			}
		}
		return os.WriteFile(p, []byte(strings.Join(keep, "\n")), 0o644)
	})
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func TestDetectMode(t *testing.T) {
	const ext4 = 0xef53
	for _, c := range []struct {
		name    string
		types   map[string]int64
		want    Mode
		wantErr string
	}{
		{"v2", map[string]int64{"/cg": unix.CGROUP2_SUPER_MAGIC}, Unified, ""},
		{"hybrid", map[string]int64{"/cg": unix.TMPFS_MAGIC, "/cg/unified": unix.CGROUP2_SUPER_MAGIC}, Hybrid, ""},
		{"legacy", map[string]int64{"/cg": unix.TMPFS_MAGIC}, Legacy, ""},
		{"legacy, unified is not cgroup2", map[string]int64{"/cg": unix.TMPFS_MAGIC, "/cg/unified": unix.TMPFS_MAGIC}, Legacy, ""},
		{"not mounted", map[string]int64{"/cg": ext4}, 0, "neither a cgroup2 filesystem nor a tmpfs"},
		{"missing", map[string]int64{}, 0, "statfs /cg"},
	} {
		t.Run(c.name, func(t *testing.T) {
			fsType := func(p string) (int64, error) {
				if v, ok := c.types[p]; ok {
					return v, nil
				}
				return 0, syscall.ENOENT
			}
			got, err := detectMode("/cg", fsType)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("detectMode = %v, %v; want an error with %q", got, err, c.wantErr)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("detectMode = %v, %v; want %v", got, err, c.want)
			}
		})
	}
}

func opStrings(ops []op) []string {
	var out []string
	for _, o := range ops {
		if o.Mkdir != "" {
			out = append(out, "mkdir "+o.Mkdir)
		} else {
			out = append(out, o.Write.Shell())
		}
	}
	return out
}

// TestV2CreateEnablesControllers: on a root where nobody enabled the
// controllers, Create enables them at each level before the mkdir below it,
// and the leaf gets the controllers' files.
func TestV2CreateEnablesControllers(t *testing.T) {
	h, _ := fakeV2(t, "cpuset cpu io memory hugetlb pids rdma misc")
	r := h.Root
	cg, ops, err := h.Create("/unbox-cgroups-42/hog")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"echo '+cpu +memory +pids' > " + r + "/cgroup.subtree_control",
		"mkdir " + r + "/unbox-cgroups-42",
		"echo '+cpu +memory +pids' > " + r + "/unbox-cgroups-42/cgroup.subtree_control",
		"mkdir " + r + "/unbox-cgroups-42/hog",
	}
	if got := opStrings(ops); !slices.Equal(got, want) {
		t.Errorf("Create ops =\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	if got := read(t, r+"/cgroup.subtree_control"); got != "+cpu +memory +pids" {
		t.Errorf("root cgroup.subtree_control = %q; want the controllers enabled", got)
	}
	for _, f := range []string{"cpu.max", "memory.max", "pids.max"} {
		if _, err := os.Stat(cg.File(f)); err != nil {
			t.Errorf("leaf has no %s: %v", f, err)
		}
	}
	if want := []string{r + "/unbox-cgroups-42/hog"}; !slices.Equal(cg.Dirs(), want) {
		t.Errorf("Dirs() = %v; want %v", cg.Dirs(), want)
	}

	// A sibling: the parent exists, so only its subtree_control and mkdir.
	_, ops, err = h.Create("/unbox-cgroups-42/bomb")
	if err != nil {
		t.Fatal(err)
	}
	want = []string{
		"echo '+cpu +memory +pids' > " + r + "/unbox-cgroups-42/cgroup.subtree_control",
		"mkdir " + r + "/unbox-cgroups-42/bomb",
	}
	if got := opStrings(ops); !slices.Equal(got, want) {
		t.Errorf("Create of a sibling: ops = %q; want %q", got, want)
	}
}

// TestV2DestroyRestoresRoot: the controllers Create enabled at the root are
// disabled again when the last cgroup of ours below the root goes, and
// those that were on before stay on.
func TestV2DestroyRestoresRoot(t *testing.T) {
	for _, c := range []struct{ before, want string }{
		{"", "-cpu -memory -pids"},
		{"cpu io memory", "-pids"},
		{"cpu memory pids", "cpu memory pids"}, // nothing of ours to undo
	} {
		h, _ := fakeV2(t, "cpuset cpu io memory pids")
		writeFiles(t, h.Root, map[string]string{"cgroup.subtree_control": c.before})
		parent, err := h.Cgroup("/unbox-cgroups-42")
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := h.Create("/unbox-cgroups-42/hog"); err != nil {
			t.Fatal(err)
		}
		if c.before == "cpu memory pids" {
			// A fake file keeps the last write, not the kernel's union.
			writeFiles(t, h.Root, map[string]string{"cgroup.subtree_control": c.before})
		}
		if err := parent.Destroy(); err != nil {
			t.Fatal(err)
		}
		if got := read(t, h.Root+"/cgroup.subtree_control"); got != c.want {
			t.Errorf("root was %q: after Destroy, the last write to its cgroup.subtree_control = %q; want %q", c.before, got, c.want)
		}
	}
}

func TestV2CreateWithoutController(t *testing.T) {
	h, _ := fakeV2(t, "cpu memory") // pids bound to v1, or not built
	_, _, err := h.Create("/unbox-cgroups-42/hog")
	if err == nil || !strings.Contains(err.Error(), "the pids controller is not available") {
		t.Fatalf("Create without pids: %v; want an error naming pids", err)
	}
	if _, err := os.Stat(filepath.Join(h.Root, "unbox-cgroups-42")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Create failed but made the parent (%v)", err)
	}
}

func TestHostCgroupRejectsBadPaths(t *testing.T) {
	h, _ := fakeV2(t, "cpu memory pids")
	for _, p := range []string{"", "/", "relative", "/a/../b", "/a/"} {
		if _, err := h.Cgroup(p); err == nil {
			t.Errorf("Cgroup(%q) = nil error; want one", p)
		}
	}
}

func TestV1Create(t *testing.T) {
	for _, c := range []struct {
		name    string
		comount bool
		want    []string
		dirs    int
	}{
		{"separate hierarchies", false, []string{
			"mkdir <root>/{cpu,cpuacct,memory,pids}/unbox-cgroups-42",
			"mkdir <root>/{cpu,cpuacct,memory,pids}/unbox-cgroups-42/hog",
		}, 4},
		{"cpu,cpuacct mounted together", true, []string{
			"mkdir <root>/cpu,cpuacct/unbox-cgroups-42 <root>/memory/unbox-cgroups-42 <root>/pids/unbox-cgroups-42",
			"mkdir <root>/cpu,cpuacct/unbox-cgroups-42/hog <root>/memory/unbox-cgroups-42/hog <root>/pids/unbox-cgroups-42/hog",
		}, 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			h, _ := fakeV1(t, c.comount)
			cg, ops, err := h.Create("/unbox-cgroups-42/hog")
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, l := range opLines(h, ops) {
				got = append(got, strings.ReplaceAll(l, h.Root, "<root>"))
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("opLines(Create) =\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(c.want, "\n  "))
			}
			if len(cg.Dirs()) != c.dirs {
				t.Errorf("Dirs() = %v; want %d directories", cg.Dirs(), c.dirs)
			}
			for _, f := range []string{"cpu.cfs_quota_us", "cpuacct.usage", "memory.limit_in_bytes", "pids.max"} {
				if _, err := os.Stat(cg.File(f)); err != nil {
					t.Errorf("File(%q): %v", f, err)
				}
			}
		})
	}
}

// TestWrites checks the limit writers: what each mode writes, where, in
// which order.
func TestWrites(t *testing.T) {
	seed := Resources{CPUPeriod: 100000, CPUQuota: 20000, Memory: 32 << 20, Pids: 20}
	for _, c := range []struct {
		name string
		v2   bool
		r    Resources
		want []string // "file value", optional ones marked "?"
	}{
		{"v2 seed", true, seed, []string{"cpu.max 20000 100000", "memory.max 33554432", "memory.swap.max? 0", "pids.max 20"}},
		{"v2 no quota", true, Resources{CPUQuota: -1, CPUPeriod: 50000}, []string{"cpu.max max 50000"}},
		{"v2 quota, default period", true, Resources{CPUQuota: 50000}, []string{"cpu.max 50000 100000"}},
		{"v2 no limits", true, Resources{Memory: -1, Pids: -1}, []string{"memory.max max", "memory.swap.max? 0", "pids.max max"}},
		{"v1 seed", false, seed, []string{"cpu.cfs_period_us 100000", "cpu.cfs_quota_us 20000", "memory.limit_in_bytes 33554432", "pids.max 20"}},
		{"v1 no limits", false, Resources{CPUQuota: -1, Memory: -1, Pids: -1}, []string{"cpu.cfs_quota_us -1", "memory.limit_in_bytes -1", "pids.max max"}},
		{"nothing", false, Resources{}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			var h Host
			if c.v2 {
				h, _ = fakeV2(t, "cpu memory pids")
			} else {
				h, _ = fakeV1(t, false)
			}
			cg, err := h.Cgroup("/unbox-cgroups-42/x")
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, w := range cg.Writes(c.r) {
				opt := ""
				if w.Optional {
					opt = "?"
				}
				if filepath.Dir(w.Path) != filepath.Dir(cg.File(filepath.Base(w.Path))) {
					t.Errorf("%s is not in the cgroup's directory for it", w.Path)
				}
				got = append(got, filepath.Base(w.Path)+opt+" "+w.Value)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("Writes(%+v) = %q; want %q", c.r, got, c.want)
			}
		})
	}
}

// TestSet writes the limits into fake trees and reads them back.
func TestSet(t *testing.T) {
	seed := Resources{CPUPeriod: 100000, CPUQuota: 20000, Memory: 32 << 20, Pids: 20}
	for _, c := range []struct {
		name   string
		host   func(t *testing.T) Host
		expect map[string]string
	}{
		{"v2", func(t *testing.T) Host { h, _ := fakeV2(t, "cpu memory pids"); return h },
			map[string]string{"cpu.max": "20000 100000", "memory.max": "33554432", "memory.swap.max": "0", "pids.max": "20"}},
		{"v2 without swap accounting", func(t *testing.T) Host {
			h, k := fakeV2(t, "cpu memory pids")
			k.noSwap = true
			return h
		}, map[string]string{"cpu.max": "20000 100000", "memory.max": "33554432", "pids.max": "20"}},
		{"v1", func(t *testing.T) Host { h, _ := fakeV1(t, false); return h },
			map[string]string{"cpu.cfs_period_us": "100000", "cpu.cfs_quota_us": "20000", "memory.limit_in_bytes": "33554432", "pids.max": "20"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cg, _, err := c.host(t).Create("/unbox-cgroups-42/x")
			if err != nil {
				t.Fatal(err)
			}
			if err := cg.Set(seed); err != nil {
				t.Fatal(err)
			}
			for f, want := range c.expect {
				if got := read(t, cg.File(f)); got != want {
					t.Errorf("%s = %q; want %q", f, got, want)
				}
			}
			if _, ok := c.expect["memory.swap.max"]; !ok {
				if _, err := os.Stat(cg.File("memory.swap.max")); err == nil {
					t.Errorf("memory.swap.max was created; an optional file is only written where it exists")
				}
			}
		})
	}
}

// TestSetWithoutController: a v2 cgroup whose parent did not enable memory
// has no memory.max, and the error says where to look.
func TestSetWithoutController(t *testing.T) {
	h, k := fakeV2(t, "cpu memory pids")
	writeFiles(t, h.Root, map[string]string{"cgroup.subtree_control": "cpu pids"})
	if err := k.mkdir(filepath.Join(h.Root, "unbox-x")); err != nil {
		t.Fatal(err)
	}
	cg, _ := h.Cgroup("/unbox-x")
	err := cg.Set(Resources{Memory: 1 << 20})
	if err == nil || !strings.Contains(err.Error(), "memory.max: no such file: is the memory controller enabled") {
		t.Fatalf("Set(memory) without the memory controller: %v; want an error naming memory.max and the controller", err)
	}
}

// TestStats reads counters from real kernel text.
func TestStats(t *testing.T) {
	t.Run("v2", func(t *testing.T) {
		h, _ := fakeV2(t, "cpu memory pids")
		cg, _, err := h.Create("/unbox-x/y")
		if err != nil {
			t.Fatal(err)
		}
		dir := cg.Dirs()[0]
		copyTestdata(t, dir, map[string]string{"cpu.stat-v2.txt": "cpu.stat", "memory.events.txt": "memory.events", "pids.events.txt": "pids.events"})
		writeFiles(t, dir, map[string]string{"memory.max": "8388608\n", "memory.current": "8364032\n", "memory.peak": "8388608\n", "pids.max": "5\n", "pids.current": "4\n"})
		st, err := cg.Stats()
		if err != nil {
			t.Fatal(err)
		}
		want := Stats{
			CPU:    CPUStats{UsageUsec: 2790491, Periods: 139, Throttled: 138, ThrottledUsec: 17046225},
			Memory: MemoryStats{Usage: 8364032, Limit: 8388608, Peak: 8388608, LimitHits: 9112, OOMKills: 1},
			Pids:   PidsStats{Current: 4, Limit: 5, LimitHits: 1},
		}
		if st != want {
			t.Errorf("Stats() =\n  %+v\nwant\n  %+v", st, want)
		}
	})
	t.Run("v1", func(t *testing.T) {
		h, _ := fakeV1(t, false)
		cg, _, err := h.Create("/unbox-x/y")
		if err != nil {
			t.Fatal(err)
		}
		copyTestdata(t, filepath.Dir(cg.File("cpu.stat")), map[string]string{"cpu.stat-v1.txt": "cpu.stat"})
		copyTestdata(t, filepath.Dir(cg.File("memory.oom_control")), map[string]string{"memory.oom_control.txt": "memory.oom_control"})
		writeFiles(t, filepath.Dir(cg.File("cpuacct.usage")), map[string]string{"cpuacct.usage": "758862328\n"})
		writeFiles(t, filepath.Dir(cg.File("memory.failcnt")), map[string]string{"memory.failcnt": "140\n", "memory.usage_in_bytes": "8200192\n", "memory.max_usage_in_bytes": "8388608\n"})
		st, err := cg.Stats()
		if err != nil {
			t.Fatal(err)
		}
		want := Stats{
			CPU:    CPUStats{UsageUsec: 758862, Periods: 38, Throttled: 38, ThrottledUsec: 2778537},
			Memory: MemoryStats{Usage: 8200192, Limit: 0, Peak: 8388608, LimitHits: 140, OOMKills: 1},
		}
		if st != want {
			t.Errorf("Stats() =\n  %+v\nwant\n  %+v", st, want)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		h, _ := fakeV2(t, "cpu memory pids")
		writeFiles(t, h.Root, map[string]string{"cgroup.subtree_control": "cpu pids"})
		cg, _ := h.Cgroup("/unbox-x")
		if err := h.sys.mkdir(cg.Dirs()[0]); err != nil {
			t.Fatal(err)
		}
		if _, err := cg.Stats(); err == nil || !strings.Contains(err.Error(), "memory") {
			t.Errorf("Stats() without the memory controller: %v; want an error naming a memory file", err)
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

// TestDestroy: processes are killed first, then the cgroups are removed
// deepest first, in every hierarchy; nothing of ours is left.
func TestDestroy(t *testing.T) {
	for _, c := range []struct {
		name string
		host func(t *testing.T) (Host, *fakeKernel)
	}{
		{"v2", func(t *testing.T) (Host, *fakeKernel) { return fakeV2(t, "cpu memory pids") }},
		{"v1", func(t *testing.T) (Host, *fakeKernel) { return fakeV1(t, false) }},
		{"v1 co-mounted", func(t *testing.T) (Host, *fakeKernel) { return fakeV1(t, true) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			h, k := c.host(t)
			parent, _, err := h.Create("/unbox-cgroups-42")
			if err != nil {
				t.Fatal(err)
			}
			leaf, _, err := h.Create("/unbox-cgroups-42/hog")
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range inEach(leaf, "cgroup.procs") {
				writeFiles(t, filepath.Dir(f), map[string]string{"cgroup.procs": "101\n102\n"})
			}
			if err := parent.Destroy(); err != nil {
				t.Fatal(err)
			}
			slices.Sort(k.killed)
			if got := slices.Compact(k.killed); !slices.Equal(got, []int{101, 102}) {
				t.Errorf("killed %v; want 101 and 102", got)
			}
			// The fake rmdir refuses a cgroup with children, as the kernel
			// does: Destroy succeeding means it went deepest first.
			if left := findOurs(h.Root, "unbox-cgroups-42"); len(left) > 0 {
				t.Errorf("after Destroy: %v left", left)
			}
			if err := parent.Destroy(); err != nil {
				t.Errorf("Destroy of a removed cgroup: %v; want nil", err)
			}
		})
	}
}

func TestShellPaths(t *testing.T) {
	for _, c := range []struct {
		in   []string
		want string
	}{
		{[]string{"/a/b"}, "/a/b"},
		{[]string{"/r/cpu/x", "/r/memory/x"}, "/r/{cpu,memory}/x"},
		{[]string{"/r/cpu/x/p", "/r/memory/x/p", "/r/pids/x/p"}, "/r/{cpu,memory,pids}/x/p"},
		{[]string{"/r/cpu,cpuacct/x", "/r/memory/x"}, "/r/cpu,cpuacct/x /r/memory/x"},
		{[]string{"/r/a/x", "/r/b/y"}, "/r/a/x /r/b/y"},
		{[]string{"/r/a", "/r/a/b"}, "/r/a /r/a/b"},
	} {
		if got := shellPaths(c.in); got != c.want {
			t.Errorf("shellPaths(%q) = %q; want %q", c.in, got, c.want)
		}
	}
}

func TestWriteCmd(t *testing.T) {
	if got, want := writeCmd("42", []string{"/r/x/cgroup.procs"}), "echo 42 > /r/x/cgroup.procs"; got != want {
		t.Errorf("writeCmd = %q; want %q", got, want)
	}
	if got, want := writeCmd("42", []string{"/r/cpu/x/cgroup.procs", "/r/pids/x/cgroup.procs"}), "echo 42 | tee /r/{cpu,pids}/x/cgroup.procs"; got != want {
		t.Errorf("writeCmd = %q; want %q", got, want)
	}
	if got, want := (fileWrite{Path: "/r/cpu.max", Value: "20000 100000"}).Shell(), "echo '20000 100000' > /r/cpu.max"; got != want {
		t.Errorf("Shell() = %q; want %q", got, want)
	}
}

// TestReadLimits finds a process's limits from /proc/self/cgroup text and
// its cgroup's files, in both modes.
func TestReadLimits(t *testing.T) {
	t.Run("v2", func(t *testing.T) {
		h, _ := fakeV2(t, "cpu memory pids")
		cg, _, err := h.Create("/test.scope")
		if err != nil {
			t.Fatal(err)
		}
		if err := cg.Set(Resources{CPUQuota: 20000, CPUPeriod: 100000, Memory: 32 << 20}); err != nil {
			t.Fatal(err)
		}
		l, err := readLimits(h, readTestdata(t, "proc-self-cgroup-v2.txt"))
		if err != nil {
			t.Fatal(err)
		}
		want := cgroupLimits{MemoryFile: cg.File("memory.max"), Memory: 32 << 20, CPUFile: cg.File("cpu.max"), Quota: 20000, Period: 100000}
		if l != want {
			t.Errorf("readLimits = %+v; want %+v", l, want)
		}
		if l.CPUs() != 0.2 || l.Workers(2) != 1 || l.Workers(64) != 1 {
			t.Errorf("CPUs() = %v, Workers(2) = %d, Workers(64) = %d; want 0.2, 1, 1", l.CPUs(), l.Workers(2), l.Workers(64))
		}
	})
	t.Run("v2 without limits", func(t *testing.T) {
		h, _ := fakeV2(t, "cpu memory pids")
		if _, _, err := h.Create("/test.scope"); err != nil {
			t.Fatal(err)
		}
		l, err := readLimits(h, "0::/test.scope\n")
		if err != nil {
			t.Fatal(err)
		}
		if l.Memory != 0 || l.Quota != -1 || l.CPUs() != 0 || l.Workers(8) != 8 {
			t.Errorf("readLimits = %+v, Workers(8) = %d; want no limits and 8 workers", l, l.Workers(8))
		}
	})
	t.Run("v1", func(t *testing.T) {
		h, _ := fakeV1(t, false)
		cg, _, err := h.Create("/process_api/d7c8a36fcf49bd1a95c4d45916c25517")
		if err != nil {
			t.Fatal(err)
		}
		if err := cg.Set(Resources{Memory: 32 << 20}); err != nil {
			t.Fatal(err)
		}
		// In testdata, only the memory line points at that cgroup; cpu is at
		// the root, which has no quota.
		l, err := readLimits(h, readTestdata(t, "proc-self-cgroup-v1.txt"))
		if err != nil {
			t.Fatal(err)
		}
		want := cgroupLimits{MemoryFile: cg.File("memory.limit_in_bytes"), Memory: 32 << 20,
			CPUFile: filepath.Join(h.Root, "cpu", "cpu.cfs_quota_us"), Quota: -1, Period: 100000}
		if l != want {
			t.Errorf("readLimits = %+v; want %+v", l, want)
		}
	})
}

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
