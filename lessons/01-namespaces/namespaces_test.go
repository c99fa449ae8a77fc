//go:build linux

package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/kit/kittest"
	"github.com/unboxlab/unbox/internal/procfs"
)

// Each test looks at a mechanism from both sides: what the child reported,
// and what the host saw while the child was alive. The leak check in
// kittest.Privileged then proves the host is as it was.

func TestPrivUTS(t *testing.T) {
	kittest.Privileged(t, privileged("uts")...)
	hostBefore, _ := os.Hostname()
	inside, host, err := utsDemo(context.Background(), containerHostname)
	if err != nil {
		t.Fatal(err)
	}
	if inside.Hostname != containerHostname {
		t.Errorf("hostname inside = %q; want %q", inside.Hostname, containerHostname)
	}
	if host.Hostname != hostBefore {
		t.Errorf("host hostname = %q; want %q, unchanged", host.Hostname, hostBefore)
	}
	if inside.NS == host.NS {
		t.Errorf("child and host share %s", inside.NS)
	}
}

func TestPrivPID(t *testing.T) {
	kittest.Privileged(t, append(privileged("pid"), kit.NeedNamespace("mnt"))...)
	r, err := pidDemo(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	in := r.Inside
	if in.Getpid != 1 {
		t.Errorf("getpid() inside = %d; want 1", in.Getpid)
	}
	if want := strconv.Itoa(r.HostPID); in.ProcSelf != want {
		t.Errorf("/proc/self before remount = %q; want the host pid %s", in.ProcSelf, want)
	}
	if in.ProcsSeen < 2 {
		t.Errorf("before remount /proc listed %d processes; want the host's many", in.ProcsSeen)
	}
	if in.AfterMount.ProcSelf != "1" {
		t.Errorf("/proc/self after remount = %q; want 1", in.AfterMount.ProcSelf)
	}
	if len(in.AfterMount.PS) != 1 || in.AfterMount.PS[0].PID != 1 {
		t.Errorf("ps after remount = %+v; want PID 1 alone", in.AfterMount.PS)
	}
	sleeper, ok := find(in.Orphaned, "pid-sleeper")
	if !ok || sleeper.PPID != 1 {
		t.Errorf("orphan = %+v (found %v); want pid-sleeper with PPID 1", sleeper, ok)
	}
	if z, ok := find(in.Zombie, "pid-exit"); !ok || z.State != "Z" || z.PPID != 1 {
		t.Errorf("zombie = %+v (found %v); want pid-exit in state Z with PPID 1", z, ok)
	}
	if _, ok := find(in.Reaped, "pid-exit"); ok {
		t.Errorf("after wait, ps still shows pid-exit: %+v", in.Reaped)
	}
	var nsPIDs []int
	for _, m := range r.Members {
		nsPIDs = append(nsPIDs, m.NSPID)
		if m.NSPID == 1 && m.HostPID != r.HostPID {
			t.Errorf("host sees PID 1 as host pid %d; want %d", m.HostPID, r.HostPID)
		}
	}
	if !slices.Contains(nsPIDs, 1) || !slices.Contains(nsPIDs, sleeper.PID) || len(nsPIDs) != 2 {
		t.Errorf("host found PIDs %v in the namespace; want 1 and %d", nsPIDs, sleeper.PID)
	}
	if len(r.Survivors) > 0 {
		t.Errorf("host pids %v survived PID 1's exit; the kernel should have killed them", r.Survivors)
	}
}

func find(procs []procfs.Stat, comm string) (procfs.Stat, bool) {
	for _, p := range procs {
		if p.Comm == comm {
			return p, true
		}
	}
	return procfs.Stat{}, false
}

func TestPrivMount(t *testing.T) {
	kittest.Privileged(t, privileged("mnt")...)
	dir := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	inside, host, err := mountDemo(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if inside.Propagation != "private" {
		t.Errorf("propagation of / inside = %q; want private", inside.Propagation)
	}
	if !strings.Contains(inside.Mount, "type tmpfs") || !slices.Equal(inside.Files, []string{"hello"}) {
		t.Errorf("inside: mount %q, files %v; want a tmpfs holding hello", inside.Mount, inside.Files)
	}
	if host.Mount != "" || len(host.Files) != 0 {
		t.Errorf("host: mount %q, files %v; want no mount and an empty directory", host.Mount, host.Files)
	}
	if inside.NS == host.NS {
		t.Errorf("child and host share %s", inside.NS)
	}
}

func TestPrivIPC(t *testing.T) {
	kittest.Privileged(t, privileged("ipc")...)
	inside, host, err := ipcDemo(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !inside.Found || inside.Size != 4096 {
		t.Errorf("inside: %+v; want the 4096-byte segment", inside)
	}
	if host.Found {
		t.Errorf("host sees the child's segment: %+v", host)
	}
	if after, _ := readIPC("self"); after.Found {
		t.Error("the segment outlived the namespace")
	}
}

func TestPrivNet(t *testing.T) {
	kittest.Privileged(t, privileged("net")...)
	inside, host, err := netDemo(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(inside.Links) != 1 || inside.Links[0].Name != "lo" || inside.Links[0].Up || len(inside.Links[0].Addrs) != 0 {
		t.Errorf("inside links = %+v; want lo alone, down, without addresses", inside.Links)
	}
	if inside.NS == host.NS {
		t.Errorf("child and host share %s", inside.NS)
	}
}

func TestPrivUser(t *testing.T) {
	kittest.Privileged(t, kit.NeedNamespace("user"), kit.NeedUserNS)
	// Not t.TempDir(): its parent is private to root, and the child is
	// uid 100000 on the host.
	dir, err := os.MkdirTemp("", "unbox-userns-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o1777); err != nil {
		t.Fatal(err)
	}
	inside, host, err := userDemo(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if inside.UID != 0 || inside.GID != 0 {
		t.Errorf("inside uid:gid = %d:%d; want 0:0", inside.UID, inside.GID)
	}
	if want := "0 100000 1"; inside.UIDMap != want || inside.GIDMap != want {
		t.Errorf("uid_map %q, gid_map %q; want %q", inside.UIDMap, inside.GIDMap, want)
	}
	if inside.CapEff == "" || strings.Trim(inside.CapEff, "0") == "" {
		t.Errorf("CapEff inside = %q; want capabilities", inside.CapEff)
	}
	if inside.SethostnameDenied == "" {
		t.Error("sethostname on the host's UTS namespace was not refused")
	}
	if host.ChildUID != "100000" || host.FileUID != 100000 || host.FileGID != 100000 {
		t.Errorf("host sees uid %s and a file owned by %d:%d; want 100000 throughout", host.ChildUID, host.FileUID, host.FileGID)
	}
}

func TestPrivCgroupNS(t *testing.T) {
	kittest.Privileged(t, privileged("cgroup")...)
	h, err := findHierarchy()
	if err != nil {
		t.Fatal(err)
	}
	cg := filepath.Join(h.Mount, kit.UniqueName("cgns-test"))
	if err := os.Mkdir(cg, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeCgroup(cg) })
	inside, host, err := cgroupNSDemo(context.Background(), h, cg)
	if err != nil {
		t.Fatal(err)
	}
	rel := "/" + filepath.Base(cg)
	if !strings.HasSuffix(inside.Before, rel) {
		t.Errorf("inside before unshare: %q; want it to end in %s", inside.Before, rel)
	}
	if !strings.HasSuffix(inside.After, ":/") {
		t.Errorf("inside after unshare: %q; want the cgroup to be /", inside.After)
	}
	if host.ChildLine != inside.Before {
		t.Errorf("host sees the child at %q; want %q", host.ChildLine, inside.Before)
	}
	if err := removeCgroup(cg); err != nil {
		t.Errorf("the cgroup is not removable once the child is gone: %v", err)
	}
}
