//go:build linux

package kit_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/kit/kittest"
)

func TestMain(m *testing.M) { kittest.Main(m, nil) }

// recorder is a lesson whose steps record that they ran.
type recorder struct {
	ran      []int
	cleaned  []int
	failAt   int
	cancelAt int
	cancel   context.CancelFunc
}

func (r *recorder) lesson(needs ...kit.Need) *kit.Lesson {
	l := &kit.Lesson{Name: "00-test", Title: "00 · test", Needs: needs}
	for i := 1; i <= 4; i++ {
		st := kit.Step{Title: fmt.Sprintf("step %d", i), Run: func(s *kit.Session) error {
			r.ran = append(r.ran, i)
			s.Cleanup(func() error { r.cleaned = append(r.cleaned, i); return nil })
			s.Cmd("echo %d", i)
			if i == r.cancelAt {
				r.cancel()
			}
			if i == r.failAt {
				return errors.New("boom")
			}
			return nil
		}}
		if i == 3 {
			st.Requires = []int{1}
		}
		l.Steps = append(l.Steps, st)
	}
	return l
}

func runLesson(t *testing.T, l *kit.Lesson, stdin io.Reader, args ...string) (string, string, error) {
	t.Helper()
	var out, errs bytes.Buffer
	err := kit.Run(context.Background(), l, append([]string{l.Name}, args...), stdin, &out, &errs)
	return out.String(), errs.String(), err
}

func TestRunSelectsSteps(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "[1 2 3 4]"},
		{[]string{"--step", "2"}, "[1 2]"},
		{[]string{"--only", "2"}, "[2]"},
		{[]string{"--only", "3"}, "[1 3]"}, // step 3 builds on step 1
		{[]string{"--list"}, "[]"},
	} {
		r := &recorder{}
		out, _, err := runLesson(t, r.lesson(), nil, c.args...)
		if err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		if got := fmt.Sprint(r.ran); got != c.want && !(c.want == "[]" && r.ran == nil) {
			t.Errorf("%v ran steps %s; want %s", c.args, got, c.want)
		}
		if c.args == nil && !strings.Contains(out, "Step 4/4 · step 4\n") {
			t.Errorf("no header for step 4:\n%s", out)
		}
	}
}

func TestRunRejectsBadStep(t *testing.T) {
	r := &recorder{}
	_, _, err := runLesson(t, r.lesson(), nil, "--step", "9")
	if err == nil || !strings.Contains(err.Error(), "steps 1 to 4") {
		t.Errorf("--step 9: err = %v; want one naming the range", err)
	}
	if len(r.ran) != 0 {
		t.Errorf("steps %v ran", r.ran)
	}
}

func TestRunCleansUpInReverseOnFailure(t *testing.T) {
	r := &recorder{failAt: 3}
	_, _, err := runLesson(t, r.lesson(), nil)
	if err == nil || !strings.Contains(err.Error(), "step 3 (step 3): boom") {
		t.Fatalf("err = %v; want step 3's error, named", err)
	}
	if got := fmt.Sprint(r.cleaned); got != "[3 2 1]" {
		t.Errorf("cleanups ran as %s; want [3 2 1]", got)
	}
}

func TestRunStopsAndCleansUpWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r := &recorder{cancelAt: 2, cancel: cancel}
	l := r.lesson()
	err := kit.Run(ctx, l, []string{l.Name}, nil, io.Discard, io.Discard)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v; want context.Canceled", err)
	}
	if got := fmt.Sprint(r.ran); got != "[1 2]" {
		t.Errorf("ran %s; want [1 2] (nothing after the cancel)", got)
	}
	if got := fmt.Sprint(r.cleaned); got != "[2 1]" {
		t.Errorf("cleaned %s; want [2 1]", got)
	}
}

func TestPreflightTable(t *testing.T) {
	missing := kit.Need{Name: "a unicorn", Check: func() error { return errors.New("none in the stable") }, Fix: "run it with {run}"}
	r := &recorder{}
	l := r.lesson()
	l.Steps[1].Needs = []kit.Need{missing}
	l.Steps[3].Needs = []kit.Need{missing}
	_, errs, err := runLesson(t, l, nil)
	if !kit.IsPreflight(err) {
		t.Fatalf("err = %v; want a preflight error", err)
	}
	var pe *kit.PreflightError
	if errors.As(err, &pe); pe.ExitCode() != 2 {
		t.Errorf("exit code = %d; want 2", pe.ExitCode())
	}
	for _, want := range []string{"a unicorn", "none in the stable", "run it with `go run -exec sudo ./lessons/00-test`",
		"Steps that run here as you are: 1, 3"} {
		if !strings.Contains(errs, want) {
			t.Errorf("preflight output lacks %q:\n%s", want, errs)
		}
	}
	if strings.Count(errs, "a unicorn") != 1 {
		t.Errorf("a need shared by two steps is listed twice:\n%s", errs)
	}
	if len(r.ran) != 0 {
		t.Errorf("steps %v ran despite the missing need", r.ran)
	}
	// The steps that need nothing missing still run alone.
	if _, _, err := runLesson(t, l, nil, "--only", "3"); err != nil || fmt.Sprint(r.ran) != "[1 3]" {
		t.Errorf("--only 3: err %v, ran %v; want [1 3]", err, r.ran)
	}
}

