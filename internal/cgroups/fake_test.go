//go:build linux

package cgroups

// A fake cgroup filesystem for the pure tests: real directories and files
// in a temporary directory, and a fake kernel that does what the real one
// does on mkdir (fill the directory with its controllers' files), rmdir
// (refuse a cgroup with processes or children), a write to the files that
// are commands (cgroup.subtree_control, cgroup.procs, cgroup.kill,
// cgroup.freeze, freezer.state) and kill (take the process out of its
// cgroup). Everything else is a plain file the code writes and reads back.

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

type fakeKernel struct {
	t      *testing.T
	root   string
	v2     bool
	noSwap bool           // no memory.swap.max / memory.memsw.* (no swap accounting)
	refuse map[string]int // file name -> how many writes to refuse with EINVAL
	killed []int
	// filters are the device programs attached, by cgroup directory (one
	// each: a new one replaces the one before, as the real kernel's
	// attachDeviceFilter does).
	filters map[string][]bpfInsn
}

// controllerFiles are the files a fake cgroup gets per controller, with
// their initial contents, for v2 (true) and v1 (false).
var controllerFiles = map[bool]map[string]map[string]string{
	true: {
		"cpu":    {"cpu.max": "max 100000\n", "cpu.weight": "100\n"},
		"cpuset": {"cpuset.cpus": "\n", "cpuset.mems": "\n"},
		"memory": {"memory.max": "max\n", "memory.low": "0\n", "memory.current": "0\n", "memory.peak": "0\n",
			"memory.swap.max": "max\n", "memory.swap.current": "0\n", "memory.stat": "anon 0\nfile 0\ninactive_file 0\n",
			"memory.events": "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n"},
		"pids": {"pids.max": "max\n", "pids.current": "0\n", "pids.events": "max 0\n"},
	},
	false: {
		"cpu":     {"cpu.cfs_quota_us": "-1\n", "cpu.cfs_period_us": "100000\n", "cpu.shares": "1024\n", "cpu.stat": "nr_periods 0\nnr_throttled 0\nthrottled_time 0\n"},
		"cpuacct": {"cpuacct.usage": "0\n", "cpuacct.stat": "user 0\nsystem 0\n"},
		"cpuset":  {"cpuset.cpus": "\n", "cpuset.mems": "\n"},
		"memory": {"memory.limit_in_bytes": "9223372036854771712\n", "memory.soft_limit_in_bytes": "9223372036854771712\n",
			"memory.memsw.limit_in_bytes": "9223372036854771712\n", "memory.usage_in_bytes": "0\n", "memory.memsw.usage_in_bytes": "0\n",
			"memory.max_usage_in_bytes": "0\n", "memory.failcnt": "0\n", "memory.stat": "cache 0\ntotal_inactive_file 0\n",
			"memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n"},
		"pids":    {"pids.max": "max\n", "pids.current": "0\n", "pids.events": "max 0\n"},
		"freezer": {"freezer.state": "THAWED\n"},
		"devices": {"devices.allow": "", "devices.deny": "", "devices.list": "a *:* rwm\n"},
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

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// fakeV2 is a cgroup2 root whose cgroup.controllers lists controllers and
// whose cgroup.subtree_control is empty, as on a machine without systemd.
func fakeV2(t *testing.T, controllers string) (*Host, *fakeKernel) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"cgroup.controllers":     controllers + "\n",
		"cgroup.subtree_control": "\n",
		"cgroup.procs":           "1\n",
	})
	k := &fakeKernel{t: t, root: root, v2: true}
	return &Host{Root: root, Mode: Unified, sys: k}, k
}

