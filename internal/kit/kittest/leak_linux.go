package kittest

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
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
// namespace bind mount (nsfs), from /proc/self/mountinfo (proc(5)).
func (o ours) mounts() []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		fields, postFields := strings.Fields(pre), strings.Fields(post)
		if len(fields) < 5 || len(postFields) < 2 {
			continue
		}
		point := unescapeMountinfo(fields[4])
		fstype, source := postFields[0], unescapeMountinfo(postFields[1])
		if fstype == "nsfs" || mentionsUs(point) || mentionsUs(source) ||
			(o.tempRoot != "" && strings.HasPrefix(point, o.tempRoot)) {
			out = append(out, point+" "+fstype+" "+source)
		}
	}
	return out
}

// unescapeMountinfo undoes the octal escapes (\040 for a space) that the
// kernel writes for spaces, tabs, newlines and backslashes in paths.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
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
	entries, _ := os.ReadDir("/proc")
	self := strconv.Itoa(os.Getpid())
	var out []string
	for _, e := range entries {
		pid := e.Name()
		if pid == self || pid[0] < '0' || pid[0] > '9' {
			continue
		}
		stat, err := os.ReadFile("/proc/" + pid + "/stat")
		if err != nil {
			continue
		}
		comm, ppid := statFields(string(stat))
		exe, _ := os.Readlink("/proc/" + pid + "/exe")
		pidns, _ := os.Readlink("/proc/" + pid + "/ns/pid")
		if ppid == self || (exe != "" && exe == o.self) || (pidns != "" && o.hostPID != "" && pidns != o.hostPID) {
			out = append(out, fmt.Sprintf("%s %s", pid, comm))
		}
	}
	return out
}

// statFields returns comm and ppid from /proc/<pid>/stat; comm may hold
// spaces and parentheses, so the fields after it are found from the last ')'.
func statFields(stat string) (comm, ppid string) {
	i, j := strings.IndexByte(stat, '('), strings.LastIndexByte(stat, ')')
	if i < 0 || j < i {
		return "", ""
	}
	f := strings.Fields(stat[j+1:])
	if len(f) < 2 {
		return stat[i+1 : j], ""
	}
	return stat[i+1 : j], f[1]
}
