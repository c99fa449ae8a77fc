//go:build linux

package main

// The checks of the exercises (exercises.go). Checks 1 and 2 start a
// container as step 1 does, in a lab of their own, and look at what the
// learner's code did from the host: /proc/<pid>/status, the PID namespace,
// the cgroup. Check 3 lets overlayfs write an upper dir, and compares the
// learner's reading of it with what the changes were.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/mount"
	"github.com/unboxlab/unbox/internal/nsenter"
	"github.com/unboxlab/unbox/internal/overlay"
	"github.com/unboxlab/unbox/internal/procfs"
)

var exercises = []kit.Exercise{
	{
		Title: "docker exec -u -w -e: the process to start",
		Stub:  "exercises.go:execProcess",
		Check: checkExecProcess,
		Hint: "the image's Env, then the flags' (the last of a name wins); the flags' Workdir, or the\n" +
			"image's WorkingDir when it is empty; UID and GID are nsenter.Process fields.",
	},
	{
		Title: "docker top: every process of a container, from the host",
		Stub:  "exercises.go:containerPIDs",
		Check: checkContainerPIDs,
		Hint: "two processes share a PID namespace when /proc/<pid>/ns/pid of each is the same inode\n" +
			"(and device): compare PID 1's with every /proc/<number>'s.",
	},
	{
		Title: "docker diff: a container's changes, read from its upper dir",
		Stub:  "exercises.go:diffUpper",
		Check: checkDiffUpper,
		Hint: "a whiteout (overlay.ReadMarker) is a deletion; any other entry of upper is a change\n" +
			"when a lower layer has its path, an addition when none does. Parents count too.",
	},
}

// execFlags are docker exec's -u UID:GID, -w and -e.
type execFlags struct {
	UID, GID uint32
	Workdir  string   // -w; "" keeps the image's WorkingDir
	Env      []string // -e KEY=value, after the image's
}

// checkContainer starts a container as step 1 does, in a lab of its own,
// removed however the check ends.
func checkContainer(s *kit.Session) (*lab, *container, error) {
	l, err := newLab(filepath.Join(os.TempDir(), kit.UniqueName("lesson07-check")))
	if err != nil {
		return nil, nil, err
	}
	s.Cleanup(l.teardown)
	base, _, err := l.buildBase(s.Ctx)
	if err != nil {
		return nil, nil, err
	}
	snaps, err := l.unpack(base)
	if err != nil {
		return nil, nil, err
	}
	c, err := l.newContainer("web", base, snaps)
	if err != nil {
		return nil, nil, err
	}
	if err := c.start(s.Ctx, l); err != nil {
		return nil, nil, err
	}
	s.Cmd("# a container as step 1 starts one: web, its PID 1 sleeps\nPID=%d", c.Pid())
	return l, c, nil
}

// execLook is what check 1 runs inside: what the process is, then it
// waits on its standard input while the host looks at it.
const execLook = `echo "id -u: $(id -u), id -g: $(id -g), pwd: $(pwd)"; ` +
	`echo "GREETING=$GREETING COLOR=$COLOR"; echo ---; read x`

