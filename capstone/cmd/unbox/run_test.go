//go:build linux

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPrivRunEcho: the README's first command, and nothing left after it:
// no container, no mount, no monitor, no runtime state (the leak check and
// newEnv's clean-up check the rest).
func TestPrivRunEcho(t *testing.T) {
	e := newEnv(t)
	r := e.run("run", "--rm", "unbox/busybox", "echo", "hello")
	if r.code != 0 || r.stdout != "hello\n" {
		t.Fatalf("run --rm unbox/busybox echo hello: %s; want hello, exit 0", r)
	}
	if ps := e.out("ps", "-aq"); ps != "" {
		t.Errorf("ps -a after run --rm = %q; want nothing", ps)
	}
	if ms := mountsUnder(e.root); len(ms) > 0 {
		t.Errorf("mounts left under the engine's root: %v", ms)
	}
	if imgs := e.out("images", "--format", "json"); !strings.Contains(imgs, `"Repository":"unbox/busybox"`) {
		t.Errorf("images after the first run = %s; want the built-in image, made on first use", imgs)
	}
}

// TestPrivRunExitStatus: the container's status is the CLI's, its stdout
// and stderr stay apart, and a command that cannot run is 126 or 127, as
// Docker's.
func TestPrivRunExitStatus(t *testing.T) {
	e := newEnv(t)
	r := e.run("run", "--rm", "unbox/busybox", "sh", "-c", "echo out; echo err >&2; exit 3")
	if r.code != 3 || r.stdout != "out\n" || r.stderr != "err\n" {
		t.Errorf("run sh -c 'echo out; echo err >&2; exit 3': %s; want out, err, exit 3", r)
	}
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"nosuchcommand"}, 127, "executable file not found"},
		{[]string{"/etc"}, 126, ""},
	} {
		r := e.run(append([]string{"run", "--rm", "unbox/busybox"}, tc.args...)...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.msg) {
			t.Errorf("run %v: %s; want exit %d saying %q", tc.args, r, tc.code, tc.msg)
		}
	}
}

// TestPrivRunFlags: each of run's flags shows inside the container.
func TestPrivRunFlags(t *testing.T) {
	e := newEnv(t)
	envFile := filepath.Join(t.TempDir(), "env")
	os.WriteFile(envFile, []byte("# a comment\nFROMFILE=yes\n\nOVER=file\n"), 0o644)
	for _, tc := range []struct {
		name  string
		flags []string
		cmd   string
		want  string
	}{
		{"env", []string{"-e", "A=1", "-e", "B=x,y", "--env-file", envFile, "-e", "OVER=flag"}, "echo $A $B $FROMFILE $OVER", "1 x,y yes flag"},
		{"workdir", []string{"-w", "/made/here"}, "pwd", "/made/here"},
		{"user", []string{"-u", "nobody"}, "id -u; id -g", "65534\n65534"},
		{"user numeric", []string{"-u", "1234:5678"}, "id -u; id -g", "1234\n5678"},
		{"hostname", []string{"-h", "box1"}, "hostname; cat /etc/hostname", "box1\nbox1"},
		{"read-only", []string{"--read-only"}, "touch /x 2>&1; echo $?", "touch: /x: Read-only file system\n1"},
		{"tmpfs", []string{"--tmpfs", "/scratch:size=1m,mode=1770"}, "grep ' /scratch ' /proc/mounts | cut -d' ' -f3-4 | sed 's/,inode64//'; stat -c %a /scratch",
			"tmpfs rw,nosuid,nodev,noexec,relatime,size=1024k,mode=1770\n1770"},
		{"cap-drop", []string{"--cap-drop", "ALL", "--cap-add", "NET_RAW"}, "grep CapEff /proc/self/status", "CapEff:\t0000000000002000"},
		{"default caps", nil, "grep CapEff /proc/self/status", "CapEff:\t00000000a80425fb"},
		{"entrypoint", []string{"--entrypoint", "echo"}, "from the entrypoint", "sh -c from the entrypoint"},
		{"network none", []string{"--network", "none"}, "ls /sys/class/net; cat /sys/class/net/lo/operstate", "lo\nunknown"},
		{"pids-limit", []string{"--pids-limit", "50"}, "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max", "50"},
		{"memory", []string{"-m", "64m"}, "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max", "67108864"},
		{"cpus", []string{"--cpus", "0.5"}, "cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null || cut -d' ' -f1 /sys/fs/cgroup/cpu.max", "50000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append(append([]string{"run", "--rm"}, tc.flags...), "unbox/busybox", "sh", "-c", tc.cmd)
			if tc.name == "entrypoint" {
				args = append(append([]string{"run", "--rm"}, tc.flags...), "unbox/busybox", "sh -c", tc.cmd)
			}
			r := e.run(args...)
			if r.code != 0 || strings.TrimSpace(r.stdout) != tc.want {
				t.Errorf("run %v: %s; want %q", tc.flags, r, tc.want)
			}
		})
	}
	// --privileged: every capability the kernel has, /sys writable.
	r := e.ok("run", "--rm", "--privileged", "unbox/busybox", "sh", "-c", "grep CapEff /proc/self/status; grep ' /sys ' /proc/mounts | cut -d' ' -f4 | cut -d, -f1")
	if !strings.Contains(r.stdout, "000001ff") || !strings.HasSuffix(strings.TrimSpace(r.stdout), "rw") {
		t.Errorf("run --privileged: %s; want every capability and a writable /sys", r)
	}
	// --network host: the host's interfaces.
	host, _ := os.ReadDir("/sys/class/net")
	r = e.ok("run", "--rm", "--network", "host", "unbox/busybox", "ls", "/sys/class/net")
	if len(strings.Fields(r.stdout)) != len(host) {
		t.Errorf("run --network host sees %q; want the host's %d interfaces", r.stdout, len(host))
	}
	// --label and --name show in inspect.
	e.ok("create", "--name", "labelled", "-l", "tier=web", "unbox/busybox", "true")
	if c := e.inspect("labelled"); c.Config.Labels["tier"] != "web" || c.Name != "labelled" || c.State.Status != "created" {
		t.Errorf("inspect after create -l tier=web: %+v", c)
	}
}
