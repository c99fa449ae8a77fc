//go:build linux

package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// TestPrivCVE_2019_5736: the runtime binary cannot be written through the
// /proc/<pid>/exe of a process that runs it in the container.
//
// The exploit: a process in the container opened /proc/<pid>/exe of runc
// running there (the init, or runc exec's process), read-only or O_PATH
// while it ran (a running binary refuses O_WRONLY: ETXTBSY), and once runc
// had exec'd away, reopened /proc/self/fd/N for writing and wrote the host's
// runc. Here the same sequence runs against the waiting init, whose
// executable is unbox-runtime: inside the container (a process exec'd in
// its PID namespace holding /proc/1/exe), and from the host with O_PATH.
// The reopen must fail with EROFS: the init runs the binary from a
// read-only mount. The runtime is a copy of the test binary here, so that
// nothing else runs it once the init has exec'd (the kernel answers ETXTBSY
// before EROFS while any process runs the file).
func TestPrivCVE_2019_5736(t *testing.T) {
	privileged(t)
	r := newRT(t)
	r.bin = copyOfRuntime(t)
	st := r.create("ubx-cve5736", bundle(t, nil, "sleep", "300"))
	root := "/proc/" + strconv.Itoa(st.Pid) + "/root"

	exe := "/proc/" + strconv.Itoa(st.Pid) + "/exe"
	fd, err := unix.Open(exe, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	var fs unix.Statfs_t
	if err := unix.Fstatfs(fd, &fs); err != nil || fs.Flags&unix.ST_RDONLY == 0 {
		t.Errorf("the init's executable is on a mount with flags %#x (%v); want it read-only (ST_RDONLY)", fs.Flags, err)
	}

	holder := `exec 3</proc/1/exe; touch /dev/shm/holding
while [ ! -e /dev/shm/started ]; do sleep 0.05; done
(: >> /proc/self/fd/3) 2>/dev/shm/result; echo "rc=$?" >> /dev/shm/result`
	r.ok("exec", "--detach", "ubx-cve5736", "sh", "-c", holder)
	waitFile(t, root+"/dev/shm/holding")
	r.ok("start", "ubx-cve5736") // the init execs sleep: the binary runs no more
	// Only once start has exited: while it runs, the file is busy
	// (ETXTBSY) whatever the mount.
	if err := os.WriteFile(root+"/dev/shm/started", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFileContains(t, root+"/dev/shm/result", "rc=")
	if b, _ := os.ReadFile(root + "/dev/shm/result"); !strings.Contains(string(b), "Read-only file system") {
		t.Errorf("inside the container, reopening /proc/1/exe (the runtime) for writing after the init exec'd: %q; "+
			"want EROFS, \"Read-only file system\"", b)
	}
	if err := tryWrite(fmt.Sprintf("/proc/self/fd/%d", fd)); !errors.Is(err, unix.EROFS) {
		t.Errorf("reopen of the O_PATH descriptor of %s for writing after the init exec'd: %v; want EROFS "+
			"(without the read-only mount this open succeeds: the runtime could be overwritten)", exe, err)
	}
	r.settle("ubx-cve5736")
}

// copyOfRuntime is a copy of the test binary named unbox-runtime, run by
// nobody else.
func copyOfRuntime(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	path := t.TempDir() + "/unbox-runtime"
	if err := os.WriteFile(path, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// tryWrite opens path for appending, writing nothing: what the exploit did
// first. A success is closed at once.
func tryWrite(path string) error {
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_APPEND|unix.O_CLOEXEC, 0)
	if err == nil {
		unix.Close(fd)
	}
	return err
}

// TestPrivCVE_2024_21626: no descriptor of the runtime reaches the
// container's process, and a working directory that would be one
// (/proc/self/fd/N, as the exploit used with runc's leaked descriptor of the
// host's /sys/fs/cgroup) is refused.
func TestPrivCVE_2024_21626(t *testing.T) {
	privileged(t)
	r := newRT(t)
	// ls holds one descriptor of its own, for the directory it lists.
	res := r.run("run", "--bundle", bundle(t, nil, "ls", "/proc/self/fd"), "ubx-fds")
	if got := strings.Fields(res.stdout); strings.Join(got, " ") != "0 1 2 3" {
		t.Errorf("the container's process holds descriptors %v; want 0 1 2 and ls's own 3 (%s)", got, res)
	}
	st := r.create("ubx-fds-exec", bundle(t, nil, "sleep", "300"))
	r.ok("start", "ubx-fds-exec")
	res = r.run("exec", "ubx-fds-exec", "ls", "/proc/self/fd")
	if got := strings.Fields(res.stdout); strings.Join(got, " ") != "0 1 2 3" {
		t.Errorf("an exec'd process holds descriptors %v; want 0 1 2 3 (%s)", got, res)
	}
	for n := 3; n <= 8; n++ {
		cwd := "/proc/self/fd/" + strconv.Itoa(n)
		b := bundle(t, func(s *specs.Spec) { s.Process.Cwd = cwd }, "sh", "-c", "echo RAN in $(pwd)")
		res := r.run("run", "--bundle", b, "ubx-cwd")
		if res.code == 0 || strings.Contains(res.stdout, "RAN") {
			t.Errorf("process.cwd %s: %s; want create to fail and the process never to run", cwd, res)
		}
		res = r.run("exec", "--cwd", cwd, "ubx-fds-exec", "sh", "-c", "echo RAN in $(pwd)")
		if res.code == 0 || strings.Contains(res.stdout, "RAN") {
			t.Errorf("exec --cwd %s: %s; want it refused", cwd, res)
		}
	}
	r.remove("ubx-fds-exec")
	reap(st.Pid)
}
