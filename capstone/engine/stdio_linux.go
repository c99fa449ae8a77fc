package engine

import (
	"context"
	"os"
	"time"
)

// stdio is one start's stdio: the ends the container's init inherits
// (through the runtime), and the monitor's ends.
type stdio struct {
	create    CreateIO   // what the runtime gets
	children  []*os.File // the container's ends, closed here once the runtime has them
	stdout    *os.File   // the monitor's read ends
	stderr    *os.File
	stdin     *os.File // the monitor's write end, with -i
	console   *consoleSocket
	master    *os.File // the terminal's master, with -t
	openStdin bool
}

// openStdio makes the container's stdio: pipes, or a console socket for
// the runtime to send a terminal's master to.
func (m *monitor) openStdio(c *Container) (*stdio, error) {
	s := &stdio{openStdin: c.Config.OpenStdin}
	if c.Config.Tty {
		cs, err := listenConsole(m.e.runDir(c.ID))
		if err != nil {
			return nil, err
		}
		s.console, s.create.ConsoleSocket = cs, cs.path
		return s, nil
	}
	pipe := func() (r, w *os.File, err error) {
		r, w, err = os.Pipe()
		return
	}
	var err error
	var ow, ew *os.File
	if s.stdout, ow, err = pipe(); err != nil {
		return nil, err
	}
	s.children = append(s.children, ow)
	if s.stderr, ew, err = pipe(); err != nil {
		s.closeAll()
		return nil, err
	}
	s.children = append(s.children, ew)
	s.create.Stdout, s.create.Stderr = ow, ew
	if c.Config.OpenStdin {
		r, w, err := pipe()
		if err != nil {
			s.closeAll()
			return nil, err
		}
		s.children = append(s.children, r)
		s.stdin, s.create.Stdin = w, r
	} else {
		// Not the monitor's own stdin: /dev/null, opened for the
		// container, as Docker gives one run without -i.
		null, err := os.Open(os.DevNull)
		if err != nil {
			s.closeAll()
			return nil, err
		}
		s.children = append(s.children, null)
		s.create.Stdin = null
	}
	return s, nil
}

// closeChildEnds closes the container's ends here: the container holds
// them now, and the pipes end when it does.
func (s *stdio) closeChildEnds() {
	for _, f := range s.children {
		f.Close()
	}
	s.children = nil
}

// takeConsole receives the terminal's master from the runtime.
func (s *stdio) takeConsole(ctx context.Context) error {
	if s.console == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	m, err := s.console.Receive(ctx)
	s.console.Close()
	s.console = nil
	if err != nil {
		return err
	}
	s.master = m
	return nil
}

func (s *stdio) closeAll() {
	s.closeChildEnds()
	for _, f := range []*os.File{s.stdout, s.stderr, s.stdin, s.master} {
		if f != nil {
			f.Close()
		}
	}
	if s.console != nil {
		s.console.Close()
	}
}

// startPumps copies the container's output into the log and to the
// clients, and makes its stdin writable by them.
func (m *monitor) startPumps(s *stdio) {
	m.mu.Lock()
	defer m.mu.Unlock()
	// Docker's StdinOnce: piped stdin ends with its attached client. A
	// terminal stays open when its client leaves (the detach keys, or a
	// killed CLI), so that a shell in it can be attached to again.
	m.stdinOnce = s.openStdin && s.master == nil
	if s.master != nil {
		m.console = s.master
		if s.openStdin {
			m.stdin = s.master
		}
		m.pumps.Add(1)
		go func() { defer m.pumps.Done(); m.log.pump(s.master, "stdout", frameStdout) }()
		return
	}
	if s.stdin != nil {
		m.stdin = s.stdin
	}
	m.pumps.Add(2)
	go func() { defer m.pumps.Done(); m.log.pump(s.stdout, "stdout", frameStdout); s.stdout.Close() }()
	go func() { defer m.pumps.Done(); m.log.pump(s.stderr, "stderr", frameStderr); s.stderr.Close() }()
}
