//go:build linux

package container

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/cgroups"
	"github.com/unboxlab/unbox/internal/mount"
)

func TestCheckID(t *testing.T) {
	for id, ok := range map[string]bool{
		"abc": true, "a-b_c.d+e": true, "0123456789abcdef": true,
		"": false, ".": false, "..": false, "a/b": false, "../x": false, "a b": false, "a\nb": false, "é": false,
	} {
		if err := checkID(id); (err == nil) != ok {
			t.Errorf("checkID(%q) = %v; want ok %v", id, err, ok)
		}
	}
}

// TestStatusFromFacts derives the status of a container whose record names
// processes in given states: this process (alive), a PID that is not
// running, this process with another start time (a reused PID).
func TestStatusFromFacts(t *testing.T) {
	self, err := startTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		rec  record
		fifo bool
		want Status
	}{
		{"create running, no init yet", record{CreatorPid: os.Getpid(), CreatorStart: self}, true, Creating},
		{"create gone, no init", record{CreatorPid: 1 << 22, CreatorStart: 1}, true, Stopped},
		{"init waits, create done", record{InitPid: os.Getpid(), InitStart: self}, true, Created},
		{"init waits, create still running", record{InitPid: os.Getpid(), InitStart: self, CreatorPid: os.Getpid(), CreatorStart: self}, true, Creating},
		{"init started", record{InitPid: os.Getpid(), InitStart: self}, false, Running},
		{"init's PID reused", record{InitPid: os.Getpid(), InitStart: self + 1}, false, Stopped},
		{"init gone", record{InitPid: 1 << 22, InitStart: 1}, false, Stopped},
	} {
		dir := t.TempDir()
		if tc.fifo {
			if err := unix.Mkfifo(filepath.Join(dir, fifoName), 0o622); err != nil {
				t.Fatal(err)
			}
		}
		c := &Container{ID: "x", dir: dir, rec: tc.rec}
		if got := c.Status(); got != tc.want {
			t.Errorf("%s: Status = %s; want %s", tc.name, got, tc.want)
		}
	}
}

// TestRecordRoundTrip: the record written under the lock reads back the
// same, and no temporary file is left.
func TestRecordRoundTrip(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "ctr")
	if err := os.Mkdir(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	c := &Container{ID: "ctr", Root: root, dir: dir, rec: record{ID: "ctr", Bundle: "/b", InitPid: 42, Config: &Config{
		Rootfs: "/b/rootfs", Cgroup: Cgroup{Parent: "/p", Name: "ctr", Resources: cgroups.Resources{PidsLimit: 5}},
		Process: Process{Args: []string{"sh"}, Cwd: "/"},
	}}}
	if err := c.save(); err != nil {
		t.Fatal(err)
	}
	got, err := Load(root, "ctr")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(c.rec)
	b, _ := json.Marshal(got.rec)
	if string(a) != string(b) {
		t.Errorf("record read back = %s; want %s", b, a)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != stateFile {
		t.Errorf("the state directory holds %v; want only %s", entries, stateFile)
	}
	if _, err := Load(root, "nope"); err != ErrNotExist {
		t.Errorf("Load of a missing container = %v; want ErrNotExist", err)
	}
}

// TestComountLinks: a v1 hierarchy mounted as cpu,cpuacct is reachable as
// cpu and cpuacct inside the container, as on the host; a single one gets no
// link.
func TestComountLinks(t *testing.T) {
	cfg := &Config{Mounts: []Mount{
		{Mount: mount.Mount{Target: "/sys/fs/cgroup/", Type: "cgroup"}, Cgroup: true},
		{Mount: mount.Mount{Source: "/srv/a,b", Target: "/srv/a,b", Flags: unix.MS_BIND}},
	}}
	ms := []mount.Mount{
		{Source: "tmpfs", Target: "/sys/fs/cgroup", Type: "tmpfs"},
		{Source: "/sys/fs/cgroup/cpu,cpuacct/x", Target: "/sys/fs/cgroup/cpu,cpuacct", Flags: unix.MS_BIND},
		{Source: "/sys/fs/cgroup/pids/x", Target: "/sys/fs/cgroup/pids", Flags: unix.MS_BIND},
		{Source: "/srv/a,b", Target: "/srv/a,b", Flags: unix.MS_BIND},
	}
	got := fmt.Sprint(comountLinks(cfg, ms))
	want := fmt.Sprint([]mount.Symlink{
		{Path: "/sys/fs/cgroup/cpu", Target: "cpu,cpuacct"},
		{Path: "/sys/fs/cgroup/cpuacct", Target: "cpu,cpuacct"},
	})
	if got != want {
		t.Errorf("comountLinks = %s; want %s", got, want)
	}
}

func TestExpandMounts(t *testing.T) {
	cfg := &Config{Mounts: []Mount{
		{Mount: mount.Mount{Source: "/host/dev", Target: "/dev", Flags: unix.MS_BIND | unix.MS_REC}, Propagation: unix.MS_SLAVE | unix.MS_REC},
		{Mount: mount.Mount{Target: "/sys/fs/cgroup", Type: "cgroup"}, Cgroup: true},
		{Mount: mount.Mount{Source: "tmpfs", Target: "/tmp", Type: "tmpfs"}},
	}}
	ms, devFromHost, err := expandMounts(cfg, func(m Mount) ([]mount.Mount, error) {
		return []mount.Mount{{Source: "cgroup2", Target: m.Target, Type: "cgroup2"}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"mount --rbind /host/dev /dev", "mount --make-rslave /dev", "mount -t cgroup2 cgroup2 /sys/fs/cgroup", "mount -t tmpfs tmpfs /tmp"}
	if len(ms) != len(want) {
		t.Fatalf("expandMounts = %v; want %v", ms, want)
	}
	for i := range want {
		if ms[i].String() != want[i] {
			t.Errorf("mount %d = %q; want %q", i, ms[i], want[i])
		}
	}
	if !devFromHost {
		t.Errorf("a bind mount on /dev: devFromHost = false; want true (no nodes made over the host's /dev)")
	}
}

func TestMergeKeepsWhatUpdateLeavesOut(t *testing.T) {
	r := cgroups.Resources{Memory: 100, PidsLimit: 10, CpusetCPUs: "0"}
	merge(&r, cgroups.Resources{PidsLimit: 20, CPUQuota: 5000})
	want := cgroups.Resources{Memory: 100, PidsLimit: 20, CPUQuota: 5000, CpusetCPUs: "0"}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("merge = %+v; want %+v", r, want)
	}
}

func TestControllers(t *testing.T) {
	if got := controllers(cgroups.Hybrid, cgroups.Resources{}); len(got) != 4 || got[3] != "freezer" {
		t.Errorf("controllers on v1 = %v; want cpu, memory, pids and the freezer", got)
	}
	if got := controllers(cgroups.Unified, cgroups.Resources{CpusetCPUs: "0"}); len(got) != 4 || got[3] != "cpuset" {
		t.Errorf("controllers on v2 with a cpuset = %v; want cpu, memory, pids, cpuset", got)
	}
}
