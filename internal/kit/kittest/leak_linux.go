package kittest

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/unboxlab/unbox/internal/procfs"
)

// Snapshot is what of ours exists on the host at one moment: the leak check
// takes one before a test and one after, and fails the test for anything new.
type Snapshot struct {
	Mounts    []string // "<mount point> <type> <source>"
	Links     []string // network interfaces in the host's namespace
	Cgroups   []string // cgroup directories
	Processes []string // "<pid> <comm>"
	// RootControllers is the cgroup v2 root's cgroup.subtree_control: a
	// lesson that enables controllers there (as it must where nobody has)
	// must disable them again.
	RootControllers string
}

// ours decides what belongs to this project (or this test) so that the check
// is immune to whatever else the host is doing.
type ours struct {
	tempRoot string // the test's own temp directory
	self     string // this test binary
	hostPID  string // our PID namespace
}

// TakeSnapshot reads the host's state. tempRoot may be empty.
func TakeSnapshot(tempRoot string) Snapshot {
	o := ours{tempRoot: tempRoot}
	o.self, _ = os.Executable()
	o.hostPID, _ = os.Readlink("/proc/self/ns/pid")
	return Snapshot{
		Mounts:          o.mounts(),
		Links:           o.links(),
		Cgroups:         o.cgroups(),
		Processes:       o.processes(),
		RootControllers: rootControllers(),
	}
}

// rootControllers reads cgroup.subtree_control at the root of the cgroup v2
// hierarchy: /sys/fs/cgroup on a pure v2 host, /sys/fs/cgroup/unified on a
// hybrid one.
func rootControllers() string {
	for _, root := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
		if b, err := os.ReadFile(root + "/cgroup.subtree_control"); err == nil {
			return strings.TrimSpace(string(b))
		}
	}
	return ""
}

// NoLeaks snapshots the host now and, when the test ends (after its own
// cleanups, which were registered later and so run earlier), fails it if
// anything of ours appeared and stayed. It retries for a moment, since a
// killed child or a lazily detached mount takes a little while to go.
func NoLeaks(t *testing.T) {
	t.Helper()
	root := filepath.Dir(t.TempDir())
	before := TakeSnapshot(root)
	t.Cleanup(func() {
		var leaked []string
		for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			leaked = before.Leaked(TakeSnapshot(root))
			if len(leaked) == 0 || time.Now().After(deadline) {
				break
			}
		}
		if len(leaked) > 0 {
			t.Errorf("leak check: left on the host after the test:\n  %s", strings.Join(leaked, "\n  "))
		}
	})
}

// Leaked lists what is in after but not in s.
func (s Snapshot) Leaked(after Snapshot) []string {
	var out []string
	add := func(kind string, before, now []string) {
		for _, x := range now {
			if !slices.Contains(before, x) {
				out = append(out, kind+": "+x)
			}
		}
	}
	add("mount", s.Mounts, after.Mounts)
	add("network link", s.Links, after.Links)
	add("cgroup", s.Cgroups, after.Cgroups)
	add("process", s.Processes, after.Processes)
	if s.RootControllers != after.RootControllers {
		out = append(out, fmt.Sprintf("cgroup v2 root: cgroup.subtree_control was %q, is %q", s.RootControllers, after.RootControllers))
	}
	return out
}

func mentionsUs(s string) bool {
	return strings.Contains(s, "unbox") || strings.Contains(s, "ubx")
}

// mounts are those under the test's temp dir or naming unbox, and every
// namespace bind mount (nsfs), from /proc/self/mountinfo.
func (o ours) mounts() []string {
	ms, err := procfs.ReadMountinfo("self")
	if err != nil {
		return nil
	}
	var out []string
	for _, m := range ms {
		if m.Type == "nsfs" || mentionsUs(m.Point) || mentionsUs(m.Source) ||
			(o.tempRoot != "" && strings.HasPrefix(m.Point, o.tempRoot)) {
			out = append(out, m.Point+" "+m.Type+" "+m.Source)
		}
	}
	return out
}

func (o ours) links() []string {
	entries, _ := os.ReadDir("/sys/class/net")
	var out []string
	for _, e := range entries {
		if mentionsUs(e.Name()) {
			out = append(out, e.Name())
		}
	}
	return out
}

// cgroups are directories named for us anywhere in the first levels of
// /sys/fs/cgroup, whichever the cgroup mode.
func (o ours) cgroups() []string {
	var out []string
	_ = filepath.WalkDir("/sys/fs/cgroup", func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if strings.Count(strings.TrimPrefix(path, "/sys/fs/cgroup"), "/") > 4 {
			return fs.SkipDir
		}
		if mentionsUs(d.Name()) {
			out = append(out, path)
		}
		return nil
	})
	return out
}

// processes are our children and other copies of this binary (a re-exec'd
// child that outlived its parent), and processes in another PID namespace
// (a container). Only processes new since the snapshot count as leaks.
func (o ours) processes() []string {
	pids, _ := procfs.PIDs()
	self := os.Getpid()
	var out []string
	for _, pid := range pids {
		if pid == self {
			continue
		}
		p := strconv.Itoa(pid)
		st, err := procfs.ReadStat(p)
		if err != nil {
			continue
		}
		exe, _ := os.Readlink("/proc/" + p + "/exe")
		pidns, _ := os.Readlink("/proc/" + p + "/ns/pid")
		if st.PPID == self || (exe != "" && exe == o.self) || (pidns != "" && o.hostPID != "" && pidns != o.hostPID) {
			out = append(out, fmt.Sprintf("%d %s", pid, st.Comm))
		}
	}
	return out
}
