//go:build linux

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/unboxlab/unbox/capstone/container"
	"github.com/unboxlab/unbox/internal/kit/kittest"
	"github.com/unboxlab/unbox/internal/procfs"
)

// TestPrivRun: run prints what the container prints and exits with its
// status; nothing of it is left.
func TestPrivRun(t *testing.T) {
	privileged(t)
	r := newRT(t)
	b := bundle(t, nil, "sh", "-c", "echo hello from $(hostname); exit 7")
	res := r.run("run", "--bundle", b, "ubx-run")
	if res.code != 7 || res.stdout != "hello from unbox\n" {
		t.Errorf("run = %s; want exit 7 and the container's greeting", res)
	}
	if exists(r.stateDir("ubx-run")) {
		t.Errorf("run left its state directory %s", r.stateDir("ubx-run"))
	}
}

// TestPrivRunSignals: run passes the signals it gets on to the container,
// and reports a container killed by a signal as a shell does.
func TestPrivRunSignals(t *testing.T) {
	privileged(t)
	r := newRT(t)
	// PID 1 of a namespace gets only the signals it has a handler for
	// (pid_namespaces(7)): the shell traps SIGTERM.
	b := bundle(t, nil, "sh", "-c", `trap "echo got TERM; exit 42" TERM; echo ready; while :; do sleep 1; done`)
	cmd := r.cmd("run", "--bundle", b, "ubx-signal")
	kittest.StartUntil(t, cmd, "ready")
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 42 {
		t.Errorf("run after SIGTERM: exit %d (%v); want the container's trap to answer, exit 42", code, err)
	}

	cmd = r.cmd("run", "--bundle", bundle(t, nil, "sh", "-c", "echo ready; exec sleep 300"), "ubx-killed")
	kittest.StartUntil(t, cmd, "ready")
	r.ok("kill", "ubx-killed", "KILL")
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 137 {
		t.Errorf("run of a container killed by SIGKILL exited %d; want 137 (128+9), as a shell reports it", code)
	}
	if exists(r.stateDir("ubx-killed")) {
		t.Errorf("run left its state directory after the container was killed")
	}
}

// TestPrivLifecycle walks create, start, kill and delete, and checks the
// state at each step as the runtime-spec describes it.
func TestPrivLifecycle(t *testing.T) {
	privileged(t)
	r := newRT(t)
	b := bundle(t, nil, "sleep", "300")
	pidFile := filepath.Join(t.TempDir(), "init.pid")
	st := r.create("ubx-life", b, "--pid-file", pidFile)
	if st.Status != container.Created || st.Pid <= 0 || st.Bundle != b || st.ID != "ubx-life" || st.OCIVersion == "" {
		t.Fatalf("state after create = %+v; want created, with a pid and the bundle", st)
	}
	if got, _ := os.ReadFile(pidFile); string(got) != strconv.Itoa(st.Pid) {
		t.Errorf("--pid-file holds %q; want %d", got, st.Pid)
	}
	// The init waits in the container, reparented to its caller's
	// subreaper (us), as conmon and containerd's shim expect.
	init, err := procfs.ReadStat(strconv.Itoa(st.Pid))
	if err != nil || init.PPID != os.Getpid() {
		t.Errorf("the init's parent is %d (%v); want the subreaper, %d", init.PPID, err, os.Getpid())
	}
	if res := r.run("start", "ubx-life"); res.code != 0 {
		t.Fatalf("start: %s", res)
	}
	if st := r.state("ubx-life"); st.Status != container.Running {
		t.Errorf("status after start = %s; want running", st.Status)
	}
	if exists(filepath.Join(r.stateDir("ubx-life"), "exec.fifo")) {
		t.Errorf("the exec FIFO is still there after start")
	}
	res := r.run("ps", "--format", "json", "ubx-life")
	var pids []int
	if err := json.Unmarshal([]byte(res.stdout), &pids); err != nil || len(pids) != 1 || pids[0] != st.Pid {
		t.Errorf("ps --format json = %s (%v); want [%d]", res.stdout, err, st.Pid)
	}
	if res := r.run("ps", "ubx-life"); !strings.Contains(res.stdout, "sleep 300") || !strings.Contains(res.stdout, "PID") {
		t.Errorf("ps = %s; want ps -ef's header and the sleep", res)
	}
	if res := r.run("list"); !strings.Contains(res.stdout, "ubx-life") || !strings.Contains(res.stdout, "running") {
		t.Errorf("list = %s; want the container, running", res)
	}
	r.ok("kill", "ubx-life", "KILL")
	st = r.waitStatus("ubx-life", container.Stopped)
	if st.Pid != 0 {
		t.Errorf("a stopped container's pid = %d; want 0, as runc prints", st.Pid)
	}
	if res := r.run("kill", "ubx-life"); res.code != 1 || !strings.Contains(res.msg(), "container not running") {
		t.Errorf("kill of a stopped container = %s; want exit 1 and runc's \"container not running\" (containerd's shim reads it)", res)
	}
	r.ok("delete", "ubx-life")
	reap(st.Pid)
	if exists(r.stateDir("ubx-life")) {
		t.Errorf("delete left %s", r.stateDir("ubx-life"))
	}
	if res := r.run("state", "ubx-life"); res.code != 1 || !strings.Contains(res.msg(), "container does not exist") {
		t.Errorf("state after delete = %s; want exit 1, \"container does not exist\"", res)
	}
}

