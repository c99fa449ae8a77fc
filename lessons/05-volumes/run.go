//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/cgroups"
	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/mount"
	"github.com/unboxlab/unbox/internal/reexec"
	"github.com/unboxlab/unbox/internal/volume"
)

// runOpts are the flags of one `docker run`.
type runOpts struct {
	Name    string
	Volumes []string // -v, as typed
	Tmpfs   []string // --tmpfs, as typed
	Rm      bool     // --rm: its anonymous volumes go with it
	// Cgroup, when set, is the cgroup the container starts in (step 6).
	Cgroup cgroups.Manager
	// Shell execs the image's shell, with this standard input and output.
	Shell          bool
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// container is one running container of the lesson.
type container struct {
	Name  string
	Dir   string // containers/<name>
	Upper string
	Work  string
	// Merged is where its union is mounted on the host: its root.
	Merged string
	rm     bool

	union    *mount.Mounted
	attached *volume.Attached
	child    *reexec.Child
	// Trace is what entering did, in the container: mount.EnterRoot's
	// steps, its volumes' among them.
	Trace []mount.Step
	// Targets are where its volumes and tmpfs mounts go, inside.
	Targets []string
}

// start does what `docker run` does, in order: check the flags (nothing is
// made for a bad one), make the container's directories and mount its
// union, let the store prepare its volumes (volume.Store.Attach: make them,
// fill new ones from the image), and start the container with its mounts
// in new namespaces.
func (l *lab) start(ctx context.Context, o runOpts) (*container, error) {
	var specs []volume.Spec
	var tmpfs []mount.Mount
	for _, raw := range o.Volumes {
		sp, err := volume.ParseSpec(raw)
		if err != nil {
			return nil, err
		}
		specs = append(specs, sp)
	}
	for _, raw := range o.Tmpfs {
		m, err := mount.ParseTmpfs(raw)
		if err != nil {
			return nil, err
		}
		tmpfs = append(tmpfs, m)
	}
	if err := volume.CheckSpecs(specs); err != nil {
		return nil, err
	}
	dir := l.path("containers", o.Name)
	c := &container{Name: o.Name, Dir: dir, Upper: filepath.Join(dir, "upper"), Work: filepath.Join(dir, "work"),
		Merged: filepath.Join(dir, "merged"), rm: o.Rm}
	for _, sp := range specs {
		c.Targets = append(c.Targets, sp.Target)
	}
	for _, m := range tmpfs {
		c.Targets = append(c.Targets, m.Target)
	}
	for _, d := range []string{c.Upper, c.Work, c.Merged} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	l.Containers = append(l.Containers, c) // from here, teardown removes it
	u, err := l.union(c)
	if err != nil {
		return nil, err
	}
	if c.union, err = mount.MountAll("/", []mount.Mount{u}, nil); err != nil {
		return nil, err
	}
	if c.attached, err = l.store.Attach(c.Name, c.Merged, specs); err != nil {
		return nil, err
	}
	ms := append(append(mount.ContainerMounts(), c.attached.Mounts...), tmpfs...)
	cfg := ctrConfig{Name: o.Name, Shell: o.Shell, Root: mount.RootConfig{
		Dir: c.Merged, Mounts: ms, Devices: mount.SafeDevices, Propagation: mount.RootPropagation(ms)}}
	if err := c.startChild(ctx, o, cfg); err != nil {
		return nil, err
	}
	if o.Shell {
		return c, nil
	}
	if err := c.child.Recv(&c.Trace); err != nil {
		return nil, err
	}
	return c, nil
}

// startChild starts the container's process in new mount, PID and UTS
// namespaces and sends it cfg; with cg, inside that cgroup from before it
// runs (cgroups.Start, as lesson 02 does).
func (c *container) startChild(ctx context.Context, o runOpts, cfg ctrConfig) error {
	newChild := func(cgroupFD int) (int, error) {
		c.child = reexec.NewChild("volumes-ctr")
		c.child.Cmd.SysProcAttr.Cloneflags = unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWUTS
		if cgroupFD >= 0 {
			c.child.Cmd.SysProcAttr.UseCgroupFD = true
			c.child.Cmd.SysProcAttr.CgroupFD = cgroupFD
		}
		if o.Shell {
			c.child.Cmd.Stdin, c.child.Cmd.Stdout, c.child.Cmd.Stderr = o.Stdin, o.Stdout, o.Stderr
		}
		if err := c.child.Start(ctx); err != nil {
			return 0, err
		}
		return c.child.Pid(), nil
	}
	var err error
	if o.Cgroup != nil {
		_, err = cgroups.Start(o.Cgroup, newChild)
	} else {
		_, err = newChild(-1)
	}
	if err != nil {
		return err
	}
	return c.child.Send(cfg)
}

// do asks the running container to do req.
func (c *container) do(req request) (reply, error) {
	var r reply
	if err := c.child.Send(req); err != nil {
		return r, err
	}
	return r, c.child.Recv(&r)
}

// stop ends the container's process: asked to, or killed. A container
// killed already (Ctrl-C cancels the lesson's context, which kills every
// child) is stopped, not an error.
func (c *container) stop() error {
	if c.child == nil {
		return nil
	}
	child := c.child
	c.child = nil
	var err error
	if child.Cmd.ProcessState == nil && child.Send(request{Op: "exit"}) == nil {
		err = child.Wait()
	}
	child.Close()
	if ws, ok := child.Cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return nil
	}
	return err
}

