//go:build linux

package main

import (
	"os"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/unboxlab/unbox/capstone/specconv"
	"github.com/unboxlab/unbox/internal/procfs"
)

// probe prints what a process sees of itself and its container, one
// "key=value" line each, with busybox's tools. The differential tests run
// it under runc too.
const probe = `
echo "uid=$(id -u) gid=$(id -g) groups=$(id -G)"
echo "hostname=$(hostname) domainname=$(cat /proc/sys/kernel/domainname)"
grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status | sed 's/:[[:space:]]*/=/'
echo "pid=$$"
echo "nofile=$(ulimit -n)"
echo "cwd=$(pwd)"
echo "umask=$(umask)"
echo "env=$(env | grep -v -E '^(PWD|SHLVL|_)=' | sort | tr '\n' ' ')"
echo "oom=$(cat /proc/self/oom_score_adj)"
echo "fds=$(ls /proc/self/fd | tr '\n' ' ')"
echo "links=$(ls /sys/class/net | tr '\n' ' ')"
echo "forward=$(cat /proc/sys/net/ipv4/ip_forward)"
echo "keys=$(wc -c < /proc/keys)"
touch /rootfs-write 2>/dev/null && echo "rootwrite=yes" || echo "rootwrite=no"
(echo 1 > /proc/sys/kernel/domainname) 2>/dev/null && echo "procsys=rw" || echo "procsys=ro"
mkdir /tmp/probe-dir 2>/tmp/mkdir.err && echo "mkdir=ok" || echo "mkdir=$(cat /tmp/mkdir.err)"
echo "mounts=$(awk '{print $2":"$3}' /proc/self/mounts | sort | tr '\n' ' ')"
echo "dev=$(ls /dev | tr '\n' ' ')"
if [ -e /dev/fuse ]; then echo "fuse=$(stat -c '%F %t:%T %a %u' /dev/fuse)"; fi
if [ -e /sys/fs/cgroup/memory.max ]; then
  echo "memory=$(cat /sys/fs/cgroup/memory.max) pids=$(cat /sys/fs/cgroup/pids.max) cpu=$(cat /sys/fs/cgroup/cpu.max)"
else
  echo "memory=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes) pids=$(cat /sys/fs/cgroup/pids/pids.max) cpu=$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us) $(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us)"
fi
echo "cgroup=$(cat /proc/self/cgroup | grep -E '^0::|:memory:' | cut -d: -f3)"
`

// seesSpec is a container that asks for most of what the spec can say.
func seesSpec(s *specs.Spec) {
	s.Hostname, s.Domainname = "probe-host", "probe.example"
	s.Process.Args = []string{"sh", "-c", probe}
	s.Process.User = specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{10, 20}}
	umask := uint32(0o027)
	s.Process.User.Umask = &umask
	s.Process.Env = append(s.Process.Env, "PROBE=yes")
	s.Process.Cwd = "/tmp"
	caps := []string{"CAP_KILL", "CAP_NET_ADMIN", "CAP_SETUID"}
	s.Process.Capabilities = &specs.LinuxCapabilities{
		Bounding: caps, Effective: caps, Permitted: caps, Inheritable: []string{"CAP_KILL"}, Ambient: []string{"CAP_KILL"},
	}
	s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 512, Soft: 512}}
	s.Process.NoNewPrivileges = true
	oom := 200
	s.Process.OOMScoreAdj = &oom
	s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
	mem, pids, quota, period := int64(64<<20), int64(50), int64(50000), uint64(100000)
	s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &mem}
	s.Linux.Resources.Pids = &specs.LinuxPids{Limit: &pids}
	s.Linux.Resources.CPU = &specs.LinuxCPU{Quota: &quota, Period: &period}
	mode, uid := os.FileMode(0o600), uint32(1000)
	s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229, FileMode: &mode, UID: &uid}}
	// Only /tmp is writable: a tmpfs (the root is read-only).
	s.Mounts = append(s.Mounts, specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "mode=1777"}})
	eopnotsupp := uint(95)
	s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
		{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno, ErrnoRet: &eopnotsupp},
	}}
}

// facts parses the probe's output.
func facts(out string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m
}

