//go:build linux

package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/nsenter"
	"github.com/unboxlab/unbox/internal/procfs"
)

// lookScript is what step 4's shell runs inside: each line names what it
// shows. It ends waiting on its standard input, so that the host can look
// at it while it is there.
const lookScript = `echo "hostname: $(hostname)"
echo "its PID: $$, its parent's: $PPID"
echo "pwd: $(pwd)"
echo "GREETING: $GREETING"
echo "ls /: $(ls / | tr '\n' ' ')"
echo "cat /etc/motd: $(cat /etc/motd)"
echo "its cgroup, in its cgroup namespace: $(sed -n 's/^[0-9]*:[^:]*pids[^:]*://p; s/^0:://p' /proc/self/cgroup | head -1)"
ps -o pid,ppid,user,comm
echo ---
read x`

func (st *state) stepJoined(s *kit.Session) error {
	c, err := st.running()
	if err != nil {
		return err
	}
	l := st.lab
	s.Cmd("web sh -c 'echo \"hostname: $(hostname)\"; ...; ps -o pid,ppid,user,comm; echo ---; read x'")
	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer stdinR.Close()
	defer stdinW.Close()
	var out syncBuffer
	p, err := l.exec(c, []string{"sh", "-c", lookScript}, execOpts{Stdin: stdinR}, &out)
	if err != nil {
		return err
	}
	stdinR.Close()
	if err := waitFor(&out, "---\n", p); err != nil {
		return err
	}
	inside, _, _ := strings.Cut(out.String(), "---\n")
	s.Inside("%s", inside)

	// From the host, while it waits.
	pidNS, err := nsenter.Inodes(p.Pid())
	if err != nil {
		return err
	}
	pid1NS, err := nsenter.Inodes(c.Pid())
	if err != nil {
		return err
	}
	var same []string
	for _, kind := range nsenter.All {
		if pidNS[kind] == pid1NS[kind] {
			same = append(same, string(kind))
		}
	}
	cg, err := procfs.ReadCgroup(strconv.Itoa(p.Pid()))
	if err != nil {
		return err
	}
	ctl := ""
	if !l.Cgroups.Mode.V2() {
		ctl = "pids"
	}
	path, _ := procfs.CgroupPath(cg, ctl)
	procs, err := c.Cgroup.Procs()
	if err != nil {
		return err
	}
	s.Cmd("EXEC=%d    # the shell, as the host numbers it\n"+
		"ls -l /proc/$EXEC/ns; cat /proc/$EXEC/cgroup\ncat /sys/fs/cgroup%s/cgroup.procs", p.Pid(), c.Cgroup.Path())
	s.Host("its namespaces are PID 1's: %s", strings.Join(same, " "))
	s.Host("it joined, in this order: %s", joinedList(p.Joined()))
	s.Host("its cgroup: %s; cgroup.procs there: %s", path, procList(s, procs, c.Pid(), p.Pid()))
	if _, err := io.WriteString(stdinW, "\n"); err != nil {
		return err
	}
	if status, err := p.Wait(); err != nil || status.Code != 0 {
		return fmt.Errorf("the exec'd shell: %v, %v", status, err)
	}
	s.Note("The shell has the container's hostname, root, environment (the image's) and working directory\n" +
		"(its WorkingDir), and a PID of the container's numbering. Its parent is 0 there: the lesson is\n" +
		"outside the PID namespace. The host sees it in every namespace of PID 1, and in the container's\n" +
		"cgroup, which the first child was put in before it ran a line of its own.")
	return nil
}

// waitFor waits until out holds marker, or p has exited.
func waitFor(out *syncBuffer, marker string, p *nsenter.Proc) error {
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(out.String(), marker); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			p.Signal(syscall.SIGKILL)
			return fmt.Errorf("the exec'd process never printed %q:\n%s", marker, out.String())
		}
		if err := p.Signal(syscall.Signal(0)); err != nil {
			st, _ := p.Wait()
			return fmt.Errorf("the exec'd process ended (%v) before it printed %q:\n%s", st, marker, out.String())
		}
	}
	return nil
}

