//go:build linux

package main

import (
	"encoding/json"
	"os/exec"
	"sort"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/unboxlab/unbox/capstone/container"
	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/kit/kittest"
)

// The differential tests run the same bundle under unbox-runtime and under
// runc (Debian's, installed by .ci/run) and compare what the container
// sees. They are host-lane tests: the VM lane has no runc, and
// internal/vmtest/exclusions.go lists them (TestPrivPeer*).

// needRunc is the peer the differential tests compare with.
var needRunc = kit.Need{
	Name: "runc",
	Check: func() error {
		_, err := exec.LookPath("runc")
		return err
	},
	Fix: "sudo apt-get install runc (.ci/run installs it)",
}

// peerRunc is runc with its own state root, driven like rt.
func peerRunc(t *testing.T) *rt {
	t.Helper()
	path, err := exec.LookPath("runc")
	if err != nil {
		t.Fatal(err)
	}
	return &rt{t: t, bin: path, root: t.TempDir() + "/runc-state"}
}

// TestPrivPeerDiffRuncSees runs the probe under both runtimes and compares
// every fact; the few that must differ are named, with the reason.
func TestPrivPeerDiffRuncSees(t *testing.T) {
	privileged(t)
	kittest.Require(t, needRunc)
	b := bundle(t, func(s *specs.Spec) {
		seesSpec(s)
		// runc 1.1 names the parent of a cgroup with no cgroupsPath
		// after nothing ("/<id>"); both get the same path here.
		s.Linux.CgroupsPath = "/unbox-diff/probe"
		// runc 1.1 ignores domainname (runc 1.2 sets it).
		s.Domainname = ""
	})
	ours, theirs := newRT(t), peerRunc(t)
	a := ours.run("run", "--bundle", b, "ubx-diff")
	c := theirs.run("run", "--bundle", b, "ubx-diff")
	t.Cleanup(func() { rmdirCgroup("/unbox-diff/probe") })
	if a.code != c.code {
		t.Errorf("exit status: unbox-runtime %d, runc %d\nunbox: %s\nrunc: %s", a.code, c.code, a, c)
	}
	fa, fc := facts(a.stdout), facts(c.stdout)
	differ := map[string]string{
		// runc 1.1 mounts the v1 hierarchies it finds with the same
		// names; unbox-runtime binds each one (runc does too for the
		// ones it does not know): compared as sets below.
		"mounts": "compared as a set of mount points",
	}
	keys := map[string]bool{}
	for k := range fa {
		keys[k] = true
	}
	for k := range fc {
		keys[k] = true
	}
	var names []string
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if _, ok := differ[k]; ok {
			continue
		}
		if fa[k] != fc[k] {
			t.Errorf("%s: unbox-runtime %q, runc %q", k, fa[k], fc[k])
		}
	}
	pa, pc := mountPoints(fa["mounts"]), mountPoints(fc["mounts"])
	if strings.Join(pa, " ") != strings.Join(pc, " ") {
		t.Errorf("mount points differ:\nunbox-runtime %v\nrunc          %v", pa, pc)
	}
}

// mountPoints are the points of the probe's "point:type" list.
func mountPoints(list string) []string {
	var out []string
	for _, m := range strings.Fields(list) {
		p, _, _ := strings.Cut(m, ":")
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// TestPrivPeerDiffRuncState compares the state JSON through the lifecycle:
// the same keys, statuses and values where they must agree.
func TestPrivPeerDiffRuncState(t *testing.T) {
	privileged(t)
	kittest.Require(t, needRunc)
	b := bundle(t, func(s *specs.Spec) { s.Linux.CgroupsPath = "/unbox-diff/state" }, "sleep", "300")
	ours, theirs := newRT(t), peerRunc(t)
	type step struct {
		name string
		args []string
	}
	for _, st := range []step{
		{"create", []string{"create", "--bundle", b, "ubx-dstate"}},
		{"start", []string{"start", "ubx-dstate"}},
		{"kill", []string{"kill", "ubx-dstate", "KILL"}},
	} {
		got := map[string]map[string]any{}
		for _, r := range []*rt{ours, theirs} {
			if st.name == "create" {
				r.create("ubx-dstate", b)
			} else {
				r.ok(st.args...)
			}
			if st.name == "kill" {
				r.waitStatus("ubx-dstate", container.Stopped)
			}
			res := r.ok("state", "ubx-dstate")
			var m map[string]any
			if err := json.Unmarshal([]byte(res.stdout), &m); err != nil {
				t.Fatalf("%s state: %v\n%s", r.bin, err, res.stdout)
			}
			got[r.bin] = m
		}
		a, c := got[ours.bin], got[theirs.bin]
		for k := range c {
			if _, ok := a[k]; !ok {
				t.Errorf("after %s: runc's state has %q, unbox-runtime's not", st.name, k)
			}
		}
		for _, k := range []string{"id", "status", "bundle", "rootfs", "owner"} {
			if a[k] != c[k] {
				t.Errorf("after %s: state %s: unbox-runtime %v, runc %v", st.name, k, a[k], c[k])
			}
		}
		if (a["pid"].(float64) == 0) != (c["pid"].(float64) == 0) {
			t.Errorf("after %s: pid: unbox-runtime %v, runc %v (zero in one only)", st.name, a["pid"], c["pid"])
		}
	}
	for _, r := range []*rt{ours, theirs} {
		r.ok("delete", "ubx-dstate")
		reap(r.pids["ubx-dstate"])
		if res := r.run("state", "ubx-dstate"); res.code != 1 || !strings.Contains(res.msg(), "container does not exist") {
			t.Errorf("%s: state after delete = %s", r.bin, res)
		}
	}
	rmdirCgroup("/unbox-diff/state")
}

// rmdirCgroup removes a cgroup and its parent that a peer left (runc
// removes its own, but not a parent it made).
func rmdirCgroup(path string) {
	for _, root := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpuacct", "/sys/fs/cgroup/memory",
		"/sys/fs/cgroup/pids", "/sys/fs/cgroup/freezer", "/sys/fs/cgroup/cpuset", "/sys/fs/cgroup/devices", "/sys/fs/cgroup/blkio",
		"/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified", "/sys/fs/cgroup/net_cls", "/sys/fs/cgroup/perf_event", "/sys/fs/cgroup/hugetlb"} {
		removeEmpty(root + path)
		parent := root + path[:strings.LastIndex(path, "/")]
		removeEmpty(parent)
	}
}