func TestPauseBetweenSteps(t *testing.T) {
	r := &recorder{}
	out, _, err := runLesson(t, r.lesson(), strings.NewReader("\n\n\n"), "--pause")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out, "[Enter] for step"); n != 3 {
		t.Errorf("%d pauses; want 3:\n%s", n, out)
	}
	// At end of input there is nobody to press Enter: no hang.
	r = &recorder{}
	if _, _, err := runLesson(t, r.lesson(), strings.NewReader(""), "--pause"); err != nil || len(r.ran) != 4 {
		t.Errorf("with empty input: err %v, ran %v; want all four steps", err, r.ran)
	}
}

// Stages for the re-exec tests, run by this test binary as its own child.
func init() {
	kit.RegisterInit("test-echo", func(c *kit.Conn) error {
		var s string
		if err := c.Recv(&s); err != nil {
			return err
		}
		return c.Send(strings.ToUpper(s) + " " + strings.Join(c.Args, ","))
	})
	kit.RegisterInit("test-fail", func(c *kit.Conn) error { return errors.New("mount /x: no such file or directory") })
	kit.RegisterInit("test-crash", func(c *kit.Conn) error { os.Exit(3); return nil })
	kit.RegisterInit("test-hang", func(c *kit.Conn) error { time.Sleep(time.Hour); return nil })
	kit.RegisterInit("test-parent", func(c *kit.Conn) error {
		child, err := kit.NewChild("test-hang")
		if err != nil {
			return err
		}
		if err := child.Start(context.Background()); err != nil {
			return err
		}
		if err := c.Send(child.Pid()); err != nil {
			return err
		}
		time.Sleep(time.Hour)
		return nil
	})
}

func startChild(t *testing.T, ctx context.Context, stage string, args ...string) *kit.Child {
	t.Helper()
	c, err := kit.NewChild(stage, args...)
	if err != nil {
		t.Fatal(err)
	}
	c.Cmd.Stderr = nil
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestChildTalksBack(t *testing.T) {
	c := startChild(t, context.Background(), "test-echo", "a", "b")
	if err := c.Send("hello"); err != nil {
		t.Fatal(err)
	}
	var got string
	if err := c.Recv(&got); err != nil {
		t.Fatal(err)
	}
	if got != "HELLO a,b" {
		t.Errorf("child answered %q; want %q", got, "HELLO a,b")
	}
	if err := c.Wait(); err != nil {
		t.Errorf("Wait = %v; want nil", err)
	}
}

func TestChildErrorArrivesInItsOwnWords(t *testing.T) {
	c := startChild(t, context.Background(), "test-fail")
	err := c.Recv(nil)
	if err == nil || !strings.Contains(err.Error(), "test-fail child: mount /x: no such file or directory") {
		t.Errorf("Recv = %v; want the child's error", err)
	}
	if err := c.Wait(); err == nil || !strings.Contains(err.Error(), "mount /x") {
		t.Errorf("Wait = %v; want the child's error", err)
	}
}

func TestChildCrashIsReported(t *testing.T) {
	c := startChild(t, context.Background(), "test-crash")
	err := c.Recv(nil)
	if err == nil || !strings.Contains(err.Error(), "ended without answering: exit status 3") {
		t.Errorf("Recv = %v; want how the child ended", err)
	}
}

func TestChildStageIsVisible(t *testing.T) {
	c := startChild(t, context.Background(), "test-hang")
	pid := strconv.Itoa(c.Pid())
	var cmdline, comm []byte
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		cmdline, _ = os.ReadFile("/proc/" + pid + "/cmdline")
		comm, _ = os.ReadFile("/proc/" + pid + "/comm")
		if string(comm) == "test-hang\n" {
			break
		}
	}
	if !strings.Contains(string(cmdline), "\x00init\x00test-hang") {
		t.Errorf("ps shows %q; want \"<program> init test-hang\"", strings.ReplaceAll(string(cmdline), "\x00", " "))
	}
	if string(comm) != "test-hang\n" {
		t.Errorf("comm = %q; want the stage", comm)
	}
}

func TestCancelKillsChild(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	c := startChild(t, ctx, "test-hang")
	cancel()
	err := c.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Errorf("Wait after cancel = %v; want killed", err)
	}
}