// fakeV1 is a tmpfs of v1 hierarchies; with comount, cpu and cpuacct are one
// hierarchy "cpu,cpuacct" with a symlink named for each, as systemd makes.
func fakeV1(t *testing.T, comount bool) (*Host, *fakeKernel) {
	root := t.TempDir()
	hier := []string{"cpu", "cpuacct", "cpuset", "memory", "pids", "freezer", "devices"}
	if comount {
		hier = []string{"cpu,cpuacct", "cpuset", "memory", "pids", "freezer", "devices"}
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
		if h == "cpuset" {
			writeFiles(t, dir, map[string]string{"cpuset.cpus": "0-3\n", "cpuset.mems": "0\n"})
		}
	}
	return &Host{Root: root, Mode: Hybrid, sys: k}, k
}

func (k *fakeKernel) fill(dir string, ctls []string) {
	writeFiles(k.t, dir, map[string]string{"cgroup.procs": ""})
	for _, c := range ctls {
		for name, text := range controllerFiles[k.v2][c] {
			if k.noSwap && (strings.Contains(name, "swap") || strings.Contains(name, "memsw")) {
				continue
			}
			writeFiles(k.t, dir, map[string]string{name: text})
		}
	}
}

func (k *fakeKernel) mkdir(path string) error {
	if err := os.Mkdir(path, 0o755); err != nil {
		return err
	}
	var ctls []string
	if k.v2 {
		// A new cgroup has the controllers its parent enabled, and the
		// core files; cpu.stat is a core file in v2.
		ctls = strings.Fields(read(k.t, filepath.Join(filepath.Dir(path), "cgroup.subtree_control")))
		writeFiles(k.t, path, map[string]string{
			"cgroup.controllers": strings.Join(ctls, " ") + "\n", "cgroup.subtree_control": "\n",
			"cgroup.kill": "", "cgroup.freeze": "0\n", "cgroup.events": "populated 0\nfrozen 0\n",
			"cpu.stat": "usage_usec 0\nuser_usec 0\nsystem_usec 0\n",
		})
		if slices.Contains(ctls, "cpu") {
			writeFiles(k.t, path, map[string]string{"cpu.stat": "usage_usec 0\nuser_usec 0\nsystem_usec 0\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\n"})
		}
	} else {
		ctls = strings.Split(k.hierarchy(path), ",")
	}
	k.fill(path, ctls)
	return nil
}

// hierarchy is the v1 hierarchy directory name that path is in, through
// the symlinks of a co-mounted one: "cpu,cpuacct".
func (k *fakeKernel) hierarchy(path string) string {
	rel, _ := filepath.Rel(k.root, path)
	first := strings.Split(rel, "/")[0]
	if real, err := filepath.EvalSymlinks(filepath.Join(k.root, first)); err == nil {
		return filepath.Base(real)
	}
	return first
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
	if read(k.t, filepath.Join(path, "cgroup.procs")) != "" {
		return unix.EBUSY
	}
	return os.RemoveAll(path)
}

func (k *fakeKernel) write(path, value string) error {
	if _, err := os.Stat(path); err != nil {
		return err
	}
	name, dir := filepath.Base(path), filepath.Dir(path)
	if k.refuse[name] > 0 {
		k.refuse[name]--
		return unix.EINVAL
	}
	switch name {
	case "cgroup.subtree_control":
		return k.subtreeControl(dir, value)
	case "cgroup.procs":
		if !k.v2 && strings.HasPrefix(k.hierarchy(path), "cpuset") && read(k.t, filepath.Join(dir, "cpuset.cpus")) == "" {
			return unix.ENOSPC
		}
		k.movePid(path, value)
		return nil
	case "cgroup.kill":
		return walkCgroups(dir, func(d string) error {
			pids, _ := readProcs(filepath.Join(d, "cgroup.procs"))
			for _, p := range pids {
				_ = k.kill(p)
			}
			return nil
		})
	case "cgroup.freeze":
		writeFiles(k.t, dir, map[string]string{"cgroup.events": "populated 0\nfrozen " + value + "\n"})
	}
	return os.WriteFile(path, []byte(value+"\n"), 0o644)
}

