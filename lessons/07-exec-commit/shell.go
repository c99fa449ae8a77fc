//go:build linux

package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/term"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/nsenter"
)

// shell is --shell: `docker exec -it web sh`, into the container the steps
// ran. On a terminal, the lesson's terminal goes raw (every key, Ctrl-C
// included, goes to the shell's terminal), and a resize of the window is
// passed on.
func (st *state) shell(s *kit.Session) error {
	c, err := st.running()
	if err != nil {
		return err
	}
	n := len(s.Lesson.Steps) + 1
	s.Step(n, n, "A shell in container web",
		"docker exec -it web sh: a shell joined to web's namespaces and cgroup, on a terminal of web's\n"+
			"own. Try: ps -o pid,ppid,comm; tty; hostname; ls /proc/1/ns -l. Type exit to leave.")
	s.Cmd("PID=%d\n%s\nweb sh    # with a terminal: docker exec -it web sh", c.Pid(), execFunction(c))

	in, _ := s.In.(*os.File)
	opts := execOpts{Terminal: true, Size: nsenter.Winsize{Rows: 24, Cols: 80}}
	onTerminal := in != nil && term.IsTerminal(int(in.Fd()))
	if onTerminal {
		if size, err := nsenter.TerminalSize(in); err == nil {
			opts.Size = size
		}
	}
	return s.Foreground(func() error {
		cfg := c.Image.Config.Config
		env := append(append([]string{}, cfg.Env...), "PS1=web# ")
		if t := os.Getenv("TERM"); t != "" {
			env = append(env, "TERM="+t)
		}
		proc := nsenter.Process{Args: []string{"sh"}, Env: env, Cwd: cfg.WorkingDir, Terminal: true, Size: opts.Size,
			Stdin: s.In, Stdout: s.Out}
		p, err := nsenter.Start(nsenter.Config{Target: c.Pid(), Cgroup: c.Cgroup, Process: proc})
		if err != nil {
			return err
		}
		st.lab.execs = append(st.lab.execs, p)
		if onTerminal {
			old, err := term.MakeRaw(int(in.Fd()))
			if err != nil {
				p.Signal(syscall.SIGKILL)
				p.Wait()
				return fmt.Errorf("make the terminal raw: %w", err)
			}
			defer term.Restore(int(in.Fd()), old)
			winch := make(chan os.Signal, 1)
			signal.Notify(winch, syscall.SIGWINCH)
			defer signal.Stop(winch)
			go func() {
				for range winch {
					if size, err := nsenter.TerminalSize(in); err == nil {
						p.Resize(size)
					}
				}
			}()
		}
		status, err := p.Wait()
		if onTerminal {
			fmt.Fprint(s.Out, "\r")
		}
		if err != nil && !errors.Is(err, os.ErrClosed) {
			return err
		}
		s.Note("The shell ended: %v.", status)
		return nil
	})
}
