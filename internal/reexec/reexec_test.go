//go:build linux

package reexec_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/kit/kittest"
	"github.com/unboxlab/unbox/internal/procfs"
	"github.com/unboxlab/unbox/internal/reexec"
)

func TestMain(m *testing.M) { kittest.Main(m, nil) }

// Stages for these tests, run by this test binary as its own child.
func init() {
	reexec.Register("test-echo", func(c *reexec.Conn) error {
		var s string
		if err := c.Recv(&s); err != nil {
			return err
		}
		return c.Send(strings.ToUpper(s) + " " + strings.Join(c.Args, ","))
	})
	reexec.Register("test-fail", func(c *reexec.Conn) error { return errors.New("mount /x: no such file or directory") })
	reexec.Register("test-crash", func(c *reexec.Conn) error { os.Exit(3); return nil })
	reexec.Register("test-hang", func(c *reexec.Conn) error { time.Sleep(time.Hour); return nil })
	reexec.Register("test-parent", func(c *reexec.Conn) error {
		child := reexec.NewChild("test-hang")
		if err := child.Start(context.Background()); err != nil {
			return err
		}
		if err := c.Send(child.Pid()); err != nil {
			return err
		}
		time.Sleep(time.Hour)
		return nil
	})
	// test-fds reports the descriptors it holds and its environment.
	reexec.Register("test-fds", func(c *reexec.Conn) error {
		return c.Send(struct {
			FDs []string
			Env []string
		}{openFDs(), os.Environ()})
	})
	// test-exec opens a descriptor without close-on-exec, as careless code
	// would, and execs a shell that lists what it inherited.
	reexec.Register("test-exec", func(c *reexec.Conn) error {
		if _, err := unix.Open("/dev/null", unix.O_RDONLY, 0); err != nil {
			return err
		}
		return c.Exec([]string{"/bin/sh", "-c", "ls /proc/self/fd; env"}, []string{"PATH=/usr/bin:/bin"})
	})
	// test-exec-outside puts its working directory outside its root, as
	// CVE-2024-21626's leaked descriptor did, and tries to exec.
	reexec.Register("test-exec-outside", func(c *reexec.Conn) error {
		dir := c.Args[0]
		if err := unix.Chdir(dir); err != nil {
			return err
		}
		if err := unix.Chroot(dir + "/inner"); err != nil {
			return err
		}
		return c.Exec([]string{"/bin/true"}, nil)
	})
}

// openFDs lists this process's descriptors, less the one reading the list.
func openFDs() []string {
	f, err := os.Open("/proc/self/fd")
	if err != nil {
		return []string{err.Error()}
	}
	defer f.Close()
	names, _ := f.Readdirnames(-1)
	self := strconv.Itoa(int(f.Fd()))
	var out []string
	for _, n := range names {
		if n != self {
			out = append(out, n)
		}
	}
	slices.SortFunc(out, func(a, b string) int { x, _ := strconv.Atoi(a); y, _ := strconv.Atoi(b); return x - y })
	return out
}

func startChild(t *testing.T, ctx context.Context, stage string, args ...string) *reexec.Child {
	t.Helper()
	c := reexec.NewChild(stage, args...)
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

func TestUnknownStageIsReported(t *testing.T) {
	c := startChild(t, context.Background(), "no-such-stage")
	if err := c.Wait(); err == nil || !strings.Contains(err.Error(), `no init stage "no-such-stage"`) {
		t.Errorf("Wait = %v; want the unknown stage named", err)
	}
}

func TestChildStageIsVisible(t *testing.T) {
	c := startChild(t, context.Background(), "test-hang")
	pid := strconv.Itoa(c.Pid())
	var cmdline []byte
	var st procfs.Stat
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		cmdline, _ = os.ReadFile("/proc/" + pid + "/cmdline")
		if st, _ = procfs.ReadStat(pid); st.Comm == "test-hang" {
			break
		}
	}
	if !strings.Contains(string(cmdline), "\x00init\x00test-hang") {
		t.Errorf("ps shows %q; want \"<program> init test-hang\"", strings.ReplaceAll(string(cmdline), "\x00", " "))
	}
	if st.Comm != "test-hang" {
		t.Errorf("comm = %q; want the stage", st.Comm)
	}
}

func TestCancelKillsChild(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	c := startChild(t, ctx, "test-hang")
	cancel()
	if sig := killedBy(c.Wait()); sig != syscall.SIGKILL {
		t.Errorf("Wait after cancel: killed by %v; want SIGKILL", sig)
	}
}

func killedBy(err error) syscall.Signal {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws := ee.Sys().(syscall.WaitStatus); ws.Signaled() {
			return ws.Signal()
		}
	}
	return 0
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
		st, err := procfs.ReadStat(strconv.Itoa(grandchild))
		if err != nil || st.State == "Z" {
			return // gone, or dead and waiting for its new parent to reap it
		}
		if time.Now().After(deadline) {
			t.Fatalf("grandchild %d still alive after its parent was killed", grandchild)
		}
	}
}

