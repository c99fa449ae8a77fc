//go:build linux

package main

import (
	"bufio"
	"errors"
	"fmt"
	"strings"

	"github.com/unboxlab/unbox/internal/cgroups"
	"github.com/unboxlab/unbox/internal/kit"
)

// controllers are the ones this lesson limits. (On v1, cpu brings cpuacct,
// the hierarchy with the CPU usage counter; in v2 those counters are part
// of cpu.stat.)
var controllers = []string{"cpu", "memory", "pids"}

// lessonState is what the steps of one run share: the host's cgroup
// filesystem, the parent cgroup the containers' cgroups go under, and what
// the cgroups package did that has not been shown yet.
type lessonState struct {
	h      *cgroups.Host
	parent cgroups.Manager
	ops    []cgroups.Op // traced, not yet shown
	lines  chan string  // Enter presses, for --hold
}

// host detects the cgroup mode once per run, and from then on records
// every change the package makes, for the steps to show.
func (l *lessonState) host() (*cgroups.Host, error) {
	if l.h == nil {
		h, err := cgroups.OpenHost(cgroups.DefaultRoot)
		if err != nil {
			return nil, err
		}
		h.Trace = func(op cgroups.Op) { l.ops = append(l.ops, op) }
		l.h = h
	}
	return l.h, nil
}

// parentName is the cgroup all of this run's cgroups go under, right below
// the root. It holds no process of its own, which cgroup v2 needs of a
// cgroup that hands controllers to its children (see internal/cgroups'
// package doc on choosing a parent).
func parentName() string { return kit.UniqueName("cgroups") }

// leaf creates the cgroup <parent>/name for one step, shows how, and
// registers its removal.
func (l *lessonState) leaf(s *kit.Session, name string) (cgroups.Manager, error) {
	h, err := l.host()
	if err != nil {
		return nil, err
	}
	if l.parent == nil {
		p, err := h.New(cgroups.Config{Parent: "/", Name: parentName(), Controllers: controllers})
		if err != nil {
			return nil, err
		}
		// Registered before it exists, so that a half-made parent goes too;
		// removing the parent removes whatever is below it, deepest first.
		s.Cleanup(p.Destroy)
		l.parent = p
	}
	cg, err := h.New(cgroups.Config{Parent: "/" + parentName(), Name: name, Controllers: controllers})
	if err != nil {
		return nil, err
	}
	s.Cleanup(cg.Destroy)
	err = cg.Create()
	l.show(s)
	return cg, err
}

// show prints what the cgroups package did since the last show, as shell
// commands, and forgets it; comment, if given, is a line of shell comment
// above them (its own format, so that it is translated).
func (l *lessonState) show(s *kit.Session, comment ...string) {
	lines := strings.Join(shellLines(l.h, l.take()), "\n")
	switch {
	case len(comment) > 0 && lines != "":
		s.Cmd(comment[0]+"\n%s", lines)
	case len(comment) > 0:
		s.Cmd(comment[0])
	case lines != "":
		s.Cmd("%s", lines)
	}
}

// take returns what the package did since the last call, and forgets it.
func (l *lessonState) take() []cgroups.Op {
	ops := l.ops
	l.ops = nil
	return ops
}

// hold waits for Enter with --hold, so a person can look at the cgroup from
// another terminal while the child is in it. what is already translated.
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
	s.Say("%s", what)
	s.Say("From another terminal, try:")
	for _, f := range files {
		s.Say("  cat %s", f)
	}
	fmt.Fprintf(s.Writer(), "\n  %s ", s.T("[Enter] to go on…"))
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
