//go:build linux

package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/unboxlab/unbox/internal/cgroups"
	"github.com/unboxlab/unbox/internal/nsenter"
	"github.com/unboxlab/unbox/internal/ocilayout"
	"github.com/unboxlab/unbox/internal/rootfs"
)

// state is what the steps share.
type state struct {
	lab    *lab
	base   ocilayout.Image
	source rootfs.Source
	snaps  []snapshot
	web    *container // the container of steps 1 to 8

	layer     ocilayout.Layer // step 8's commit
	committed ocilayout.Image // step 9's image
	web2      *container      // and its container
}

// container returns the running container of step 1.
func (st *state) running() (*container, error) {
	if st.web == nil || st.web.Pid() == 0 {
		return nil, errors.New("no running container: step 1 starts it")
	}
	return st.web, nil
}

// execOpts are what an exec takes beyond the command: docker exec's -e,
// -w, -t.
type execOpts struct {
	Env      []string // added to the image's
	Cwd      string   // instead of the image's WorkingDir
	Terminal bool
	Size     nsenter.Winsize
	Stdin    *os.File
}

// exec starts args in c as `docker exec` does: every namespace of its PID
// 1, its cgroup, the image's environment and working directory. The
// process is remembered, so that the lesson waits for it before its
// container goes (see container.kill).
func (l *lab) exec(c *container, args []string, o execOpts, out *syncBuffer) (*nsenter.Proc, error) {
	if c.Pid() == 0 {
		return nil, fmt.Errorf("exec into container %s: %w", c.Name, nsenter.ErrNotRunning)
	}
	cfg := c.Image.Config.Config
	proc := nsenter.Process{
		Args: args, Env: append(append([]string{}, cfg.Env...), o.Env...), Cwd: cfg.WorkingDir,
		Terminal: o.Terminal, Size: o.Size,
	}
	if o.Cwd != "" {
		proc.Cwd = o.Cwd
	}
	if o.Stdin != nil {
		proc.Stdin = o.Stdin
	}
	if out != nil {
		proc.Stdout, proc.Stderr = out, out
	}
	p, err := nsenter.Start(nsenter.Config{Target: c.Pid(), Cgroup: c.Cgroup, Process: proc})
	if err != nil {
		return nil, err
	}
	l.execs = append(l.execs, p)
	return p, nil
}

// run execs args in c and waits: its output and how it ended.
func (l *lab) run(c *container, args []string, o execOpts) (string, nsenter.ExitStatus, error) {
	var out syncBuffer
	p, err := l.exec(c, args, o, &out)
	if err != nil {
		return "", nsenter.ExitStatus{}, err
	}
	status, err := p.Wait()
	return out.String(), status, err
}

// syncBuffer collects a process's output while the lesson reads it.
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

// shellQuote quotes a command's arguments for a shell line: nsenter ...
// sh -c '...'.
func shellQuote(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = cgroups.ShellQuote(a)
	}
	return strings.Join(q, " ")
}

// execFunction is docker exec as a shell function, for the commands the
// lesson prints: util-linux's nsenter into every namespace of PID 1, in the
// image's working directory (--wdns) with the image's environment. (A
// runtime also writes the new process into the container's cgroup.)
func execFunction(c *container) string {
	cfg := c.Image.Config.Config
	return fmt.Sprintf("%s() {    # docker exec %s, in a shell: PID 1's namespaces, the image's directory and env\n"+
		"    nsenter --target $PID --all --wdns=%s \\\n        env -i %s \"$@\"\n}", c.Name, c.Name, cfg.WorkingDir, shellQuote(cfg.Env))
}

// execCmd is an exec into c, as the shell function of execFunction runs it.
func execCmd(c *container, args []string) string {
	return c.Name + " " + shellQuote(args)
}