// checkExecProcess execs into a container twice with the learner's
// process, with flags and without, and looks at each from inside and from
// the host.
func checkExecProcess(s *kit.Session) error {
	img := imageConfig // the image checkContainer's container runs
	cases := []struct {
		cmd   string
		flags execFlags
		// want is what the process says of itself; uid its Uid line in
		// the host's /proc (the container maps IDs to themselves).
		want string
		uid  uint32
		proc nsenter.Process
	}{
		{cmd: "docker exec -u 65534:65534 -w /tmp -e COLOR=blue -e GREETING=hi web sh -c '...'",
			flags: execFlags{UID: 65534, GID: 65534, Workdir: "/tmp", Env: []string{"COLOR=blue", "GREETING=hi"}},
			want:  "id -u: 65534, id -g: 65534, pwd: /tmp\nGREETING=hi COLOR=blue", uid: 65534},
		{cmd: "docker exec web sh -c '...'",
			want: "id -u: 0, id -g: 0, pwd: " + img.WorkingDir + "\nGREETING=" + envOf(img.Env, "GREETING") + " COLOR="},
	}
	// The learner's code first: a stub fails before a container starts.
	for i, tc := range cases {
		proc, err := execProcess(img, tc.flags, []string{"sh", "-c", execLook})
		if err != nil {
			return fmt.Errorf("execProcess: %w", err)
		}
		if !slices.Equal(proc.Args, []string{"sh", "-c", execLook}) {
			return kit.Errorf("execProcess: Args %q; want the args it was given", proc.Args)
		}
		cases[i].proc = proc
	}
	l, c, err := checkContainer(s)
	if err != nil {
		return err
	}
	for _, tc := range cases {
		proc := tc.proc
		stdinR, stdinW, err := os.Pipe()
		if err != nil {
			return err
		}
		var out syncBuffer
		proc.Stdin, proc.Stdout, proc.Stderr = stdinR, &out, &out
		s.Cmd("%s    # your execProcess", tc.cmd)
		p, err := nsenter.Start(nsenter.Config{Target: c.Pid(), Cgroup: c.Cgroup, Process: proc})
		stdinR.Close()
		if err != nil {
			stdinW.Close()
			return kit.Errorf("starting your process: %w", err)
		}
		l.execs = append(l.execs, p)
		werr := waitFor(&out, "---\n", p)
		status, serr := procfs.ReadStatus(strconv.Itoa(p.Pid()))
		stdinW.Close()
		p.Wait()
		if werr != nil {
			return werr
		}
		if serr != nil {
			return serr
		}
		said, _, _ := strings.Cut(out.String(), "\n---\n")
		s.Inside("%s", said)
		s.Host("grep -E 'Uid|Gid' /proc/%d/status: Uid: %s; Gid: %s", p.Pid(),
			strings.Join(strings.Fields(status["Uid"]), " "), strings.Join(strings.Fields(status["Gid"]), " "))
		if said != tc.want {
			return kit.Errorf("the process says:\n%s\nwant:\n%s", indent(said), indent(tc.want))
		}
		wantID := strconv.FormatUint(uint64(tc.uid), 10)
		for _, key := range []string{"Uid", "Gid"} {
			if f := strings.Fields(status[key]); len(f) != 4 || slices.ContainsFunc(f, func(id string) bool { return id != wantID }) {
				return kit.Errorf("the kernel's %s of the process: %q; want %s in every field", key, status[key], wantID)
			}
		}
	}
	return nil
}

// envOf is the value of name in env, the last one set.
func envOf(env []string, name string) string {
	v := ""
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == name {
			v = val
		}
	}
	return v
}

func indent(s string) string { return "  " + strings.ReplaceAll(s, "\n", "\n  ") }

// checkContainerPIDs execs two processes into a container, and wants the
// learner's containerPIDs to name those, PID 1, and nothing else: the
// kernel's own list is the container's cgroup.procs.
func checkContainerPIDs(s *kit.Session) error {
	l, c, err := checkContainer(s)
	if err != nil {
		return err
	}
	want := []int{c.Pid()}
	for range 2 {
		p, err := l.exec(c, []string{"sleep", "600"}, execOpts{}, nil)
		if err != nil {
			return err
		}
		want = append(want, p.Pid())
	}
	slices.Sort(want)
	s.Cmd("web sleep 600 & web sleep 600 &\n# your containerPIDs($PID): docker top web")
	got, err := containerPIDs(c.Pid())
	if err != nil {
		return fmt.Errorf("containerPIDs(%d): %w", c.Pid(), err)
	}
	var rows [][]string
	for _, pid := range got {
		st, err := procfs.ReadStatus(strconv.Itoa(pid))
		if err != nil {
			rows = append(rows, []string{strconv.Itoa(pid), "?", s.T("(gone: %v)", err)})
			continue
		}
		rows = append(rows, []string{strconv.Itoa(pid), st["NSpid"], st["Name"]})
	}
	s.Table([]string{"host pid", "NSpid: host, then inside", "comm"}, rows)
	procs, err := c.Cgroup.Procs()
	if err != nil {
		return err
	}
	slices.Sort(procs)
	s.Cmd("cat /sys/fs/cgroup%s/cgroup.procs    # the kernel's list", c.Cgroup.Path())
	s.Host("%s", strings.Trim(fmt.Sprint(procs), "[]"))
	if !slices.Equal(procs, want) {
		return kit.Errorf("the container's cgroup holds %v, the check started %v: the check is wrong, not you", procs, want)
	}
	if !slices.Equal(got, want) {
		return kit.Errorf("containerPIDs(%d) = %v; want %v (PID 1 and the two exec'd, in increasing order)", c.Pid(), got, want)
	}
	return nil
}