// TestPrivContainerSees runs the probe in a container that asks for user,
// groups, capabilities, limits, sysctls, devices, seccomp, masked and
// read-only paths, and checks each from inside.
func TestPrivContainerSees(t *testing.T) {
	privileged(t)
	r := newRT(t)
	res := r.run("run", "--bundle", bundle(t, seesSpec), "ubx-sees")
	if res.code != 0 {
		t.Fatalf("run: %s", res)
	}
	f := facts(res.stdout)
	capMask := func(names ...string) string {
		var m uint64
		for _, n := range names {
			b, _ := specconv.CapMask(n)
			m |= b
		}
		return strings.Repeat("0", 16-len(strconv.FormatUint(m, 16))) + strconv.FormatUint(m, 16)
	}
	for k, want := range map[string]string{
		"uid":      "1000 gid=1000 groups=1000 10 20",
		"hostname": "probe-host domainname=probe.example",
		"CapBnd":   capMask("CAP_KILL", "CAP_NET_ADMIN", "CAP_SETUID"),
		// A program a non-root user execs keeps only its ambient
		// capabilities (capabilities(7), "Transformation of
		// capabilities during execve()").
		"CapEff":     capMask("CAP_KILL"),
		"CapPrm":     capMask("CAP_KILL"),
		"CapInh":     capMask("CAP_KILL"),
		"CapAmb":     capMask("CAP_KILL"),
		"NoNewPrivs": "1",
		"Seccomp":    "2",
		"pid":        "1",
		"nofile":     "512",
		"cwd":        "/tmp",
		"umask":      "0027",
		"oom":        "200",
		"fds":        "0 1 2 3",
		"links":      "lo",
		"forward":    "1",
		"keys":       "0",
		"rootwrite":  "no",
		"procsys":    "ro",
		"mkdir":      "mkdir: can't create directory '/tmp/probe-dir': Operation not supported",
		"fuse":       "character special file a:e5 600 1000",
		"cgroup":     "/",
	} {
		if got := f[k]; got != want {
			t.Errorf("inside, %s = %q; want %q", k, got, want)
		}
	}
	if !strings.Contains(f["env"], "PROBE=yes") || !strings.Contains(f["env"], "HOME=/") {
		t.Errorf("inside, env = %q; want the spec's, and HOME", f["env"])
	}
	if !strings.Contains(f["memory"], "67108864") || !strings.Contains(f["memory"], "pids=50") || !strings.Contains(f["memory"], "50000") {
		t.Errorf("inside, limits = %q; want 64 MiB, 50 tasks, 50000µs per 100000", f["memory"])
	}
	for _, m := range []string{"/:", "/proc:proc", "/dev:tmpfs", "/dev/pts:devpts", "/dev/shm:tmpfs", "/dev/mqueue:mqueue", "/sys:sysfs", "/tmp:tmpfs", "/proc/keys:tmpfs", "/proc/acpi:tmpfs", "/proc/sys:proc"} {
		if !strings.Contains(" "+f["mounts"], " "+m) {
			t.Errorf("inside, mounts lack %s: %s", m, f["mounts"])
		}
	}
	for _, d := range []string{"null", "zero", "full", "random", "urandom", "tty", "ptmx", "pts", "shm", "fd", "stdin"} {
		if !strings.Contains(" "+f["dev"]+" ", " "+d+" ") {
			t.Errorf("inside, /dev lacks %s: %s", d, f["dev"])
		}
	}
}

// TestPrivNamespacesAndCgroup: from the host, the created container's init
// is in new namespaces of each kind asked for, and in its cgroup, whose
// files hold the limits.
func TestPrivNamespacesAndCgroup(t *testing.T) {
	privileged(t)
	r := newRT(t)
	st := r.create("ubx-ns", bundle(t, func(s *specs.Spec) {
		mem := int64(32 << 20)
		s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &mem}
	}, "sleep", "300"))
	pid := strconv.Itoa(st.Pid)
	for _, ns := range []string{"pid", "net", "ipc", "uts", "mnt", "cgroup"} {
		ours, _ := os.Readlink("/proc/self/ns/" + ns)
		theirs, err := os.Readlink("/proc/" + pid + "/ns/" + ns)
		if err != nil || ours == theirs {
			t.Errorf("the init's %s namespace is %q (%v); want a new one, not ours %q", ns, theirs, err, ours)
		}
	}
	if ours, _ := os.Readlink("/proc/self/ns/user"); ours != readlink("/proc/"+pid+"/ns/user") {
		t.Errorf("the init has a user namespace of its own; the spec asks for none")
	}
	lines, err := procfs.ReadCgroup(pid)
	if err != nil {
		t.Fatal(err)
	}
	path, ok := procfs.CgroupPath(lines, "memory")
	if !ok {
		path, _ = procfs.CgroupPath(lines, "")
	}
	if path != "/unbox-runtime/ubx-ns" {
		t.Errorf("the init's cgroup = %q; want /unbox-runtime/ubx-ns (no cgroupsPath: the default)", path)
	}
	limit := readFirst("/sys/fs/cgroup/memory"+path+"/memory.limit_in_bytes", "/sys/fs/cgroup"+path+"/memory.max")
	if limit != "33554432" {
		t.Errorf("the cgroup's memory limit = %q; want 33554432", limit)
	}
	// The state says the init is created, and its comm is the stage.
	ps, _ := procfs.ReadStat(pid)
	if ps.Comm != "container" {
		t.Errorf("the waiting init's comm = %q; want \"container\" (reexec names the stage)", ps.Comm)
	}
}

func readlink(p string) string {
	s, _ := os.Readlink(p)
	return s
}

// readFirst reads the first of paths that exists.
func readFirst(paths ...string) string {
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			return strings.TrimSpace(string(b))
		}
	}
	return ""
}