// TestChildDiesWithParent: a grandchild gets SIGKILL when its parent dies
// (Pdeathsig), so a lesson killed hard leaves no process behind.
func TestChildDiesWithParent(t *testing.T) {
	parent := startChild(t, context.Background(), "test-parent")
	var grandchild int
	if err := parent.Recv(&grandchild); err != nil {
		t.Fatal(err)
	}
	if err := parent.Cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	parent.Wait()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", grandchild))
		if err != nil || strings.Contains(string(stat), ") Z ") {
			return // gone, or dead and waiting for its new parent to reap it
		}
		if time.Now().After(deadline) {
			t.Fatalf("grandchild %d still alive after its parent was killed", grandchild)
		}
	}
}

func TestNeedRootSaysHow(t *testing.T) {
	err := kit.NeedRoot.Check()
	if (os.Geteuid() == 0) != (err == nil) {
		t.Errorf("NeedRoot.Check() = %v as uid %d", err, os.Geteuid())
	}
	if !strings.Contains(kit.NeedRoot.Fix, "{run}") {
		t.Errorf("NeedRoot.Fix = %q; want the command to run the lesson as root", kit.NeedRoot.Fix)
	}
}

func TestPrivUserNSProbe(t *testing.T) {
	kittest.Privileged(t)
	if err := kit.NeedUserNS.Check(); err != nil {
		t.Errorf("root may always create a user namespace, but the probe says: %v", err)
	}
}

// TestPrivOverlayProbe checks both ways NeedOverlay can answer yes: the
// /proc/filesystems line, and the trial mount that stands in for it where
// overlay is a module not loaded yet. The leak check proves the trial mount
// is gone afterwards.
func TestPrivOverlayProbe(t *testing.T) {
	kittest.Privileged(t, kit.NeedOverlay)
	if err := kit.NeedOverlay.Check(); err != nil {
		t.Errorf("NeedOverlay.Check() = %v; want nil", err)
	}
	if err := kit.TrialOverlayMount(); err != nil {
		t.Errorf("trial overlay mount: %v", err)
	}
}

// chrootRun runs a shell command inside root with chroot(2).
func chrootRun(t *testing.T, root, script string) string {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root}
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/bin:/usr/bin:/sbin:/usr/sbin"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("chroot %s sh -c %q: %v\n%s", root, script, err, out)
	}
	return string(out)
}

// testRootfs builds a root filesystem from source with a cache of its own,
// so the test really builds one, and checks a shell runs in it under chroot.
func testRootfs(t *testing.T, source kit.RootfsSource) {
	cache := t.TempDir()
	dst := filepath.Join(t.TempDir(), "rootfs")
	info, err := kit.Rootfs(context.Background(), dst, kit.RootfsOptions{Source: source, CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	if info.Source != source {
		t.Errorf("source = %q; want %q", info.Source, source)
	}
	for _, p := range []string{"sh", "ls", "cat", "mkdir"} {
		if _, err := os.Lstat(filepath.Join(dst, "bin", p)); err != nil {
			t.Errorf("no /bin/%s: %v", p, err)
		}
	}
	out := chrootRun(t, dst, "echo hello from $(cat /etc/passwd | head -n 1 | cut -d: -f1); ls /bin | grep -c . >/dev/null && mkdir /tmp/x && ls -d /tmp/x")
	if out != "hello from root\n/tmp/x\n" {
		t.Errorf("shell in the chroot printed %q", out)
	}
	// The copy is private: writing into it leaves the cache alone.
	entries, _ := os.ReadDir(cache)
	if len(entries) != 1 {
		t.Fatalf("cache holds %d entries; want 1", len(entries))
	}
	if _, err := os.Stat(filepath.Join(cache, entries[0].Name(), "tmp", "x")); !os.IsNotExist(err) {
		t.Errorf("a write in the copy reached the cache (err %v)", err)
	}
	// A second root filesystem comes from the cache.
	dst2 := filepath.Join(t.TempDir(), "rootfs2")
	if _, err := kit.Rootfs(context.Background(), dst2, kit.RootfsOptions{Source: source, CacheDir: cache}); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadDir(cache); len(again) != 1 {
		t.Errorf("second build added to the cache: %d entries", len(again))
	}
}

func TestPrivRootfsFromBusybox(t *testing.T) {
	kittest.Privileged(t, kit.NeedStaticBusybox)
	testRootfs(t, kit.SourceBusybox)
}

func TestPrivRootfsFromHostBinaries(t *testing.T) {
	kittest.Privileged(t)
	testRootfs(t, kit.SourceHost)
}

func TestRootfsRefusesNonEmptyDestination(t *testing.T) {
	dst := t.TempDir()
	if err := os.WriteFile(filepath.Join(dst, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := kit.Rootfs(context.Background(), dst, kit.RootfsOptions{Source: kit.SourceHost, CacheDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("Rootfs into a non-empty directory: %v; want a refusal", err)
	}
}
