//go:build linux

package main

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// staticUnbox is an unbox linked statically, which --init needs (its reaper
// runs inside the container): this test binary when it is one (the VM lane
// builds them so), or one built here with CGO_ENABLED=0, as the README
// installs it.
func staticUnbox(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if isStatic(t, self) {
		return ""
	}
	gobin := goTool()
	if gobin == "" {
		t.Fatal("this test binary is linked dynamically and there is no go command to build a static unbox")
	}
	out := filepath.Join(t.TempDir(), "unbox")
	cmd := exec.Command(gobin, "build", "-tags", "urfave_cli_no_docs", "-o", out, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build unbox: %v\n%s", err, b)
	}
	return out
}

func isStatic(t *testing.T, path string) bool {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return !slices.ContainsFunc(f.Progs, func(p *elf.Prog) bool { return p.Type == elf.PT_INTERP })
}

// TestPrivInit: with --init the container's PID 1 is the reaper and the
// command is its child; an orphan is reaped, not left a zombie; the exit
// status comes through; and `stop` ends a plain sleep with SIGTERM, which a
// sleep that is PID 1 never gets (no handler: pid_namespaces(7)), so
// without --init it takes the SIGKILL after the timeout.
func TestPrivInit(t *testing.T) {
	e := newEnv(t)
	if bin := staticUnbox(t); bin != "" {
		// This test binary is dynamic: it refuses --init, with 125 and
		// nothing made.
		if r := e.run("run", "--rm", "--init", "unbox/busybox", "true"); r.code != 125 || !strings.Contains(r.stderr, "CGO_ENABLED=0") {
			t.Errorf("run --init from a dynamically linked unbox = %s; want exit 125 naming CGO_ENABLED=0", r)
		}
		if ids := e.out("ps", "-a", "-q"); ids != "" {
			t.Errorf("after the refused --init, ps -a -q = %q; want nothing", ids)
		}
		e.bin = bin
	}
	// PID 1 is /dev/init; the shell is not PID 1. The subshell's
	// background sleep is orphaned at once, reparented to PID 1, and ends
	// within a second: by then it must be gone, not a zombie.
	out := e.out("run", "--rm", "--init", "unbox/busybox", "sh", "-c",
		`(sleep 0.2 &); sleep 1; echo "self=$$"; cat /proc/1/cmdline | tr '\0' ' '; echo; ps -o stat,comm | grep -c '^Z' || true`)
	lines := strings.Split(out, "\n")
	if len(lines) != 3 || lines[0] == "self=1" || !strings.HasPrefix(lines[1], "/dev/init -- sh -c") || lines[2] != "0" {
		t.Errorf("run --init: PID 1, the shell's PID and the zombies =\n%s\nwant the shell not PID 1, /dev/init -- sh -c … as PID 1, and 0 zombies", out)
	}
	if r := e.run("run", "--rm", "--init", "unbox/busybox", "sh", "-c", "exit 3"); r.code != 3 {
		t.Errorf("run --init sh -c 'exit 3' = %s; want exit 3", r)
	}
	if r := e.run("run", "--rm", "--init", "unbox/busybox", "sh", "-c", "kill -TERM $$"); r.code != 128+15 {
		t.Errorf("run --init, the command killed by SIGTERM = %s; want exit 143", r)
	}
	if r := e.run("run", "--rm", "--init", "unbox/busybox", "/no/such/program"); r.code != 127 {
		t.Errorf("run --init /no/such/program = %s; want exit 127", r)
	}

	// stop: SIGTERM reaches the sleep through the reaper (143); without
	// --init it does not, and the SIGKILL after 1 s ends it (137).
	for _, c := range []struct {
		name string
		init bool
		want string
	}{{"with-init", true, "143"}, {"without-init", false, "137"}} {
		args := []string{"run", "-d", "--name", c.name}
		if c.init {
			args = append(args, "--init")
		}
		e.ok(append(args, "unbox/busybox", "sh", "-c", "echo ready; exec sleep 1000")...)
		// The command runs once the reaper has its signal handlers (it
		// installs them before it starts the command): a SIGTERM before
		// that, while the Go runtime and the packages start, would end
		// the reaper itself.
		e.waitLog(c.name, "ready")
		e.ok("stop", "-t", "1", c.name)
		if got := strconv.Itoa(e.inspect(c.name).State.ExitCode); got != c.want {
			t.Errorf("stop of a sleep %s: exit code %s; want %s", c.name, got, c.want)
		}
		e.ok("rm", c.name)
	}
}
