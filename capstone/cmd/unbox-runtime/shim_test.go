//go:build linux

package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/rootfs"
)

// TestPrivKillAllAfterInitExits: what containerd's shim does when a pod's
// container, in the pod's PID namespace, exits and leaves a process behind:
// `kill --all ID KILL` on the stopped container ends what is left in its
// cgroup, as runc does. Plain kill of a stopped container is still
// "container not running", and kill --all with nothing left is no error.
func TestPrivKillAllAfterInitExits(t *testing.T) {
	privileged(t)
	r := newRT(t)
	pod := r.create("ubx-kpod", bundle(t, nil, "sleep", "300"))
	r.ok("start", "ubx-kpod")
	b := bundle(t, func(s *specs.Spec) {
		for i, n := range s.Linux.Namespaces {
			if n.Type == specs.PIDNamespace {
				s.Linux.Namespaces[i].Path = "/proc/" + strconv.Itoa(pod.Pid) + "/ns/pid"
			}
		}
	}, "sh", "-c", "sleep 300 & exit 0")
	r.create("ubx-kmember", b)
	r.ok("start", "ubx-kmember")
	r.waitStatus("ubx-kmember", "stopped")
	var pids []int
	if err := json.Unmarshal([]byte(r.ok("ps", "--format", "json", "ubx-kmember").stdout), &pids); err != nil || len(pids) != 1 {
		t.Fatalf("ps of the stopped container = %v (%v); want the sleep it left", pids, err)
	}
	if res := r.run("kill", "ubx-kmember", "KILL"); res.code == 0 || !strings.Contains(res.msg(), "container not running") {
		t.Errorf("kill of a stopped container = %s; want container not running", res)
	}
	r.ok("kill", "--all", "ubx-kmember", "KILL")
	waitGone(t, pids[0])
	r.ok("kill", "--all", "ubx-kmember", "KILL")
}

// waitGone waits until pid has exited (gone, or a zombie nobody reaps yet).
func waitGone(t *testing.T, pid int) {
	t.Helper()
	for i := 0; i < 1000; i++ {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return
		}
		if f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:])); len(f) > 0 && f[0] == "Z" {
			return
		}
		sleepMs(10)
	}
	t.Fatalf("process %d is still running", pid)
}

// TestPrivReadonlyBinds: "rbind,ro" makes a volume read-only at its top
// and leaves a mount inside it as it is, as runc does and as Kubernetes'
// read-only volumes expect (critest's "non-recursive readonly mounts");
// "rbind,rro" makes both read-only.
func TestPrivReadonlyBinds(t *testing.T) {
	privileged(t)
	vol := t.TempDir()
	sub := filepath.Join(vol, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", sub, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(sub, unix.MNT_DETACH) })
	const script = `for f in /vol/top /vol/sub/file; do touch $f 2>/dev/null && echo "$f=rw" || echo "$f=ro"; done`
	for _, c := range []struct {
		option string
		want   string
	}{{"ro", "/vol/top=ro\n/vol/sub/file=rw\n"}, {"rro", "/vol/top=ro\n/vol/sub/file=ro\n"}} {
		b := bundle(t, func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/vol", Type: "bind", Source: vol, Options: []string{"rbind", c.option, "rprivate"}})
		}, "sh", "-c", script)
		if res := newRT(t).run("run", "--bundle", b, "ubx-robind"); res.code != 0 || res.stdout != c.want {
			t.Errorf("with rbind,%s the container sees %s; want\n%s", c.option, res, c.want)
		}
	}
}

// TestPrivBidirectionalVolume: a Kubernetes Bidirectional volume (the
// spec's rootfsPropagation rshared and the volume rshared): what the
// container mounts in the volume appears on the host, and nothing else
// the container mounts does, though its root is a shared mount too, as
// containerd's overlay is on a host with shared mounts (the leak check
// would see the container's /proc, /dev, ... under the test's directory).
func TestPrivBidirectionalVolume(t *testing.T) {
	privileged(t)
	sharedTmpfs := func() string {
		dir := t.TempDir()
		if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=64m"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
		if err := unix.Mount("", dir, "", unix.MS_SHARED, ""); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	root, vol := sharedTmpfs(), sharedTmpfs()
	if err := os.Remove(root); err == nil {
		t.Fatal("removed a mount point")
	}
	if _, err := rootfs.Build(context.Background(), root, rootfs.Options{}); err != nil {
		t.Fatal(err)
	}
	b := bundle(t, func(s *specs.Spec) {
		s.Root = &specs.Root{Path: root}
		s.Linux.RootfsPropagation = "rshared"
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/vol", Type: "bind", Source: vol, Options: []string{"rbind", "rshared", "rw"}})
		caps := []string{"CAP_SYS_ADMIN"}
		s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps}
	}, "sh", "-c", "mkdir /vol/inner && mount -t tmpfs -o size=1m tmpfs /vol/inner && touch /vol/inner/from-container")
	res := newRT(t).run("run", "--bundle", b, "ubx-bidi")
	inner := filepath.Join(vol, "inner")
	t.Cleanup(func() { _ = unix.Unmount(inner, unix.MNT_DETACH) })
	if res.code != 0 {
		t.Fatalf("run: %s", res)
	}
	if _, err := os.Stat(filepath.Join(inner, "from-container")); err != nil {
		t.Errorf("the container's mount in its Bidirectional volume does not reach the host: %v", err)
	}
}