// diffChanges are what check 3 does to the union, and wantDiff the docker
// diff of them, in the order of the paths.
var (
	diffChanges = "echo '<p>new</p>' > srv/www/new.html; echo changed >> etc/motd; rm srv/www/about.html\n" +
		"rm -r var/cache/app && mkdir var/cache/app && echo fresh > var/cache/app/fresh\n" +
		"mkdir -p opt/tool && echo run > opt/tool/run"
	wantDiff = []string{
		"C /etc", "C /etc/motd",
		"A /opt", "A /opt/tool", "A /opt/tool/run",
		"C /srv", "C /srv/www", "D /srv/www/about.html", "A /srv/www/new.html",
		"C /var", "C /var/cache", "C /var/cache/app", "A /var/cache/app/fresh",
	}
)

// checkDiffUpper makes a union of the app's files, changes it through the
// mount so that overlayfs writes its upper dir, unmounts it, and compares
// the learner's diffUpper with what the changes were.
func checkDiffUpper(s *kit.Session) error {
	dir := filepath.Join(os.TempDir(), kit.UniqueName("lesson07-check"))
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	var unmount func() error
	s.Cleanup(func() error {
		if unmount != nil {
			if err := unmount(); err != nil {
				return kit.Errorf("%w; left %s in place", err, dir)
			}
		}
		return os.RemoveAll(dir)
	})
	lower, upper, work, merged := filepath.Join(dir, "lower"), filepath.Join(dir, "upper"),
		filepath.Join(dir, "work"), filepath.Join(dir, "merged")
	for _, d := range []string{upper, work, merged} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	for _, f := range appFiles {
		p := filepath.Join(lower, f.Path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(f.Content), 0o644); err != nil {
			return err
		}
	}
	opts, err := (overlay.Layers{Lower: []string{lower}, Upper: upper, Work: work}).Options(os.Getpagesize())
	if err != nil {
		return err
	}
	m, err := mount.MountAll("/", []mount.Mount{{Source: overlay.FSType, Target: merged, Type: overlay.FSType, Data: opts}}, nil)
	if err != nil {
		return fmt.Errorf("%w%s", err, overlay.MountHint(err))
	}
	unmount = m.Unmount
	s.Cmd("cd %s\nmount -t overlay overlay merged -o lowerdir=lower,upperdir=upper,workdir=work\n"+
		"cd merged; %s", dir, strings.ReplaceAll(diffChanges, "\n", "\n"))
	if err := changeUnion(merged); err != nil {
		return err
	}
	err, unmount = unmount(), nil
	if err != nil {
		return err
	}
	s.Cmd("cd ..; umount merged    # the container stopped\n# your diffUpper(upper, [lower])")
	got, err := diffUpper(upper, []string{lower})
	if err != nil {
		return fmt.Errorf("diffUpper: %w", err)
	}
	s.Show("%s", strings.Join(got, "\n"))
	sorted := slices.Clone(got)
	slices.SortStableFunc(sorted, func(a, b string) int { return strings.Compare(pathOf(a), pathOf(b)) })
	if !slices.Equal(sorted, wantDiff) {
		var missing, extra []string
		for _, w := range wantDiff {
			if !slices.Contains(got, w) {
				missing = append(missing, w)
			}
		}
		for _, g := range got {
			if !slices.Contains(wantDiff, g) {
				extra = append(extra, g)
			}
		}
		return kit.Errorf("diffUpper lacks %q and has %q that the changes do not explain", missing, extra)
	}
	return nil
}

func pathOf(line string) string {
	_, p, _ := strings.Cut(line, " ")
	return p
}

// changeUnion is diffChanges, through the union at merged: overlayfs
// copies up, writes a whiteout and makes an opaque directory.
func changeUnion(merged string) error {
	p := func(rel string) string { return filepath.Join(merged, rel) }
	steps := []func() error{
		func() error { return os.WriteFile(p("srv/www/new.html"), []byte("<p>new</p>\n"), 0o644) },
		func() error {
			f, err := os.OpenFile(p("etc/motd"), os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				return err
			}
			_, err = f.WriteString("changed\n")
			return errors.Join(err, f.Close())
		},
		func() error { return os.Remove(p("srv/www/about.html")) },
		func() error { return os.RemoveAll(p("var/cache/app")) },
		func() error { return os.Mkdir(p("var/cache/app"), 0o755) },
		func() error { return os.WriteFile(p("var/cache/app/fresh"), []byte("fresh\n"), 0o644) },
		func() error { return os.MkdirAll(p("opt/tool"), 0o755) },
		func() error { return os.WriteFile(p("opt/tool/run"), []byte("run\n"), 0o644) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return kit.Errorf("changing the union: %w", err)
		}
	}
	return nil
}