// remove is `docker rm` (-v with volumes): stop the container, unmount its
// union, remove its directories, and let the store forget it
// (volume.Store.Detach), removing its anonymous volumes with --rm or -v.
// It returns the volumes removed.
func (l *lab) remove(c *container, volumes bool) ([]string, error) {
	stopErr := c.stop()
	if c.union != nil {
		if err := c.union.Unmount(); err != nil {
			// Removing files through a union still mounted would delete
			// them in the union: leave the container's directory.
			return nil, fmt.Errorf("docker rm %s: %w", c.Name, errors.Join(stopErr, err))
		}
		c.union = nil
	}
	if err := os.RemoveAll(c.Dir); err != nil {
		return nil, err
	}
	l.Containers = slices.DeleteFunc(l.Containers, func(x *container) bool { return x == c })
	removed, err := l.store.Detach(c.Name, c.rm || volumes)
	if err := errors.Join(stopErr, err); err != nil {
		return removed, fmt.Errorf("docker rm %s: %w", c.Name, err)
	}
	return removed, nil
}

// run is start, narrated: the docker run command, then what the store did
// and the container's mounts of its volumes, each with its system call.
func (l *lab) run(s *kit.Session, o runOpts) (*container, error) {
	s.Cmd("%s", l.dockerRun(o))
	c, err := l.start(s.Ctx, o)
	if err != nil {
		return nil, err
	}
	l.printMounts(s, c)
	return c, nil
}

// dockerRun is the docker command for o; host paths in it are $PWD/...,
// since -v takes a bind source by absolute path.
func (l *lab) dockerRun(o runOpts) string {
	args := []string{"docker run -d"}
	if o.Rm {
		args = append(args, "--rm")
	}
	args = append(args, "--name "+o.Name)
	for _, v := range o.Volumes {
		args = append(args, "-v "+strings.ReplaceAll(v, l.Root+"/", "$PWD/"))
	}
	for _, t := range o.Tmpfs {
		args = append(args, "--tmpfs "+t)
	}
	return strings.Join(append(args, "lesson05"), " ")
}

// printMounts prints what the store did for a container and how its
// volumes were mounted, from the traces of volume.Store and mount.EnterRoot
// (the container's /proc, /sys, /dev and pivot_root are lesson 03's, and
// left out). $M stands for the container's root, $ID for a new anonymous
// volume's name.
func (l *lab) printMounts(s *kit.Session, c *container) {
	var lines [][2]string
	for _, v := range c.attached.Volumes {
		if v.Anonymous && slices.Contains(c.attached.Created, v.Name) {
			lines = append(lines, [2]string{"# a new anonymous volume, named by a random ID:", ""},
				[2]string{"ID=" + v.Name, ""})
		}
	}
	for _, e := range l.takeEvents() {
		lines = append(lines, [2]string{e, ""})
	}
	for _, st := range c.Trace {
		if st.Path == "/" && strings.Contains(st.Call, "MS_SLAVE") {
			lines = append(lines, [2]string{st.Command, st.Call + ": the host's mounts still come in"})
			continue
		}
		for _, t := range c.Targets {
			if st.Path == c.Merged+t || strings.HasPrefix(st.Path, c.Merged+t+"/") {
				lines = append(lines, [2]string{st.Command, st.Call})
				break
			}
		}
	}
	if len(lines) == 0 {
		return
	}
	for i := range lines {
		cmd := strings.ReplaceAll(lines[i][0], c.Merged, "$M")
		for _, v := range c.attached.Volumes {
			if v.Anonymous && !strings.HasPrefix(cmd, "ID=") {
				cmd = strings.ReplaceAll(cmd, v.Name, "$ID")
			}
		}
		lines[i][0] = l.rel(cmd)
	}
	lines = append([][2]string{{"M=" + l.rel(c.Merged) + "    # its root: the union, mounted by docker run (step 1)", ""}}, lines...)
	s.Cmd("%s", alignComments(lines))
}

// alignComments lays out commands with a "# comment" after each that has
// one, the comments in one column; a comment that would make its line
// longer than the transcripts' 100 columns goes on a line of its own.
func alignComments(lines [][2]string) string {
	const limit = 100 - len("  $ ")
	width := 0
	for _, l := range lines {
		if l[1] != "" && len(l[0])+4+len(l[1]) <= limit {
			width = max(width, len(l[0]))
		}
	}
	var out []string
	for _, l := range lines {
		switch {
		case l[1] == "":
			out = append(out, l[0])
		case max(width, len(l[0]))+4+len(l[1]) > limit:
			out = append(out, "# "+l[1]+":", l[0])
		default:
			out = append(out, fmt.Sprintf("%-*s  # %s", width, l[0], l[1]))
		}
	}
	return strings.Join(out, "\n")
}

// exec prints `docker exec <name> <cmd>` and asks the container to do req.
func (l *lab) exec(s *kit.Session, c *container, cmd string, req request) (reply, error) {
	s.Cmd("docker exec %s %s", c.Name, cmd)
	return c.do(req)
}

// inside prints a reply's lines, or its error, as seen inside.
func inside(s *kit.Session, r reply, what string) {
	switch {
	case r.Err != "":
		s.Inside("%s: %s", what, r.Err)
	case len(r.Lines) == 0 && r.Text == "":
		s.Inside("%s: (empty)", what)
	case r.Text != "":
		s.Inside("%s", r.Text)
	default:
		s.Inside("%s", strings.Join(r.Lines, "\n"))
	}
}

// hostLs prints `ls -ln dir` on the host.
func (l *lab) hostLs(s *kit.Session, dir string) {
	lines, err := lsLines(dir)
	switch {
	case err != nil:
		s.Host("ls %s: %s", l.rel(dir), errText(err))
	case len(lines) == 0:
		s.Host("ls %s: (empty)", l.rel(dir))
	default:
		s.Host("%s", strings.Join(lines, "\n"))
	}
}
