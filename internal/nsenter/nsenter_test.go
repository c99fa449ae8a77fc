//go:build linux

package nsenter_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/cgroups"
	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/kit/kittest"
	"github.com/unboxlab/unbox/internal/nsenter"
	"github.com/unboxlab/unbox/internal/procfs"
	"github.com/unboxlab/unbox/internal/reexec"
)

func TestMain(m *testing.M) { kittest.Main(m, nil) }

// The target of these tests: a process in new user (mapped one to one),
// mount, UTS, IPC, network, PID and cgroup namespaces, with a hostname, a
// /proc of its PID namespace and a devpts of its own, that waits. Its
// mount namespace is a copy of the host's, so the host's programs run in
// it.
func init() {
	reexec.Register("nsenter-target", func(c *reexec.Conn) error {
		if err := unix.Sethostname([]byte("unbox-target")); err != nil {
			return fmt.Errorf("sethostname: %w", err)
		}
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			return fmt.Errorf("make / private: %w", err)
		}
		if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
			return fmt.Errorf("mount proc: %w", err)
		}
		if err := unix.Mount("devpts", "/dev/pts", "devpts", unix.MS_NOSUID|unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620"); err != nil {
			return fmt.Errorf("mount devpts: %w", err)
		}
		if err := c.Send("ready"); err != nil {
			return err
		}
		return c.Recv(nil)
	})
}

var targetNeeds = append([]kit.Need{kit.NeedUserNS}, kit.NeedNamespaces("user", "mnt", "uts", "ipc", "net", "pid", "cgroup")...)

// startTarget starts the target and returns its host PID; it is killed when
// the test ends.
func startTarget(t *testing.T) *reexec.Child {
	t.Helper()
	c := reexec.NewChild("nsenter-target")
	c.Cmd.SysProcAttr.Cloneflags = unix.CLONE_NEWUSER | unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC |
		unix.CLONE_NEWNET | unix.CLONE_NEWPID | unix.CLONE_NEWCGROUP
	c.Cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 65536}}
	c.Cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 65536}}
	c.Cmd.SysProcAttr.GidMappingsEnableSetgroups = true
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	var ready string
	if err := c.Recv(&ready); err != nil {
		t.Fatal(err)
	}
	return c
}

// run execs args in the target and returns its output and status.
func run(t *testing.T, cfg nsenter.Config) (string, nsenter.ExitStatus) {
	t.Helper()
	var out bytes.Buffer
	cfg.Process.Stdout, cfg.Process.Stderr = &out, &out
	if cfg.Process.Env == nil {
		cfg.Process.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	}
	p, err := nsenter.Start(cfg)
	if err != nil {
		t.Fatalf("Start(%q) = %v", cfg.Process.Args, err)
	}
	st, err := p.Wait()
	if err != nil {
		t.Fatalf("Wait = %v", err)
	}
	return out.String(), st
}