func joinedList(kinds []nsenter.Namespace) string {
	s := make([]string, len(kinds))
	for i, k := range kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

// procList names the PIDs of cgroup.procs: PID 1 and the exec'd process.
func procList(s *kit.Session, procs []int, pid1, exec int) string {
	var items []any
	for _, p := range procs {
		switch p {
		case pid1:
			items = append(items, "PID 1")
		case exec:
			items = append(items, s.T("the shell"))
		default:
			items = append(items, s.T("host pid %d", p))
		}
	}
	return s.T(strings.TrimSuffix(strings.Repeat("%s, ", len(items)), ", "), items...)
}

func (st *state) stepStatus(s *kit.Session) error {
	c, err := st.running()
	if err != nil {
		return err
	}
	l := st.lab
	exit3 := []string{"sh", "-c", "exit 3"}
	s.Cmd("%s; echo $?", execCmd(c, exit3))
	_, status, err := l.run(c, exit3, execOpts{})
	if err != nil {
		return err
	}
	s.Host("%v: $? = %d", status, status.ExitCode())

	sleep := []string{"sleep", "600"}
	s.Cmd("%s &\nkill -TERM $!; wait $!; echo $?", execCmd(c, sleep))
	p, err := l.exec(c, sleep, execOpts{}, nil)
	if err != nil {
		return err
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	status, err = p.Wait()
	if err != nil {
		return err
	}
	s.Host("%v: $? = %d", status, status.ExitCode())

	for _, args := range [][]string{{"no-such-command"}, {"/etc/motd"}} {
		s.Cmd("%s; echo $?", execCmd(c, args))
		_, _, err := l.run(c, args, execOpts{})
		var se *nsenter.StartError
		if !errors.As(err, &se) {
			return fmt.Errorf("exec %s: %v; want it to fail", args[0], err)
		}
		s.Host("%v: $? = %d", err, se.ExitCode())
	}

	tty := []string{"sh", "-c", "tty; stty size; read x; stty size"}
	size := nsenter.Winsize{Rows: 40, Cols: 120}
	s.Cmd("docker exec -it web sh -c 'tty; stty size; read x; stty size'\n" +
		"# from a terminal of 40 rows and 120 columns, made 50 by 160 before Enter")
	var out syncBuffer
	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer stdinW.Close()
	defer stdinR.Close() // with a terminal, the lesson copies it to the terminal: open until the end
	p, err = l.exec(c, tty, execOpts{Terminal: true, Size: size, Stdin: stdinR}, &out)
	if err != nil {
		return err
	}
	if err := waitFor(&out, "40 120", p); err != nil {
		return err
	}
	if err := p.Resize(nsenter.Winsize{Rows: 50, Cols: 160}); err != nil {
		return err
	}
	io.WriteString(stdinW, "\n")
	if _, err := p.Wait(); err != nil {
		return err
	}
	lines := slices.DeleteFunc(strings.Split(strings.ReplaceAll(out.String(), "\r", ""), "\n"),
		func(l string) bool { return l == "" })
	s.Inside("%s", strings.Join(lines, "\n"))
	s.Note("The exit status is the program's own, a signal reaches it (143 is 128 + SIGTERM's 15), and\n" +
		"Docker's exit codes for a program that is not there (127) or cannot be run (126) come from\n" +
		"execve(2)'s ENOENT and EACCES. With -t the terminal is one of the container's own devpts\n" +
		"(/dev/pts/0 there), of the caller's size; a resize reaches it as SIGWINCH.")
	return nil
}

func (st *state) stepParent(s *kit.Session) error {
	c, err := st.running()
	if err != nil {
		return err
	}
	l := st.lab
	sleep := []string{"sleep", "600"}
	ps := []string{"ps", "-o", "pid,ppid,user,comm"}
	s.Cmd("%s & BG=$!\n%s", execCmd(c, sleep), execCmd(c, ps))
	bg, err := l.exec(c, sleep, execOpts{}, nil)
	if err != nil {
		return err
	}
	out, _, err := l.run(c, ps, execOpts{})
	if err != nil {
		return err
	}
	s.Inside("%s", out)
	stat, err := procfs.ReadStat(strconv.Itoa(bg.Pid()))
	if err != nil {
		return err
	}
	who := fmt.Sprintf("host pid %d", stat.PPID)
	if stat.PPID == os.Getpid() {
		who = "this lesson"
	}
	s.Cmd("grep PPid /proc/$BG/status    # the exec'd sleep, from the host")
	s.Host("PPid: %d: %s, outside the container", stat.PPID, who)

	pid1 := c.Pid()
	s.Cmd("kill -TERM $PID; grep SigPnd /proc/$PID/status    # docker stop's first try")
	if err := syscall.Kill(pid1, syscall.SIGTERM); err != nil {
		return err
	}
	st1, err := procfs.ReadStatus(strconv.Itoa(pid1))
	if err != nil {
		return err
	}
	s.Host("SigPnd: %s, and PID 1 runs on: SIGTERM was dropped", st1["SigPnd"])
	s.Say("A PID namespace's init gets only the signals it has a handler for, even from the host;\n" +
		"sleep has none. SIGKILL (and SIGSTOP) from an ancestor namespace are the exception.")

	s.Cmd("kill -KILL $PID    # docker kill web")
	if err := c.kill(l); err != nil {
		return err
	}
	status, _ := bg.Wait()
	s.Host("PID 1: %v; the exec'd sleep: %v", exitOf(c.pid1.Cmd.ProcessState), status)
	s.Say("When a PID namespace's init exits, the kernel sends SIGKILL to every other process in it\n" +
		"(pid_namespaces(7)), and init's exit is not complete until they are reaped; their parent, the\n" +
		"lesson, reaps them.")

	s.Cmd("%s    # docker exec into a stopped container", execCmd(c, []string{"true"}))
	_, err = nsenter.Start(nsenter.Config{Target: pid1, Process: nsenter.Process{Args: []string{"true"}}})
	if !errors.Is(err, nsenter.ErrNotRunning) {
		return fmt.Errorf("exec into the stopped container: %v; want ErrNotRunning", err)
	}
	s.Host("%v", err)

	s.Cmd("docker start web    # a new PID 1, on the same root filesystem")
	if err := c.start(s.Ctx, l); err != nil {
		return err
	}
	s.Host("PID 1 of web is host pid %d now; its upper dir is still %s", c.Pid(), l.rel(c.Upper))
	s.Cmd("PID=%d", c.Pid())
	s.Note("An exec'd process belongs to the container's namespaces, not to its process tree: PID 1 is\n" +
		"not its parent and cannot reap it. It dies with the container, and an exec into a container\n" +
		"that has stopped has nothing to join. Docker answers \"container ... is not running\".")
	return nil
}

// exitOf is how a process that exec.Cmd waited for ended, as nsenter
// says it.
func exitOf(ps *os.ProcessState) nsenter.ExitStatus {
	if ps == nil {
		return nsenter.ExitStatus{}
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return nsenter.ExitStatus{Signal: ws.Signal()}
	}
	return nsenter.ExitStatus{Code: ps.ExitCode()}
}