// subtreeControl applies "+a -b" to dir's cgroup.subtree_control as the
// kernel does: only available controllers, no enabling in a non-root cgroup
// with processes, no disabling one a child still enables.
func (k *fakeKernel) subtreeControl(dir, value string) error {
	on := strings.Fields(read(k.t, filepath.Join(dir, "cgroup.subtree_control")))
	avail := strings.Fields(read(k.t, filepath.Join(dir, "cgroup.controllers")))
	for _, w := range strings.Fields(value) {
		ctl := w[1:]
		switch w[0] {
		case '+':
			if !slices.Contains(avail, ctl) {
				return unix.ENOENT
			}
			if dir != k.root && read(k.t, filepath.Join(dir, "cgroup.procs")) != "" {
				return unix.EBUSY
			}
			if !slices.Contains(on, ctl) {
				on = append(on, ctl)
			}
		case '-':
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if e.IsDir() && slices.Contains(strings.Fields(read(k.t, filepath.Join(dir, e.Name(), "cgroup.subtree_control"))), ctl) {
					return unix.EBUSY
				}
			}
			on = slices.DeleteFunc(on, func(c string) bool { return c == ctl })
		default:
			return unix.EINVAL
		}
	}
	return os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte(strings.Join(on, " ")+"\n"), 0o644)
}

// movePid writes pid into procs, and out of every other cgroup.procs of the
// same hierarchy: a process is in one cgroup per hierarchy.
func (k *fakeKernel) movePid(procs, pid string) {
	top := k.root
	if !k.v2 {
		top = filepath.Join(k.root, k.hierarchy(procs))
	}
	k.removePid(top, pid)
	b, _ := os.ReadFile(procs)
	_ = os.WriteFile(procs, append(b, []byte(pid+"\n")...), 0o644)
}

func (k *fakeKernel) removePid(top, pid string) {
	_ = filepath.WalkDir(top, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.Name() != "cgroup.procs" {
			return err
		}
		b, _ := os.ReadFile(p)
		var keep []string
		for _, f := range strings.Fields(string(b)) {
			if f != pid {
				keep = append(keep, f+"\n")
			}
		}
		return os.WriteFile(p, []byte(strings.Join(keep, "")), 0o644)
	})
}

// kill takes pid out of every cgroup.procs, as an exiting process leaves.
func (k *fakeKernel) kill(pid int) error {
	k.killed = append(k.killed, pid)
	// filepath.WalkDir does not follow the co-mounted hierarchy's symlinks,
	// so each real hierarchy is walked once.
	k.removePid(k.root, strconv.Itoa(pid))
	return nil
}

// attachDeviceFilter checks that the program would pass the verifier's
// simplest checks and keeps it for the test to run (devices_test.go).
func (k *fakeKernel) attachDeviceFilter(dir string, prog []bpfInsn) error {
	if !k.v2 {
		k.t.Errorf("a device filter attached on a v1 host, to %s", dir)
	}
	if _, err := os.Stat(filepath.Join(dir, "cgroup.procs")); err != nil {
		return err
	}
	if err := checkProgram(prog); err != nil {
		return unix.EINVAL
	}
	if k.filters == nil {
		k.filters = map[string][]bpfInsn{}
	}
	k.filters[dir] = prog
	return nil
}

// trace records a host's ops as shell lines, with the root as <root>.
func trace(h *Host) *[]string {
	var ops []string
	h.Trace = func(o Op) { ops = append(ops, strings.ReplaceAll(o.String(), h.Root, "<root>")) }
	return &ops
}

func mustNew(t *testing.T, h *Host, parent, name string, ctls ...string) Manager {
	t.Helper()
	if len(ctls) == 0 {
		ctls = []string{"cpu", "memory", "pids"}
	}
	m, err := h.New(Config{Parent: parent, Name: name, Controllers: ctls})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func mustCreate(t *testing.T, h *Host, parent, name string, ctls ...string) Manager {
	t.Helper()
	m := mustNew(t, h, parent, name, ctls...)
	if err := m.Create(); err != nil {
		t.Fatal(err)
	}
	return m
}
