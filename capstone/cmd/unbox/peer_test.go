//go:build linux

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/kit/kittest"
)

// The differential tests run the same scenarios through the built-in
// runtime and through runc (Debian's, which .ci/run installs), and compare
// what a container sees and what the engine reports. They are host-lane
// tests: the VM lane has no runc (internal/vmtest/exclusions.go).

var needRunc = kit.Need{
	Name:  "runc",
	Check: func() error { _, err := exec.LookPath("runc"); return err },
	Fix:   "sudo apt-get install runc (.ci/run installs it)",
}

// probe prints what a container sees, one fact a line.
const probe = `
echo "user $(id -u):$(id -g) $(id -G)"
echo "hostname $(hostname)"
echo "cwd $(pwd)"
echo "env $(env | grep -v -e ^HOME= | sort | tr '\n' ' ')"
grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs)' /proc/self/status | tr '\t' ' '
echo "mounts $(awk '{print $5}' /proc/self/mountinfo | sort | tr '\n' ' ')"
echo "root $(awk '$5 == "/" {print $6}' /proc/self/mountinfo | cut -d, -f1)"
echo "dev $(ls /dev | sort | tr '\n' ' ')"
echo "net $(ls /sys/class/net | tr '\n' ' ') $(cat /sys/class/net/lo/operstate)"
echo "memory $(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max)"
echo "pids $(cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max)"
echo "cgroup $(cat /proc/self/cgroup | grep -c :/$)"
echo "shm $(stat -c %a /dev/shm) tmp $(stat -c %a /tmp)"
echo "files $(cat /etc/hostname) $(grep -c localhost /etc/hosts)"
echo "volume $(cat /vol/f)"
echo "pid1 $(cat /proc/1/comm)"
echo "umask $(umask)"
`

// TestPrivPeerDiffRunc: the same container, flags and lifecycle under
// unbox-runtime (built in) and runc: the same facts inside, the same
// statuses outside.
func TestPrivPeerDiffRunc(t *testing.T) {
	e := newEnv(t)
	kittest.Require(t, needRunc)
	vol := t.TempDir()
	os.WriteFile(filepath.Join(vol, "f"), []byte("bound"), 0o644)
	runtimes := []string{"", "runc"}
	if bin := unboxRuntimeBinary(t); bin != "" {
		runtimes = append(runtimes, bin)
	}
	seen := map[string]string{}
	for _, rt := range runtimes {
		e.runtime = rt
		name := rt
		if name == "" {
			name = "built-in unbox-runtime"
		}
		r := e.run("run", "--rm", "-h", "probe", "-u", "1000:1000", "-w", "/tmp", "-e", "X=1", "-m", "64m", "--pids-limit", "99",
			"--cap-add", "SYS_ADMIN", "--cap-drop", "CHOWN", "-v", vol+":/vol:ro", "unbox/busybox", "sh", "-c", probe)
		if r.code != 0 {
			t.Fatalf("%s: %s", name, r)
		}
		// Lifecycle: the statuses the engine reports.
		var life []string
		e.ok("run", "-d", "--name", "life", "--restart", "on-failure:1", "unbox/busybox", "sh", "-c", "sleep 0.3; exit 3")
		c := e.waitStatus("life", "exited")
		for c.RestartCount < 1 {
			c = e.waitStatus("life", "exited")
		}
		c = e.waitStatus("life", "exited")
		life = append(life, "restarts "+itoa(c.RestartCount)+" exit "+itoa(c.State.ExitCode))
		e.ok("rm", "life")
		e.ok("run", "-d", "--name", "life", "unbox/busybox", "sleep", "1000")
		life = append(life, "exec "+strings.TrimSpace(e.ok("exec", "life", "sh", "-c", "echo in; exit 0").stdout))
		life = append(life, "exec status "+itoa(e.run("exec", "life", "sh", "-c", "exit 7").code))
		life = append(life, "exec missing "+itoa(e.run("exec", "life", "nosuchcommand").code))
		e.ok("stop", "-t", "1", "life")
		life = append(life, "stop "+e.inspect("life").State.Status+" "+itoa(e.inspect("life").State.ExitCode))
		e.ok("start", "life")
		e.ok("kill", "-s", "KILL", "life")
		life = append(life, "kill "+strings.TrimSpace(e.ok("wait", "life").stdout))
		e.ok("rm", "life")
		life = append(life, "run missing "+itoa(e.run("run", "--rm", "unbox/busybox", "nosuchcommand").code))
		seen[name] = r.stdout + strings.Join(life, "\n") + "\n"
	}
	base := seen["built-in unbox-runtime"]
	for name, got := range seen {
		if got == base {
			continue
		}
		bl, gl := strings.Split(base, "\n"), strings.Split(got, "\n")
		for i := 0; i < max(len(bl), len(gl)); i++ {
			var b, g string
			if i < len(bl) {
				b = bl[i]
			}
			if i < len(gl) {
				g = gl[i]
			}
			if b != g {
				t.Errorf("built-in unbox-runtime and %s differ:\n  built-in: %s\n  %s: %s", name, b, name, g)
			}
		}
	}
}

func itoa(n int) string { return strings.TrimSpace(strings.Repeat(" ", 0) + itoaInt(n)) }

func itoaInt(n int) string {
	if n < 0 {
		return "-" + itoaInt(-n)
	}
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoaInt(n/10) + string(rune('0'+n%10))
}

// unboxRuntimeBinary builds the unbox-runtime command, static as its
// README says, for the comparison; "" where there is no Go toolchain.
func unboxRuntimeBinary(t *testing.T) string {
	t.Helper()
	gobin := goTool()
	if gobin == "" {
		return ""
	}
	out := filepath.Join(t.TempDir(), "unbox-runtime")
	cmd := exec.Command(gobin, "build", "-tags", "urfave_cli_no_docs", "-o", out, "../unbox-runtime")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build unbox-runtime: %v\n%s", err, b)
	}
	return out
}

// goTool is the go command: in PATH, or the toolchain this test was
// built with (sudo's PATH lacks /usr/local/go/bin).
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	//lint:ignore SA1019 the toolchain that built this test is the one wanted, and under sudo no environment or PATH names it
	for _, p := range []string{filepath.Join(runtime.GOROOT(), "bin", "go"), "/usr/local/go/bin/go"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}
