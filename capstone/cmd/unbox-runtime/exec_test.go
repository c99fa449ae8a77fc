//go:build linux

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/unboxlab/unbox/internal/procfs"
)

// TestPrivExec runs processes in a running container: in its namespaces
// and cgroup, with the container's process as defaults and the flags (or a
// process.json) on top, and exec's status is the process's.
func TestPrivExec(t *testing.T) {
	privileged(t)
	r := newRT(t)
	st := r.create("ubx-exec", bundle(t, func(s *specs.Spec) { s.Process.Env = append(s.Process.Env, "FROM_SPEC=1") }, "sleep", "300"))
	r.ok("start", "ubx-exec")

	res := r.run("exec", "ubx-exec", "sh", "-c", "echo pid=$$ cwd=$(pwd) uid=$(id -u) spec=$FROM_SPEC; cat /proc/1/cmdline | tr '\\0' ' '; exit 5")
	if res.code != 5 || !strings.Contains(res.stdout, "cwd=/ uid=0 spec=1") || !strings.Contains(res.stdout, "sleep 300") || strings.Contains(res.stdout, "pid=1 ") {
		t.Errorf("exec = %s; want exit 5, the container's defaults, its PID 1 visible, and a PID other than 1", res)
	}
	res = r.run("exec", "--cwd", "/tmp", "--env", "EXTRA=yes", "--user", "1000:100", "ubx-exec", "sh", "-c", "echo $(pwd) $(id -u):$(id -g) $EXTRA")
	if res.code != 0 || res.stdout != "/tmp 1000:100 yes\n" {
		t.Errorf("exec --cwd --env --user = %s", res)
	}
	proc := specs.Process{Args: []string{"sh", "-c", "echo from process.json $GREETING"}, Env: []string{"GREETING=hi", "PATH=/bin"}, Cwd: "/"}
	b, _ := json.Marshal(proc)
	pf := filepath.Join(t.TempDir(), "process.json")
	if err := os.WriteFile(pf, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if res := r.run("exec", "--process", pf, "ubx-exec"); res.code != 0 || res.stdout != "from process.json hi\n" {
		t.Errorf("exec --process = %s", res)
	}

	// --detach: the process goes on alone, in the container's namespaces
	// and cgroup, and the --pid-file names it.
	pidFile := filepath.Join(t.TempDir(), "exec.pid")
	r.ok("exec", "--detach", "--pid-file", pidFile, "ubx-exec", "sleep", "300")
	b, _ = os.ReadFile(pidFile)
	pid := strings.TrimSpace(string(b))
	for _, ns := range []string{"pid", "net", "ipc", "uts", "mnt", "cgroup"} {
		if got, want := readlink("/proc/"+pid+"/ns/"+ns), readlink("/proc/"+strconv.Itoa(st.Pid)+"/ns/"+ns); got != want || got == "" {
			t.Errorf("the exec'd process's %s namespace is %q; want the init's %q", ns, got, want)
		}
	}
	lines, _ := procfs.ReadCgroup(pid)
	if p, ok := procfs.CgroupPath(lines, "memory"); ok && p != "/unbox-runtime/ubx-exec" {
		t.Errorf("the exec'd process is in cgroup %q; want the container's", p)
	} else if p, _ := procfs.CgroupPath(lines, ""); !ok && p != "/unbox-runtime/ubx-exec" {
		t.Errorf("the exec'd process is in cgroup %q; want the container's", p)
	}
	var pids []int
	json.Unmarshal([]byte(r.ok("ps", "--format", "json", "ubx-exec").stdout), &pids)
	if len(pids) != 2 {
		t.Errorf("ps after exec --detach = %v; want the init and the exec'd sleep", pids)
	}
	n, _ := strconv.Atoi(pid)
	r.run("kill", "--all", "ubx-exec", "KILL")
	reap(n)
}

// TestPrivPreserveFDs: --preserve-fds hands descriptors on, as 3, 4, ...,
// to the container's process (run) and to an exec'd one.
func TestPrivPreserveFDs(t *testing.T) {
	privileged(t)
	r := newRT(t)
	f := filepath.Join(t.TempDir(), "passed")
	if err := os.WriteFile(f, []byte("handed over\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const show = "cat <&3; ls /proc/self/fd | tr '\\n' ' '"
	passing := func(args ...string) {
		t.Helper()
		in, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		defer in.Close()
		cmd := r.cmd(args...)
		cmd.ExtraFiles = []*os.File{in}
		out, err := cmd.Output()
		if err != nil || string(out) != "handed over\n0 1 2 3 4 " {
			t.Errorf("%s = %q (%v); want the file on 3, and nothing more than ls's own 4", strings.Join(args[:2], " "), out, err)
		}
	}
	passing("run", "--preserve-fds", "1", "--bundle", bundle(t, nil, "sh", "-c", show), "ubx-fds")
	st := r.create("ubx-fds-exec", bundle(t, nil, "sleep", "300"))
	r.ok("start", "ubx-fds-exec")
	passing("exec", "--preserve-fds", "1", "ubx-fds-exec", "sh", "-c", show)
	r.run("kill", "ubx-fds-exec", "KILL")
	reap(st.Pid)
}

// TestPrivJoinNamespaces: a container that names another's network, IPC
// and UTS namespaces by path is in them (a pod's containers, as containerd
// makes them).
func TestPrivJoinNamespaces(t *testing.T) {
	privileged(t)
	r := newRT(t)
	pod := r.create("ubx-pod", bundle(t, func(s *specs.Spec) { s.Hostname = "the-pod" }, "sleep", "300"))
	ns := func(kind string) string { return "/proc/" + strconv.Itoa(pod.Pid) + "/ns/" + kind }
	b := bundle(t, func(s *specs.Spec) {
		s.Hostname = ""
		for i, n := range s.Linux.Namespaces {
			switch n.Type {
			case specs.NetworkNamespace:
				s.Linux.Namespaces[i].Path = ns("net")
			case specs.IPCNamespace:
				s.Linux.Namespaces[i].Path = ns("ipc")
			case specs.UTSNamespace:
				s.Linux.Namespaces[i].Path = ns("uts")
			}
		}
	}, "sh", "-c", "hostname; for n in net ipc uts pid; do readlink /proc/self/ns/$n; done")
	res := r.run("run", "--bundle", b, "ubx-member")
	want := "the-pod\n" + readlink(ns("net")) + "\n" + readlink(ns("ipc")) + "\n" + readlink(ns("uts")) + "\n"
	if res.code != 0 || !strings.HasPrefix(res.stdout, want) || strings.Contains(res.stdout, readlink(ns("pid"))) {
		t.Errorf("a container joining the pod's namespaces sees %s; want the pod's hostname and namespaces, and a PID namespace of its own:\n%s", res, want)
	}
}

// TestPrivUserNamespace: a container with its own user namespace is root
// inside, an unprivileged UID outside; the device nodes are the host's,
// bound (mknod is not allowed there).
func TestPrivUserNamespace(t *testing.T) {
	privileged(t, "user")
	r := newRT(t)
	b := bundle(t, func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	}, "sh", "-c", "id -u; cat /proc/self/uid_map; echo > /dev/null && echo devnull-ok")
	// The container's root (host UID 100000) must reach its root
	// filesystem: open up the test's temporary directories.
	for d := filepath.Dir(rootOf(t, b)); d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	res := r.run("run", "--bundle", b, "ubx-userns")
	f := strings.Fields(res.stdout)
	if res.code != 0 || len(f) < 5 || f[0] != "0" || f[1] != "0" || f[2] != "100000" || f[3] != "65536" || f[4] != "devnull-ok" {
		t.Errorf("in a user namespace: %s; want uid 0 inside, mapped to 100000, and a working /dev/null", res)
	}
	// exec joins the user namespace too (internal/nsenter does it from a
	// single-threaded child, last): root inside, the container's mapping.
	st := r.create("ubx-userns-exec", bundleLike(t, b, "sleep", "300"))
	r.ok("start", "ubx-userns-exec")
	res = r.run("exec", "ubx-userns-exec", "sh", "-c", "id -u; cat /proc/self/uid_map; readlink /proc/self/ns/user")
	want := "0\n" + readlink("/proc/"+strconv.Itoa(st.Pid)+"/ns/user") + "\n"
	f = strings.Fields(res.stdout)
	if res.code != 0 || len(f) != 5 || f[0] != "0" || f[2] != "100000" || !strings.HasSuffix(res.stdout, want[2:]) {
		t.Errorf("exec into a container with its own user namespace = %s; want uid 0 inside, mapped to 100000, in the init's user namespace %s", res, want[2:])
	}
	r.run("kill", "ubx-userns-exec", "KILL")
	reap(st.Pid)
}

// bundleLike is a bundle with b's config.json (and so its root) and
// another command.
func bundleLike(t *testing.T, b string, args ...string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(b, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s specs.Spec
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	s.Process.Args = args
	dir := t.TempDir()
	writeSpec(t, dir, &s)
	return dir
}

// TestPrivExecConfinement: an exec'd process is as confined as the
// container's first one, as runc exec makes it: the same capability sets,
// no_new_privs, seccomp filter and limits. Before, it had every capability
// of root and no filter.
func TestPrivExecConfinement(t *testing.T) {
	privileged(t)
	r := newRT(t)
	b := bundle(t, func(s *specs.Spec) {
		s.Linux.Seccomp = &specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow,
			Syscalls:      []specs.LinuxSyscall{{Names: []string{"sethostname"}, Action: specs.ActErrno}},
		}
	}, "sleep", "300")
	st := r.create("ubx-confined", b)
	r.ok("start", "ubx-confined")
	defer reap(st.Pid)
	defer r.run("kill", "ubx-confined", "KILL")
	const status = "grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/%s/status"
	init := r.ok("exec", "ubx-confined", "sh", "-c", strings.Replace(status, "%s", "1", 1)).stdout
	res := r.run("exec", "ubx-confined", "sh", "-c", strings.Replace(status, "%s", "self", 1)+"; ulimit -n; hostname changed 2>/dev/null; echo sethostname=$?")
	if res.code != 0 || !strings.HasPrefix(res.stdout, init) || !strings.HasSuffix(res.stdout, "\n1024\nsethostname=1\n") {
		t.Errorf("exec'd process:\n%s\nwant the init's confinement\n%s\nthen 1024 open files and sethostname refused", res, init)
	}
	// The comparison means something only if the init is confined.
	host, _ := os.ReadFile("/proc/self/status")
	hostBnd := regexp.MustCompile(`CapBnd:\t\w+`).FindString(string(host))
	if !strings.Contains(init, "NoNewPrivs:\t1") || !strings.Contains(init, "Seccomp:\t2") || hostBnd == "" || strings.Contains(init, hostBnd) {
		t.Errorf("the init's status:\n%s\nwant no_new_privs, a filter and a bounding set smaller than the host's %s", init, hostBnd)
	}
}

// rootOf is the root.path of a bundle.
func rootOf(t *testing.T, bundle string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s specs.Spec
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return s.Root.Path
}
