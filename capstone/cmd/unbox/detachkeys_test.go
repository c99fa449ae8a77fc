//go:build linux

package main

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/creack/pty"

	"github.com/unboxlab/unbox/capstone/engine"
)

func TestParseDetachKeys(t *testing.T) {
	for in, want := range map[string][]byte{
		"ctrl-p,ctrl-q": {16, 17},
		"ctrl-@":        {0},
		"ctrl-_,x":      {31, 'x'},
		"a,b,c":         {'a', 'b', 'c'},
		"CTRL-A":        {1},
	} {
		if got, err := parseDetachKeys(in); err != nil || !slices.Equal(got, want) {
			t.Errorf("parseDetachKeys(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "ctrl-", "ctrl-1", "ab", "ctrl-p,,ctrl-q", "ctrl-pq"} {
		if got, err := parseDetachKeys(bad); err == nil {
			t.Errorf("parseDetachKeys(%q) = %v; want an error", bad, got)
		}
	}
}

// TestDetachReader: the bytes pass through, a broken-off sequence
// included; the whole sequence ends the stream with ErrDetached, however
// the reads split it.
func TestDetachReader(t *testing.T) {
	keys := []byte{16, 17}
	for _, c := range []struct {
		in, out string
		detach  bool
	}{
		{"echo hi\n", "echo hi\n", false},
		{"a\x10b\x10\x10c", "a\x10b\x10\x10c", false},
		{"ls\n\x10\x11after", "ls\n", true},
		{"\x10\x10\x11", "\x10", true},
		{"\x11\x10", "\x11\x10", false},
	} {
		for _, split := range []bool{false, true} {
			var r io.Reader = strings.NewReader(c.in)
			if split {
				r = iotest.OneByteReader(r)
			}
			var out bytes.Buffer
			_, err := io.Copy(&out, &detachReader{r: r, keys: keys})
			if got := out.String(); got != c.out || errors.Is(err, engine.ErrDetached) != c.detach {
				t.Errorf("%q (one byte a read: %v): passed %q, %v; want %q, detached %v", c.in, split, got, err, c.out, c.detach)
			}
		}
	}
}

// TestPrivDetachKeys: ctrl-p ctrl-q on run -it's terminal leaves it, with
// status 0, and the container's shell runs on: attach gets it back.
func TestPrivDetachKeys(t *testing.T) {
	e := newEnv(t)
	cmd := e.cmd("run", "-it", "--name", "dk", "unbox/busybox", "sh")
	master, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 30, Cols: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	expect := terminalLines(t, master)
	io.WriteString(master, "echo one\r")
	expect("one")
	io.WriteString(master, "\x10\x11")
	if code := waitExit(t, cmd); code != 0 {
		t.Errorf("run -it, then ctrl-p ctrl-q: status %d; want 0", code)
	}
	if c := e.inspect("dk"); c.State.Status != "running" {
		t.Fatalf("after detaching: %+v; want the container running", c.State)
	}

	cmd = e.cmd("attach", "dk")
	master2, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 30, Cols: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer master2.Close()
	expect = terminalLines(t, master2)
	io.WriteString(master2, "echo two\r")
	expect("two")
	io.WriteString(master2, "exit 7\r")
	if code := waitExit(t, cmd); code != 7 {
		t.Errorf("attach, then exit 7 in the shell: status %d; want 7", code)
	}

	if r := e.run("run", "--detach-keys", "ctrl-1", "--name", "dk2", "unbox/busybox", "true"); r.code != 125 || !strings.Contains(r.stderr, "invalid detach keys") {
		t.Errorf("run --detach-keys ctrl-1: %s\nwant 125", r)
	}
	if r := e.run("inspect", "dk2"); r.code == 0 {
		t.Errorf("a refused run made its container")
	}
	e.ok("rm", "-f", "dk")
}