// TestPdeathsigFollowsTheThread shows the first caveat of the package
// documentation: Pdeathsig fires when the thread that started the child
// ends. A goroutine that locked its thread and returns takes the thread, and
// the child, with it; an unlocked goroutine that returns does not.
func TestPdeathsigFollowsTheThread(t *testing.T) {
	start := func(lock bool) *reexec.Child {
		done := make(chan *reexec.Child)
		go func() {
			if lock {
				lockOtherThanMain(t) // never unlocked: the thread ends with this goroutine
			}
			c := reexec.NewChild("test-echo")
			c.Cmd.Stderr = nil
			if err := c.Start(context.Background()); err != nil {
				t.Error(err)
				c = nil
			}
			done <- c
		}()
		c := <-done
		if c == nil {
			t.FailNow()
		}
		t.Cleanup(func() { c.Close() })
		return c
	}

	locked := start(true)
	waited := make(chan error, 1)
	go func() { waited <- locked.Wait() }()
	select {
	case err := <-waited:
		if sig := killedBy(err); sig != syscall.SIGKILL {
			t.Errorf("child started from a locked thread that ended: killed by %v; want SIGKILL", sig)
		}
	case <-time.After(30 * time.Second):
		t.Errorf("child started from a locked thread that ended is still alive after 30s; want it killed")
	}

	unlocked := start(false)
	if err := unlocked.Send("still here"); err != nil {
		t.Fatal(err)
	}
	var got string
	if err := unlocked.Recv(&got); err != nil || got != "STILL HERE " {
		t.Errorf("child started from an unlocked goroutine that ended: answered %q, %v; want it alive", got, err)
	}
}

// lockOtherThanMain locks the calling goroutine to a thread that is not the
// main one: the runtime never ends the main thread (it parks it instead),
// so Pdeathsig would never fire from there.
func lockOtherThanMain(t *testing.T) {
	for range 1000 {
		runtime.LockOSThread()
		if unix.Gettid() != unix.Getpid() {
			return
		}
		runtime.UnlockOSThread()
		time.Sleep(time.Millisecond)
	}
	t.Error("the goroutine stayed on the main thread")
}

// TestChildHoldsOnlyItsSocket: the child inherits stdio and fd 3, and fd 3
// is close-on-exec in it; the variable that named it is gone.
func TestChildHoldsOnlyItsSocket(t *testing.T) {
	c := startChild(t, context.Background(), "test-fds")
	var r struct{ FDs, Env []string }
	if err := c.Recv(&r); err != nil {
		t.Fatal(err)
	}
	// Go's runtime may hold a descriptor or two of its own (epoll, a
	// pipe), all close-on-exec; what matters is that 3 is ours and that
	// nothing else was inherited, which TestExecLeaksNoDescriptor proves.
	if !slices.Contains(r.FDs, "3") {
		t.Errorf("child's descriptors = %v; want 3, the socket", r.FDs)
	}
	for _, kv := range r.Env {
		if strings.HasPrefix(kv, "_UNBOX_INIT_FD=") {
			t.Errorf("child's environment still has %s; want it removed once read", kv)
		}
	}
}

// TestExecLeaksNoDescriptor: a program the child execs inherits stdio and
// nothing else, even a descriptor the child opened without O_CLOEXEC.
func TestExecLeaksNoDescriptor(t *testing.T) {
	c := reexec.NewChild("test-exec")
	var out bytes.Buffer
	c.Cmd.Stdout = &out
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Wait(); err != nil {
		t.Fatal(err)
	}
	var fds []string
	for _, l := range strings.Fields(out.String()) {
		if _, err := strconv.Atoi(l); err == nil {
			fds = append(fds, l)
		}
	}
	// ls holds one more: the directory it is reading, 3.
	if want := []string{"0", "1", "2", "3"}; !slices.Equal(fds, want) {
		t.Errorf("ls /proc/self/fd in the exec'd program = %v; want %v (stdio, and ls's own)", fds, want)
	}
	if strings.Contains(out.String(), "_UNBOX_INIT_FD") {
		t.Errorf("the exec'd program's environment names the socket:\n%s", out.String())
	}
}

// TestPrivExecRefusesCwdOutsideRoot: with its working directory outside its
// root, the child reports an error instead of exec'ing.
func TestPrivExecRefusesCwdOutsideRoot(t *testing.T) {
	kittest.Privileged(t)
	dir := t.TempDir()
	if err := os.Mkdir(dir+"/inner", 0o755); err != nil {
		t.Fatal(err)
	}
	c := startChild(t, context.Background(), "test-exec-outside", dir)
	if err := c.Wait(); err == nil || !strings.Contains(err.Error(), "outside the root (CVE-2024-21626)") {
		t.Errorf("Wait = %v; want exec refused", err)
	}
}

// TestNoDescriptorBeforeStart: a Child never started, or whose start
// failed, leaves no descriptor open in the parent.
func TestNoDescriptorBeforeStart(t *testing.T) {
	before := openFDs()
	c := reexec.NewChild("test-echo")
	c.Close()
	bad := reexec.NewChild("test-echo")
	bad.Cmd.Path = "/nonexistent/unbox"
	if err := bad.Start(context.Background()); err == nil {
		t.Fatal("Start of a missing program succeeded")
	}
	bad.Close()
	if after := openFDs(); !slices.Equal(before, after) {
		t.Errorf("descriptors before %v, after an unstarted and a failed child %v; want the same", before, after)
	}
}

func TestCloneFlagNames(t *testing.T) {
	for _, c := range []struct {
		flags uintptr
		want  string
	}{
		{unix.CLONE_NEWUTS | unix.CLONE_NEWPID, "CLONE_NEWUTS|CLONE_NEWPID"},
		{0, "0"},
		{unix.CLONE_NEWNS | 0x1, "CLONE_NEWNS|0x1"},
	} {
		if got := reexec.CloneFlagNames(c.flags); got != c.want {
			t.Errorf("CloneFlagNames(%#x) = %q; want %q", c.flags, got, c.want)
		}
	}
}

func Example() {
	// In a real program the stage is registered in an init function and
	// reexec.Init() is main's first call.
	c := reexec.NewChild("test-echo")
	c.Cmd.SysProcAttr.Cloneflags = 0 // e.g. unix.CLONE_NEWUTS | unix.CLONE_NEWPID
	if err := c.Start(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	_ = c.Send("hi")
	var answer string
	_ = c.Recv(&answer)
	fmt.Println(answer)
	// Output: HI
}
