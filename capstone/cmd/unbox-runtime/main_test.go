//go:build linux

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/capstone/container"
	"github.com/unboxlab/unbox/capstone/specconv"
	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/kit/kittest"
	"github.com/unboxlab/unbox/internal/reexec"
	"github.com/unboxlab/unbox/internal/rootfs"
)

// The test binary is unbox-runtime too: run through a symlink named
// unbox-runtime (runtimeBin), it is the CLI, as podman, containerd's shim
// and the differential tests call it; and its re-exec'd children are the
// containers' inits. So the tests need no separate build, and run in the
// VM lane, which has no Go toolchain.
func TestMain(m *testing.M) {
	reexec.Init()
	if filepath.Base(os.Args[0]) == "unbox-runtime" {
		os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr))
	}
	// Like conmon and containerd's shim, the tests are their
	// containers' subreaper: an init left by create becomes our child,
	// and the tests reap it after delete (reapAfter).
	if os.Geteuid() == 0 {
		_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	}
	kittest.Main(m, nil)
}

// runtimeBin is this test binary under the name unbox-runtime: a symlink
// in the test's temporary directory.
func runtimeBin(t testing.TB) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "unbox-runtime")
	if err := os.Symlink(self, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// privileged starts a test that makes containers: root, the namespaces,
// the leak check, and the cgroup v2 root's controllers put back as they
// were (a runtime enables them where nobody has, and leaves them on).
func privileged(t *testing.T, more ...string) {
	t.Helper()
	kittest.Privileged(t, kit.NeedNamespaces(append([]string{"mnt", "pid", "uts", "ipc", "net"}, more...)...)...)
	// Runs after the test's own cleanups, before the leak check.
	t.Cleanup(reapOrphans)
	for _, f := range []string{"/sys/fs/cgroup/cgroup.subtree_control", "/sys/fs/cgroup/unified/cgroup.subtree_control"} {
		before, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		t.Cleanup(func() { restoreControllers(f, string(before)) })
	}
}

func restoreControllers(file, before string) {
	now, _ := os.ReadFile(file)
	keep := strings.Fields(before)
	for _, c := range strings.Fields(string(now)) {
		if !contains(keep, c) {
			_ = os.WriteFile(file, []byte("-"+c), 0)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// rootfsCopy is a private copy of the root filesystem fixture (static
// busybox) for one test, which may write to it.
func rootfsCopy(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "rootfs")
	if _, err := rootfs.Build(context.Background(), dir, rootfs.Options{}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// bundle writes a bundle: the fixture as its root (read-only, unless edit
// changes it), the example spec without a terminal, running args.
func bundle(t *testing.T, edit func(s *specs.Spec), args ...string) string {
	t.Helper()
	dir := t.TempDir()
	root := rootfsCopy(t)
	s := specconv.Example()
	s.Root.Path = root
	s.Process.Terminal = false
	s.Process.Args = args
	if edit != nil {
		edit(s)
	}
	writeSpec(t, dir, s)
	return dir
}

func writeSpec(t *testing.T, dir string, s *specs.Spec) {
	t.Helper()
	b, err := json.MarshalIndent(s, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// rt is the runtime under test, with its own state root.
type rt struct {
	t    *testing.T
	bin  string
	root string
	pids map[string]int // the inits of containers created, to reap
}

func newRT(t *testing.T) *rt {
	t.Helper()
	return &rt{t: t, bin: runtimeBin(t), root: filepath.Join(t.TempDir(), "state")}
}

// result is one command's outcome.
type result struct {
	stdout, stderr string
	code           int
}

// msg is the error the runtime printed, unquoted from runc's logfmt line
// (time="..." level=error msg="..."), or stderr as it is.
func (r result) msg() string {
	_, q, ok := strings.Cut(r.stderr, " msg=")
	if !ok {
		return r.stderr
	}
	if m, err := strconv.Unquote(strings.TrimSpace(q)); err == nil {
		return m
	}
	return r.stderr
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
}

// cmd is the runtime command, not started.
func (r *rt) cmd(args ...string) *exec.Cmd {
	cmd := exec.Command(r.bin, append([]string{"--root", r.root}, args...)...)
	return cmd
}

// run runs the runtime to its end (two minutes at most: the VM lane is
// slow) and returns what it printed and its status. Its output goes to
// files, not pipes: a container's init inherits create's stdio and keeps
// it open, and a pipe would never see end-of-file.
func (r *rt) run(args ...string) result {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, r.bin, append([]string{"--root", r.root}, args...)...)
	out, errs := tempFile(r.t), tempFile(r.t)
	cmd.Stdout, cmd.Stderr = out, errs
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		r.t.Fatalf("unbox-runtime %v: %v", args, err)
	}
	return result{readBack(r.t, out), readBack(r.t, errs), cmd.ProcessState.ExitCode()}
}

func tempFile(t testing.TB) *os.File {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func readBack(t testing.TB, f *os.File) string {
	t.Helper()
	b, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// ok runs the runtime and fails the test unless it exits 0.
func (r *rt) ok(args ...string) result {
	r.t.Helper()
	res := r.run(args...)
	if res.code != 0 {
		r.t.Fatalf("unbox-runtime %s: %s", strings.Join(args, " "), res)
	}
	return res
}

// create creates a container and registers its removal (delete --force,
// then the init reaped: the test process is its subreaper).
func (r *rt) create(id, bundle string, more ...string) container.State {
	r.t.Helper()
	r.t.Cleanup(func() { r.remove(id) })
	r.ok(append(append([]string{"create", "--bundle", bundle}, more...), id)...)
	st := r.state(id)
	if r.pids == nil {
		r.pids = map[string]int{}
	}
	r.pids[id] = st.Pid
	return st
}

// remove deletes the container, if it is there, and reaps its init.
func (r *rt) remove(id string) {
	r.run("delete", "--force", id)
	if pid := r.pids[id]; pid > 0 {
		reap(pid)
	}
}

// reapOrphans reaps the inits that were left to us as subreaper by a
// runtime killed halfway (a test of that), once they have ended: the
// subreaper's duty, as conmon's. By the time it runs, the test's own
// commands have all been waited for.
func reapOrphans() {
	deadline := time.Now().Add(3 * time.Second)
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		switch {
		case errors.Is(err, unix.ECHILD):
			return
		case pid > 0:
			continue
		case time.Now().After(deadline):
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// settle waits until the container's cgroup holds only its init, then
// reaps the processes that were left to us and have ended (an exec
// --detach's process, say). A subreaper must reap them: until then, a PID
// namespace's dying init waits for them (pid_namespaces(7)), and delete
// waits for the init. Call it only when no command of the test runs.
func (r *rt) settle(id string) {
	r.t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		var pids []int
		if err := json.Unmarshal([]byte(r.ok("ps", "--format", "json", id).stdout), &pids); err == nil && len(pids) <= 1 {
			break
		}
	}
	for {
		var ws unix.WaitStatus
		if pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil); pid <= 0 || err != nil {
			return
		}
	}
}

// reap waits for pid, a child of ours, to end; no error if it is not.
func reap(pid int) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var ws unix.WaitStatus
		got, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil)
		if got == pid || errors.Is(err, unix.ECHILD) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (r *rt) state(id string) container.State {
	r.t.Helper()
	st, ok := r.stateIf(id)
	if !ok {
		r.t.Fatalf("state %s: container does not exist", id)
	}
	return st
}

func (r *rt) stateIf(id string) (container.State, bool) {
	r.t.Helper()
	res := r.run("state", id)
	if res.code != 0 {
		return container.State{}, false
	}
	var st container.State
	if err := json.Unmarshal([]byte(res.stdout), &st); err != nil {
		r.t.Fatalf("state %s printed %q: %v", id, res.stdout, err)
	}
	return st, true
}

// waitStatus polls until the container reaches want.
func (r *rt) waitStatus(id string, want container.Status) container.State {
	r.t.Helper()
	var st container.State
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if st = r.state(id); st.Status == want {
			return st
		}
	}
	r.t.Fatalf("container %s is %s after 30s; want %s", id, st.Status, want)
	return st
}

// stateDir is the container's state directory.
func (r *rt) stateDir(id string) string { return filepath.Join(r.root, id) }

// waitFile waits for a file to appear (a hook's or a container's sign).
func waitFile(t *testing.T, path string) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if exists(path) {
			return
		}
	}
	t.Fatalf("%s did not appear within a minute", path)
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// removeEmpty removes an empty directory (a cgroup), ignoring errors.
func removeEmpty(dir string) { _ = unix.Rmdir(dir) }

func sleepMs(n int) { time.Sleep(time.Duration(n) * time.Millisecond) }
