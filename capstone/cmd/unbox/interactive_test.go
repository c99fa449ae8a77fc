//go:build linux

package main

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

// TestPrivInteractive: -i passes stdin and closes it at its end; -it
// gives the container a terminal of its size, which follows this one's,
// with the keys typed reaching it raw.
func TestPrivInteractive(t *testing.T) {
	e := newEnv(t)
	r := e.runIn(strings.NewReader("first\nsecond\n"), "run", "-i", "--rm", "unbox/busybox", "sh", "-c", "cat; echo stdin closed")
	if r.stdout != "first\nsecond\nstdin closed\n" {
		t.Errorf("run -i with piped stdin: %s", r)
	}
	cmd := e.cmd("run", "-it", "--rm", "unbox/busybox", "sh")
	master, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 30, Cols: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	expect := terminalLines(t, master)
	io.WriteString(master, "stty size; tty; echo $TERM\r")
	expect("30 100")
	expect("/dev/pts/0")
	expect("xterm")
	if err := pty.Setsize(master, &pty.Winsize{Rows: 40, Cols: 120}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // SIGWINCH, then the resize frame
	io.WriteString(master, "stty size\r")
	expect("40 120")
	io.WriteString(master, "exit 5\r")
	if code := waitExit(t, cmd); code != 5 {
		t.Errorf("run -it ... sh; exit 5: status %d; want 5", code)
	}
}

// terminalLines reads a terminal's master side line by line; expect
// waits up to a minute for a line that is want once trimmed.
func terminalLines(t *testing.T, master io.Reader) (expect func(want string)) {
	var seen strings.Builder
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(master)
		for sc.Scan() {
			seen.WriteString(sc.Text() + "\n")
			lines <- sc.Text()
		}
		close(lines)
	}()
	return func(want string) {
		t.Helper()
		deadline := time.After(time.Minute)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("the terminal closed before %q; it showed:\n%s", want, seen.String())
				}
				if strings.TrimSpace(strings.ReplaceAll(l, "\r", "")) == want {
					return
				}
			case <-deadline:
				t.Fatalf("no %q on the terminal within a minute; it showed:\n%s", want, seen.String())
			}
		}
	}
}

// waitExit waits up to a minute for cmd to end, and returns its status.
func waitExit(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		t.Fatalf("%s did not end within a minute", strings.Join(cmd.Args, " "))
	}
	return cmd.ProcessState.ExitCode()
}

// TestPrivAttachedCLIKilled: the monitor, not the CLI, owns the
// container: a run killed while attached leaves the container running,
// and start -a attaches to it again.
func TestPrivAttachedCLIKilled(t *testing.T) {
	e := newEnv(t)
	cmd := e.cmd("run", "--name", "survivor", "unbox/busybox", "sh", "-c", "echo started; sleep 1000")
	out := tempOut(t)
	cmd.Stdout = out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); !strings.Contains(readFile(t, out.Name()), "started") && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	time.Sleep(200 * time.Millisecond)
	if c := e.inspect("survivor"); c.State.Status != "running" {
		t.Errorf("after the attached CLI was killed: %s; want the container running", c.State.Status)
	}
	// create, then start -a: the output and the status come to the CLI.
	e.ok("create", "--name", "later", "unbox/busybox", "sh", "-c", "echo later; exit 4")
	r := e.run("start", "-a", "later")
	if r.code != 4 || r.stdout != "later\n" {
		t.Errorf("start -a: %s; want later, exit 4", r)
	}
	os.Remove(out.Name())
}