// TestPrivDeleteCreated: a created container is deleted without --force
// (its init never ran the process), as runc does.
func TestPrivDeleteCreated(t *testing.T) {
	privileged(t)
	r := newRT(t)
	st := r.create("ubx-created", bundle(t, nil, "true"))
	r.ok("delete", "ubx-created")
	reap(st.Pid)
	if _, err := os.Stat("/proc/" + strconv.Itoa(st.Pid)); err == nil {
		t.Errorf("the init %d is still there after delete", st.Pid)
	}
}

// TestPrivPauseResume freezes the container's cgroup and thaws it.
func TestPrivPauseResume(t *testing.T) {
	privileged(t)
	r := newRT(t)
	r.create("ubx-pause", bundle(t, nil, "sleep", "300"))
	r.ok("start", "ubx-pause")
	if res := r.run("resume", "ubx-pause"); res.code != 1 || !strings.Contains(res.msg(), "not paused") {
		t.Errorf("resume of a running container = %s; want an error", res)
	}
	r.ok("pause", "ubx-pause")
	st := r.state("ubx-pause")
	if st.Status != container.Paused {
		t.Errorf("status after pause = %s; want paused", st.Status)
	}
	ps, err := procfs.ReadStat(strconv.Itoa(st.Pid))
	if err != nil || (ps.State != "D" && ps.State != "S" && ps.State != "t" && ps.State != "T") {
		t.Errorf("paused init's state = %q (%v); want it frozen", ps.State, err)
	}
	if res := r.run("delete", "ubx-pause"); res.code != 1 || !strings.Contains(res.msg(), "that is not stopped: paused") {
		t.Errorf("delete of a paused container = %s; want it refused", res)
	}
	r.ok("resume", "ubx-pause")
	if st := r.state("ubx-pause"); st.Status != container.Running {
		t.Errorf("status after resume = %s; want running", st.Status)
	}
}

// TestPrivUpdateAndEvents: update changes the cgroup's limits, from flags
// and from a linux.resources document on stdin (containerd's shim), and
// events --stats reads them back.
func TestPrivUpdateAndEvents(t *testing.T) {
	privileged(t)
	r := newRT(t)
	r.create("ubx-update", bundle(t, func(s *specs.Spec) {
		limit := int64(64)
		s.Linux.Resources.Pids = &specs.LinuxPids{Limit: &limit}
	}, "sleep", "300"))
	r.ok("start", "ubx-update")
	pids := func() uint64 {
		res := r.ok("events", "--stats", "ubx-update")
		var ev struct {
			Type string
			ID   string
			Data stats
		}
		if err := json.Unmarshal([]byte(res.stdout), &ev); err != nil || ev.Type != "stats" || ev.ID != "ubx-update" {
			t.Fatalf("events --stats = %q (%v); want a stats event", res.stdout, err)
		}
		if ev.Data.Pids.Current < 1 {
			t.Errorf("events --stats: pids.current = %d; want the init counted", ev.Data.Pids.Current)
		}
		return ev.Data.Pids.Limit
	}
	if got := pids(); got != 64 {
		t.Errorf("pids limit = %d; want 64, from the spec", got)
	}
	r.ok("update", "--pids-limit", "32", "ubx-update")
	if got := pids(); got != 32 {
		t.Errorf("pids limit after update --pids-limit 32 = %d", got)
	}
	cmd := r.cmd("update", "--resources", "-", "ubx-update")
	cmd.Stdin = strings.NewReader(`{"pids": {"limit": 16}}`)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("update --resources -: %v\n%s", err, out)
	}
	if got := pids(); got != 16 {
		t.Errorf("pids limit after update --resources = %d", got)
	}
}
