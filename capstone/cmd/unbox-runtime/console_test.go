//go:build linux

package main

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// consoleSocket listens where --console-socket points and hands over the
// terminal master it receives, as conmon and containerd's shim do.
func consoleSocket(t *testing.T) (path string, master <-chan *os.File) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "console.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	ch := make(chan *os.File, 1)
	go func() {
		defer close(ch)
		c, err := l.AcceptUnix()
		if err != nil {
			return
		}
		defer c.Close()
		buf, oob := make([]byte, 64), make([]byte, unix.CmsgSpace(4))
		_, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
		if err != nil {
			return
		}
		msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
		if len(msgs) == 1 {
			if fds, _ := unix.ParseUnixRights(&msgs[0]); len(fds) == 1 {
				ch <- os.NewFile(uintptr(fds[0]), "console")
			}
		}
	}()
	return path, ch
}

// readConsole reads the terminal until the container's side is closed.
func readConsole(t *testing.T, master *os.File) string {
	t.Helper()
	if master == nil {
		t.Fatal("no terminal master arrived on the console socket")
	}
	defer master.Close()
	b, _ := io.ReadAll(master) // EIO once the last slave is closed
	return strings.ReplaceAll(string(b), "\r\n", "\n")
}

// TestPrivTerminal: with process.terminal, the process gets a terminal of
// the container's own devpts as its stdio and controlling terminal, sized
// as consoleSize says, and its master goes over --console-socket.
func TestPrivTerminal(t *testing.T) {
	privileged(t)
	r := newRT(t)
	b := bundle(t, func(s *specs.Spec) {
		s.Process.Terminal = true
		s.Process.ConsoleSize = &specs.Box{Height: 30, Width: 100}
	}, "sh", "-c", "test -t 0 && echo is-a-tty; stty size; tty; ls -l /dev/console | cut -c1")
	sock, master := consoleSocket(t)
	st := r.create("ubx-tty", b, "--console-socket", sock)
	m := <-master
	r.ok("start", "ubx-tty")
	if out := readConsole(t, m); !strings.Contains(out, "is-a-tty\n30 100\n/dev/pts/0\nc") {
		t.Errorf("on the terminal: %q; want a tty of 30x100 at /dev/pts/0, and /dev/console a character device", out)
	}
	r.remove("ubx-tty")
	reap(st.Pid)

	if res := r.run("create", "--bundle", b, "ubx-tty-nosock"); res.code != 1 || !strings.Contains(res.msg(), "--console-socket") {
		t.Errorf("create of a terminal container without --console-socket = %s; want it refused", res)
	}

	// run with a terminal and no socket holds the master itself.
	res := r.run("run", "--bundle", b, "ubx-tty-run")
	if res.code != 0 || !strings.Contains(strings.ReplaceAll(res.stdout, "\r\n", "\n"), "is-a-tty\n30 100\n") {
		t.Errorf("run of a terminal container: %s; want the terminal's output passed through", res)
	}
}

// TestPrivExecTerminal: exec -t gives the exec'd process a terminal too.
func TestPrivExecTerminal(t *testing.T) {
	privileged(t)
	r := newRT(t)
	r.create("ubx-exec-tty", bundle(t, nil, "sleep", "300"))
	r.ok("start", "ubx-exec-tty")
	sock, master := consoleSocket(t)
	cmd := r.cmd("exec", "-t", "--console-socket", sock, "ubx-exec-tty", "sh", "-c", "test -t 1 && echo exec-has-a-tty; tty")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	out := readConsole(t, <-master)
	cmd.Wait()
	if !strings.Contains(out, "exec-has-a-tty\n/dev/pts/") {
		t.Errorf("exec -t: %q; want a terminal", out)
	}
}
