//go:build linux

package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/unboxlab/unbox/internal/kit"
)

// lessonState is what the steps of one run share: the host's cgroup
// filesystem and the parent cgroup the containers' cgroups go under.
type lessonState struct {
	h      *Host
	parent Cgroup
	lines  chan string // Enter presses, for --hold
}

// host detects the cgroup mode once per run.
func (l *lessonState) host() (Host, error) {
	if l.h == nil {
		h, err := openHost(cgroupRoot)
		if err != nil {
			return Host{}, err
		}
		l.h = &h
	}
	return *l.h, nil
}

// parentName is the cgroup all of this run's cgroups go under. It holds no
// process of its own, which cgroup v2 needs of a cgroup that hands
// controllers to its children.
func parentName() string { return "/" + kit.UniqueName("cgroups") }

// leaf creates the cgroup <parent>/name for one step, prints how, and
// registers its removal.
func (l *lessonState) leaf(s *kit.Session, name string) (Cgroup, error) {
	h, err := l.host()
	if err != nil {
		return nil, err
	}
	if l.parent == nil {
		p, err := h.Cgroup(parentName())
		if err != nil {
			return nil, err
		}
		// Registered before it exists, so that a half-made parent goes too;
		// removing the parent removes whatever is below it, deepest first.
		s.Cleanup(p.Destroy)
		l.parent = p
	}
	cg, ops, err := h.Create(parentName() + "/" + name)
	if cg != nil {
		s.Cleanup(cg.Destroy)
	}
	if lines := opLines(h, ops); len(lines) > 0 {
		s.Cmd("%s", strings.Join(lines, "\n"))
	}
	return cg, err
}

// hold waits for Enter with --hold, so a person can look at the cgroup from
// another terminal while the child is in it.
func (l *lessonState) hold(s *kit.Session, what string, files ...string) error {
	if !s.Flags.Bool("hold") {
		return nil
	}
	if s.Flags.Bool("pause") {
		return errors.New("--hold and --pause both wait for Enter: use one of them")
	}
	if l.lines == nil {
		l.lines = make(chan string)
		go func() {
			defer close(l.lines)
			r := bufio.NewReader(s.In)
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					return
				}
				l.lines <- line
			}
		}()
	}
	fmt.Fprintln(s.Writer())
	s.Say("%s. From another terminal, try:", what)
	for _, f := range files {
		s.Say("  cat %s", f)
	}
	fmt.Fprintf(s.Writer(), "\n  [Enter] to go on… ")
	select {
	case _, ok := <-l.lines:
		fmt.Fprintln(s.Writer())
		if !ok {
			return errors.New("--hold: standard input ended")
		}
		return nil
	case <-s.Ctx.Done():
		fmt.Fprintln(s.Writer())
		return s.Ctx.Err()
	}
}

// opLines turns what Create did into shell commands. In v1 one cgroup is a
// directory per hierarchy, so the mkdirs of one cgroup are printed as one
// command with a brace list: mkdir /sys/fs/cgroup/{cpu,memory}/x.
func opLines(h Host, ops []op) []string {
	var lines, rels []string
	byRel := map[string][]string{}
	flush := func() {
		for _, r := range rels {
			lines = append(lines, "mkdir "+shellPaths(byRel[r]))
		}
		rels, byRel = nil, map[string][]string{}
	}
	for _, o := range ops {
		if o.Mkdir == "" {
			flush()
			lines = append(lines, o.Write.Shell())
			continue
		}
		r := relPath(h, o.Mkdir)
		if _, ok := byRel[r]; !ok {
			rels = append(rels, r)
		}
		byRel[r] = append(byRel[r], o.Mkdir)
	}
	flush()
	return lines
}

// relPath is a cgroup directory's path inside its hierarchy.
func relPath(h Host, dir string) string {
	rel := strings.TrimPrefix(dir, h.Root)
	if !h.Mode.V2() {
		// Drop the hierarchy: /memory/unbox-cgroups-42 -> /unbox-cgroups-42.
		if i := strings.Index(rel[1:], "/"); i >= 0 {
			rel = rel[i+1:]
		}
	}
	return rel
}

// shellPaths writes paths that differ in one component as a shell brace
// list, /sys/fs/cgroup/{cpu,memory}/x, or else separated by spaces.
func shellPaths(paths []string) string {
	if len(paths) == 1 {
		return paths[0]
	}
	first := strings.Split(paths[0], "/")
	var differ = -1
	for _, p := range paths[1:] {
		f := strings.Split(p, "/")
		if len(f) != len(first) {
			return strings.Join(paths, " ")
		}
		for i := range f {
			if f[i] != first[i] {
				if differ >= 0 && differ != i {
					return strings.Join(paths, " ")
				}
				differ = i
			}
		}
	}
	if differ < 0 {
		return paths[0]
	}
	var alts []string
	for _, p := range paths {
		c := strings.Split(p, "/")[differ]
		if strings.ContainsAny(c, ",{} ") {
			return strings.Join(paths, " ")
		}
		alts = append(alts, c)
	}
	out := append([]string{}, first...)
	out[differ] = "{" + strings.Join(alts, ",") + "}"
	return strings.Join(out, "/")
}

// writeCmd is `echo value > file`, or with tee for several files.
func writeCmd(value string, files []string) string {
	if len(files) == 1 {
		return fmt.Sprintf("echo %s > %s", quoteIfNeeded(value), files[0])
	}
	return fmt.Sprintf("echo %s | tee %s", quoteIfNeeded(value), shellPaths(files))
}

// writeLines are the writes as shell commands, for one s.Cmd.
func writeLines(ws []fileWrite) string {
	var lines []string
	for _, w := range ws {
		if _, err := os.Stat(w.Path); err != nil && w.Optional {
			continue // not written: see apply
		}
		lines = append(lines, w.Shell())
	}
	return strings.Join(lines, "\n")
}

// inEach is name in each of the cgroup's directories.
func inEach(cg Cgroup, name string) []string {
	var out []string
	for _, d := range cg.Dirs() {
		out = append(out, filepath.Join(d, name))
	}
	return out
}
