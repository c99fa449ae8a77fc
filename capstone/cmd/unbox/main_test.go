//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/unboxlab/unbox/capstone/engine"
	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/kit/kittest"
	"github.com/unboxlab/unbox/internal/procfs"
	"github.com/unboxlab/unbox/internal/reexec"
)

// The test binary is unbox too: run through a symlink named unbox, it is
// the CLI, and its re-exec'd children are the monitors and the containers'
// inits. So the tests drive the engine as a person does, process by
// process, and need no build of their own (the VM lane has no Go).
func TestMain(m *testing.M) {
	if os.Args[0] == engine.InitPath {
		os.Exit(engine.Reap(os.Args[1:]))
	}
	reexec.Init()
	if filepath.Base(os.Args[0]) == "unbox" {
		os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr))
	}
	kittest.Main(m, nil)
}

// env is one test's engine: the CLI, with its root and state in the
// test's temporary directory, never the machine's /var/lib/unbox.
type env struct {
	t           *testing.T
	bin         string
	root, state string
	runtime     string // --runtime for every command, or ""
}

// newEnv starts a privileged test of the engine: root, the namespaces,
// overlayfs, the leak check, and, when it ends, every container removed
// and the engine's directories checked empty of them.
func newEnv(t *testing.T) *env {
	t.Helper()
	kittest.Privileged(t, append(kit.NeedNamespaces("mnt", "pid", "uts", "ipc", "net", "cgroup"), kit.NeedOverlay)...)
	restoreRootControllers(t)
	dir := t.TempDir()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, bin: filepath.Join(dir, "unbox"), root: filepath.Join(dir, "root"), state: filepath.Join(dir, "state")}
	if err := os.Symlink(self, e.bin); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.cleanUp)
	return e
}

// restoreRootControllers puts the cgroup v2 root's controllers back as
// they were: creating a container's cgroup enables them where nobody had.
func restoreRootControllers(t *testing.T) {
	for _, f := range []string{"/sys/fs/cgroup/cgroup.subtree_control", "/sys/fs/cgroup/unified/cgroup.subtree_control"} {
		before, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		t.Cleanup(func() {
			now, _ := os.ReadFile(f)
			for _, c := range strings.Fields(string(now)) {
				if !strings.Contains(" "+string(before)+" ", " "+c+" ") {
					_ = os.WriteFile(f, []byte("-"+c), 0)
				}
			}
		})
	}
}

// cleanUp removes every container the test left, then checks that the
// engine left nothing behind for them: no container directory, no state
// directory, no runtime state.
func (e *env) cleanUp() {
	t := e.t
	if ids := strings.Fields(e.run("ps", "-aq", "--no-trunc").stdout); len(ids) > 0 {
		e.run(append([]string{"rm", "-f", "-v"}, ids...)...)
	}
	e.run("system", "prune", "-f", "--volumes")
	for _, d := range []string{filepath.Join(e.root, "containers"), filepath.Join(e.state, "containers")} {
		if ents, _ := os.ReadDir(d); len(ents) > 0 {
			t.Errorf("left in %s after every container was removed: %v", d, names(ents))
		}
	}
	rts, _ := os.ReadDir(filepath.Join(e.state, "runtime"))
	for _, r := range rts {
		ents, _ := os.ReadDir(filepath.Join(e.state, "runtime", r.Name()))
		for _, s := range ents {
			if s.IsDir() && len(s.Name()) == 64 {
				t.Errorf("runtime %s still has state for container %s", r.Name(), s.Name())
			}
		}
	}
}

func names(ents []os.DirEntry) []string {
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// result is one command's outcome.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
}

// cmd is the CLI with args, not started.
func (e *env) cmd(args ...string) *exec.Cmd {
	if e.runtime != "" {
		args = append([]string{"--runtime", e.runtime}, args...)
	}
	cmd := exec.Command(e.bin, args...)
	cmd.Env = append(os.Environ(), "UNBOX_ROOT="+e.root, "UNBOX_STATE="+e.state, "NO_COLOR=1")
	return cmd
}

// run runs the CLI to its end (two minutes at most: the VM lane is slow).
func (e *env) run(args ...string) result { return e.runIn(nil, args...) }

// runIn is run with stdin.
func (e *env) runIn(stdin io.Reader, args ...string) result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := e.cmd(args...)
	cmd = exec.CommandContext(ctx, cmd.Path, cmd.Args[1:]...)
	cmd.Env = append(os.Environ(), "UNBOX_ROOT="+e.root, "UNBOX_STATE="+e.state, "NO_COLOR=1")
	var out, errb bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		e.t.Fatalf("unbox %v: %v", args, err)
	}
	return result{out.String(), errb.String(), cmd.ProcessState.ExitCode()}
}

// ok runs the CLI and fails the test unless it exits 0.
func (e *env) ok(args ...string) result {
	e.t.Helper()
	r := e.run(args...)
	if r.code != 0 {
		e.t.Fatalf("unbox %s: %s", strings.Join(args, " "), r)
	}
	return r
}

// out is ok's stdout, trimmed.
func (e *env) out(args ...string) string {
	e.t.Helper()
	return strings.TrimSpace(e.ok(args...).stdout)
}

// inspect reads a container's record.
func (e *env) inspect(ref string) engine.Container {
	e.t.Helper()
	var cs []engine.Container
	if err := json.Unmarshal([]byte(e.ok("inspect", "--type", "container", ref).stdout), &cs); err != nil || len(cs) != 1 {
		e.t.Fatalf("inspect %s: %v", ref, err)
	}
	return cs[0]
}

// waitStatus waits for a container to reach a status.
func (e *env) waitStatus(ref, want string) engine.Container {
	e.t.Helper()
	var c engine.Container
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c = e.inspect(ref); c.State.Status == want {
			return c
		}
	}
	e.t.Fatalf("container %s is %s after a minute; want %s", ref, c.State.Status, want)
	return c
}

// waitLog waits for the container's log to hold want.
func (e *env) waitLog(ref, want string) {
	e.t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if strings.Contains(e.run("logs", ref).stdout, want) {
			return
		}
	}
	e.t.Fatalf("the log of %s does not show %q after a minute: %s", ref, want, e.run("logs", ref))
}

// mountsUnder lists the mounts of this mount namespace under dir.
func mountsUnder(dir string) []string {
	ms, _ := procfs.ReadMountinfo("self")
	var out []string
	for _, m := range ms {
		if strings.HasPrefix(m.Point, dir) {
			out = append(out, m.Point)
		}
	}
	return out
}

func tempOut(t *testing.T) *os.File {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func readLink(t *testing.T, p string) string {
	t.Helper()
	s, err := os.Readlink(p)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