// TestPrivExecJoinsEveryNamespace: the exec'd process is in every namespace
// of the target, the user namespace included (which a Go thread cannot
// join), and reports so from inside: the target's hostname, a small PID,
// a parent outside its PID namespace.
func TestPrivExecJoinsEveryNamespace(t *testing.T) {
	kittest.Privileged(t, targetNeeds...)
	target := startTarget(t)
	stdin, w := io.Pipe()
	var out bytes.Buffer
	p, err := nsenter.Start(nsenter.Config{Target: target.Pid(), Process: nsenter.Process{
		Args:  []string{"sh", "-c", "hostname; echo pid=$$; grep PPid /proc/$$/status; read x"},
		Env:   []string{"PATH=/usr/bin:/bin"},
		Stdin: stdin, Stdout: &out, Stderr: &out,
	}})
	if err != nil {
		t.Fatal(err)
	}
	want, err := nsenter.Inodes(target.Pid())
	if err != nil {
		t.Fatal(err)
	}
	got, err := nsenter.Inodes(p.Pid())
	if err != nil {
		t.Fatal(err)
	}
	host, err := nsenter.Inodes(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range nsenter.All {
		if got[kind] != want[kind] {
			t.Errorf("exec'd process's %s namespace = %d; want the target's, %d", kind, got[kind], want[kind])
		}
	}
	var differ []nsenter.Namespace
	for _, kind := range nsenter.All {
		if want[kind] != host[kind] {
			differ = append(differ, kind)
		}
	}
	if !slices.Equal(p.Joined(), differ) {
		t.Errorf("Joined() = %v; want the target's namespaces that differ from ours, %v", p.Joined(), differ)
	}
	if !slices.Contains(p.Joined(), nsenter.User) {
		t.Errorf("Joined() = %v; want the user namespace among them", p.Joined())
	}
	status, err := procfs.ReadStatus(strconv.Itoa(p.Pid()))
	if err != nil {
		t.Fatal(err)
	}
	nspid, err := status.Ints("NSpid") // its PID in each namespace, the host's first
	if err != nil || len(nspid) != 2 || nspid[0] != p.Pid() {
		t.Fatalf("NSpid of the exec'd process = %v, %v; want the host's PID %d and one more", nspid, err, p.Pid())
	}
	io.WriteString(w, "\n")
	st, err := p.Wait()
	if err != nil || st != (nsenter.ExitStatus{}) {
		t.Fatalf("Wait = %v, %v; want exit status 0", st, err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	want3 := []string{"unbox-target", fmt.Sprintf("pid=%d", nspid[1]), "PPid: 0"}
	if len(lines) == 3 {
		lines[2] = strings.Join(strings.Fields(lines[2]), " ")
	}
	if !slices.Equal(lines, want3) {
		t.Errorf("inside, the exec'd shell says %q; want %q", lines, want3)
	}
}

// TestPrivExecIntoCgroup: the process is in the cgroup before its program
// runs: the first thing the program does is read its own cgroup.
func TestPrivExecIntoCgroup(t *testing.T) {
	kittest.Privileged(t, targetNeeds...)
	target := startTarget(t)
	h, err := cgroups.OpenHost(cgroups.DefaultRoot)
	if err != nil {
		t.Fatal(err)
	}
	parent, err := h.New(cgroups.Config{Parent: "/", Name: kit.UniqueName("nsenter"), Controllers: []string{"pids"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { parent.Destroy() })
	cg, err := h.New(cgroups.Config{Parent: parent.Path(), Name: "exec", Controllers: []string{"pids"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := cg.Create(); err != nil {
		t.Fatal(err)
	}
	// Not the cgroup namespace: the program sees paths from the host's root.
	ns := slices.DeleteFunc(slices.Clone(nsenter.All), func(n nsenter.Namespace) bool { return n == nsenter.Cgroup })
	out, st := run(t, nsenter.Config{Target: target.Pid(), Namespaces: ns, Cgroup: cg,
		Process: nsenter.Process{Args: []string{"cat", "/proc/self/cgroup"}}})
	if st.Code != 0 {
		t.Fatalf("cat /proc/self/cgroup: %v\n%s", st, out)
	}
	lines, err := procfs.ParseCgroup(out)
	if err != nil {
		t.Fatal(err)
	}
	ctl := ""
	if !h.Mode.V2() {
		ctl = "pids"
	}
	if path, _ := procfs.CgroupPath(lines, ctl); path != cg.Path() {
		t.Errorf("the exec'd program's first look at /proc/self/cgroup: %q (pids) in\n%s\nwant %s", path, out, cg.Path())
	}
}

// TestPrivExitStatusAndSignal: an exit code comes back as it is; a signal
// sent to the process reaches it; the process's environment, working
// directory and user are the ones asked for.
func TestPrivExitStatusAndSignal(t *testing.T) {
	kittest.Privileged(t, targetNeeds...)
	target := startTarget(t)
	if _, st := run(t, nsenter.Config{Target: target.Pid(), Process: nsenter.Process{Args: []string{"sh", "-c", "exit 3"}}}); st != (nsenter.ExitStatus{Code: 3}) || st.ExitCode() != 3 {
		t.Errorf("sh -c 'exit 3': %v; want exit status 3", st)
	}

	p, err := nsenter.Start(nsenter.Config{Target: target.Pid(), Process: nsenter.Process{Args: []string{"/bin/sleep", "100"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if st, err := p.Wait(); err != nil || st.Signal != syscall.SIGTERM || st.ExitCode() != 143 || st.String() != "killed by SIGTERM" {
		t.Errorf("sleep after SIGTERM: %v (%d), %v; want killed by SIGTERM (143)", st, st.ExitCode(), err)
	}

	out, st := run(t, nsenter.Config{Target: target.Pid(), Process: nsenter.Process{
		Args: []string{"sh", "-c", "echo $GREETING; pwd; id -u; id -g; id -G; ls /proc/self/fd"},
		Env:  []string{"PATH=/usr/bin:/bin", "GREETING=hello"}, Cwd: "/tmp",
		UID: 65534, GID: 65534, AdditionalGIDs: []uint32{65534, 100},
	}})
	want := "hello\n/tmp\n65534\n65534\n65534 100\n0\n1\n2\n3\n"
	if st.Code != 0 || out != want {
		t.Errorf("environment, directory, user and descriptors: %v\n%q\nwant\n%q (ls's own directory is 3)", st, out, want)
	}
}

// TestPrivStartErrors: the errors Docker gives exit codes for, and a target
// that has exited.
func TestPrivStartErrors(t *testing.T) {
	kittest.Privileged(t, targetNeeds...)
	target := startTarget(t)
	for _, c := range []struct {
		args []string
		cwd  string
		code int
		msg  string
	}{
		{[]string{"unbox-no-such-command"}, "", 127, `exec "unbox-no-such-command": executable file not found in $PATH`},
		{[]string{"/nonexistent/prog"}, "", 127, `exec "/nonexistent/prog": no such file or directory`},
		{[]string{"/etc/passwd"}, "", 126, `exec "/etc/passwd": permission denied`},
		{[]string{"/"}, "", 126, `exec "/": permission denied`},
		{[]string{"true"}, "/nonexistent", 126, "chdir /nonexistent: no such file or directory"},
	} {
		p, err := nsenter.Start(nsenter.Config{Target: target.Pid(), Process: nsenter.Process{Args: c.args, Cwd: c.cwd, Env: []string{"PATH=/usr/bin:/bin"}}})
		var se *nsenter.StartError
		if !errors.As(err, &se) {
			if p != nil {
				p.Wait()
			}
			t.Errorf("Start(%q) = %v; want a StartError", c.args, err)
			continue
		}
		if se.ExitCode() != c.code || err.Error() != c.msg {
			t.Errorf("Start(%q) = %q (exit code %d); want %q (%d)", c.args, err, se.ExitCode(), c.msg, c.code)
		}
	}

	// A directory of the caller's mount namespace, open here and so in
	// the new process until its exec: chdir to it works, and would leave
	// the program outside the target's root (CVE-2024-21626, runc's
	// leaked descriptor of the host's /sys/fs/cgroup). Refused.
	dir, err := os.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	cwd := "/proc/self/fd/" + strconv.Itoa(int(dir.Fd()))
	p, err := nsenter.Start(nsenter.Config{Target: target.Pid(), Process: nsenter.Process{Args: []string{"true"}, Cwd: cwd}})
	var se *nsenter.StartError
	if !errors.As(err, &se) || se.ExitCode() != 126 || err.Error() != "chdir "+cwd+": the directory is outside the container's root (CVE-2024-21626)" {
		if p != nil {
			p.Wait()
		}
		t.Errorf("Start with Cwd %s, a directory of the caller's = %v; want it refused, 126", cwd, err)
	}

	// Killed but not reaped: a zombie, whose namespaces are gone.
	target.Cmd.Process.Kill()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if st, _ := procfs.ReadStat(strconv.Itoa(target.Pid())); st.State == "Z" {
			break
		}
	}
	_, err = nsenter.Start(nsenter.Config{Target: target.Pid(), Process: nsenter.Process{Args: []string{"true"}}})
	if !errors.Is(err, nsenter.ErrNotRunning) {
		t.Errorf("exec into a zombie: %v; want ErrNotRunning", err)
	}
	target.Wait()
	_, err = nsenter.Start(nsenter.Config{Target: target.Pid(), Process: nsenter.Process{Args: []string{"true"}}})
	if !errors.Is(err, nsenter.ErrNotRunning) || !strings.Contains(err.Error(), fmt.Sprintf("exec into host pid %d: the container is not running", target.Pid())) {
		t.Errorf("exec into an exited process: %v; want ErrNotRunning, named", err)
	}
}

// TestPrivTerminal: with a terminal the process gets a pseudo-terminal of
// the target's own devpts, of the size asked for.
func TestPrivTerminal(t *testing.T) {
	kittest.Privileged(t, targetNeeds...)
	target := startTarget(t)
	out, st := run(t, nsenter.Config{Target: target.Pid(), Process: nsenter.Process{
		Args: []string{"sh", "-c", "stty size; tty"}, Terminal: true, Size: nsenter.Winsize{Rows: 33, Cols: 77},
	}})
	if st.Code != 0 || strings.ReplaceAll(out, "\r", "") != "33 77\n/dev/pts/0\n" {
		t.Errorf("stty size; tty on a terminal: %v %q; want \"33 77\" and /dev/pts/0, the target's first", st, out)
	}
}

// TestPrivExecDiesWithPID1: when the target's PID 1 exits, the kernel kills
// every other process of its PID namespace, the exec'd one too.
func TestPrivExecDiesWithPID1(t *testing.T) {
	kittest.Privileged(t, targetNeeds...)
	target := startTarget(t)
	p, err := nsenter.Start(nsenter.Config{Target: target.Pid(), Process: nsenter.Process{Args: []string{"/bin/sleep", "100"}}})
	if err != nil {
		t.Fatal(err)
	}
	target.Send(nil) // PID 1 returns, and exits
	// PID 1's exit waits until every process of its namespace has been
	// reaped (kernel/pid_namespace.c, zap_pid_ns_processes), and this one's
	// parent is the caller: it must be waited for first.
	if st, err := p.Wait(); err != nil || st.Signal != syscall.SIGKILL {
		t.Errorf("exec'd sleep after PID 1 exited: %v, %v; want killed by SIGKILL", st, err)
	}
	if err := target.Wait(); err != nil {
		t.Errorf("PID 1: %v", err)
	}
}

// TestPrivJoinSome: only the namespaces asked for are joined.
func TestPrivJoinSome(t *testing.T) {
	kittest.Privileged(t, targetNeeds...)
	target := startTarget(t)
	out, st := run(t, nsenter.Config{Target: target.Pid(), Namespaces: []nsenter.Namespace{nsenter.UTS},
		Process: nsenter.Process{Args: []string{"sh", "-c", "hostname; readlink /proc/self/ns/mnt"}}})
	mnt, _ := os.Readlink("/proc/self/ns/mnt")
	if st.Code != 0 || out != "unbox-target\n"+mnt+"\n" {
		t.Errorf("joining uts only: %v %q; want the target's hostname and our mount namespace %s", st, out, mnt)
	}
}

// TestPrivNoDescriptorLeaks: starts that work and starts that fail leave
// the caller with the descriptors it had.
func TestPrivNoDescriptorLeaks(t *testing.T) {
	kittest.Privileged(t, targetNeeds...)
	target := startTarget(t)
	before := openFDs(t)
	var out bytes.Buffer
	for _, args := range [][]string{{"true"}, {"unbox-no-such-command"}, {"sh", "-c", "echo hi >&2"}} {
		p, err := nsenter.Start(nsenter.Config{Target: target.Pid(), Process: nsenter.Process{Args: args, Stdout: &out, Stderr: &out}})
		if err == nil {
			p.Wait()
		}
	}
	p, err := nsenter.Start(nsenter.Config{Target: target.Pid(), Process: nsenter.Process{Args: []string{"tty"}, Terminal: true, Stdout: &out}})
	if err != nil {
		t.Fatal(err)
	}
	p.Wait()
	if after := openFDs(t); !slices.Equal(before, after) {
		t.Errorf("descriptors before %v, after five starts %v; want the same", before, after)
	}
}

func openFDs(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if l, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && !strings.HasSuffix(l, "/fd") {
			out = append(out, e.Name()+" "+l)
		}
	}
	return out
}

// TestPrivForwardSignals: a signal the caller receives reaches the process.
func TestPrivForwardSignals(t *testing.T) {
	kittest.Privileged(t, targetNeeds...)
	target := startTarget(t)
	var out syncBuffer
	p, err := nsenter.Start(nsenter.Config{Target: target.Pid(), Process: nsenter.Process{
		Args:   []string{"sh", "-c", "trap 'exit 7' USR1; echo ready; while :; do sleep 0.05; done"},
		Env:    []string{"PATH=/usr/bin:/bin"},
		Stdout: &out,
	}})
	if err != nil {
		t.Fatal(err)
	}
	stop := p.ForwardSignals(syscall.SIGUSR1)
	defer stop()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(out.String(), "ready"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			p.Signal(syscall.SIGKILL)
			t.Fatal("the shell never got ready")
		}
	}
	syscall.Kill(os.Getpid(), syscall.SIGUSR1)
	if st, err := p.Wait(); err != nil || st.Code != 7 {
		t.Errorf("after SIGUSR1 to the caller: %v, %v; want the shell's trap, exit status 7", st, err)
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestPrivConfinement: the capabilities, limits, no_new_privs, seccomp
// filter and umask asked for are the exec'd process's, as a runtime gives
// an exec the container's own.
func TestPrivConfinement(t *testing.T) {
	kittest.Privileged(t, targetNeeds...)
	target := startTarget(t)
	const chown, kill, netBind = 0, 5, 10
	bit := func(n uint) uint64 { return 1 << n }
	status := "grep -E '^(CapBnd|CapEff|CapPrm|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status | tr '\\t' ' '; ulimit -n; umask"
	umask := uint32(0o027)
	// A user with one ambient capability: after execve(2), a process
	// that is not root keeps exactly its ambient set (capabilities(7)).
	out, st := run(t, nsenter.Config{Target: target.Pid(), Process: nsenter.Process{
		Args: []string{"sh", "-c", status}, Env: []string{"PATH=/usr/bin:/bin"}, UID: 1000, GID: 1000,
		Caps: &nsenter.Capabilities{
			Bounding: bit(chown) | bit(kill) | bit(netBind), Effective: bit(chown) | bit(kill), Permitted: bit(chown) | bit(kill),
			Inheritable: bit(kill), Ambient: bit(kill),
		},
		Rlimits:         []nsenter.Rlimit{{Resource: unix.RLIMIT_NOFILE, Soft: 123, Hard: 456}},
		NoNewPrivileges: true,
		Umask:           &umask,
	}})
	want := "CapPrm: 0000000000000020\nCapEff: 0000000000000020\nCapBnd: 0000000000000421\nCapAmb: 0000000000000020\nNoNewPrivs: 1\nSeccomp: 0\n123\n0027\n"
	if st.Code != 0 || out != want {
		t.Errorf("confined as uid 1000: %v\n%s\nwant\n%s", st, out, want)
	}
	// A filter that refuses sethostname(2) with EPERM, without
	// no_new_privs (installed while the process may still do it).
	filter := []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 0}, // seccomp_data.nr
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 0, Jf: 1, K: unix.SYS_SETHOSTNAME},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW},
	}
	out, st = run(t, nsenter.Config{Target: target.Pid(), Process: nsenter.Process{
		Args: []string{"sh", "-c", "grep Seccomp: /proc/self/status | tr '\\t' ' '; hostname changed 2>&1; echo $?; hostname"},
		Env:  []string{"PATH=/usr/bin:/bin"}, Seccomp: &nsenter.Seccomp{Filter: filter},
	}})
	if st.Code != 0 || !strings.HasPrefix(out, "Seccomp: 2\n") || !strings.HasSuffix(out, "\n1\nunbox-target\n") {
		t.Errorf("with a filter refusing sethostname: %v\n%s\nwant Seccomp 2, the refusal, the hostname unchanged", st, out)
	}
	// The same without the filter: the process may (root of the target's
	// user namespace, which owns its UTS namespace).
	out, st = run(t, nsenter.Config{Target: target.Pid(), Process: nsenter.Process{
		Args: []string{"sh", "-c", "hostname changed && hostname && hostname unbox-target"}, Env: []string{"PATH=/usr/bin:/bin"},
	}})
	if st.Code != 0 || out != "changed\n" {
		t.Errorf("the same without the filter: %v, %q; want the hostname changed", st, out)
	}
	// Asking for more than the caller can give fails in the new process,
	// and says which step.
	_, err := nsenter.Start(nsenter.Config{Target: target.Pid(), Process: nsenter.Process{
		Args: []string{"true"}, UID: 1000, GID: 1000,
		Caps: &nsenter.Capabilities{Bounding: bit(kill), Permitted: bit(kill), Effective: bit(kill), Ambient: bit(kill)},
	}})
	var se *nsenter.StartError
	if !errors.As(err, &se) || !strings.Contains(se.Op, "ambient") || se.ExitCode() != 126 {
		t.Errorf("an ambient capability that is not inheritable: %v; want a StartError about it, 126", err)
	}
}
