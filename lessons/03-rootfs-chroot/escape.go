//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/reexec"
)

func init() { reexec.Register("escape", escapeChild) }

// escapeDir is the directory the escaping process makes, in its root, and
// chroots into.
const escapeDir = "/unbox-escape"

// maxUps bounds the walk up: no real tree is this deep, and a loop that
// found no top would otherwise never end.
const maxUps = 256

// escapeConfig tells the escaping process where it starts and what to look for.
type escapeConfig struct {
	// Chroot, if set, is where the process chroots first (and chdirs to /),
	// as `chroot DIR program` would: step 3. Inside the container (step 6)
	// it is empty: the process is already there.
	Chroot string
	Marker string // the host file to reach
	Find   bool   // also search the root it ends in for the marker's name
}

// escapeReport is what the escaping process saw, in order.
type escapeReport struct {
	Before    string   // cat <marker> before trying: the error
	Cwd       []string // getcwd after chroot into escapeDir, then after each cd ..
	Ups       int      // how many cd .. it took to reach a directory whose .. is itself
	After     string   // getcwd after chroot .
	Root      []string // ls -A / after chroot .
	Marker    string   // the marker's content, if it could be read
	MarkerErr string   // else why not
	Found     []string // find / -xdev -name <marker's name>, when asked
}

// escapeChild runs the classic escape: chroot(2) into a subdirectory
// without changing directory, so that the working directory is outside the
// root, then `cd ..` until . and .. are the same directory, then chroot(".").
func escapeChild(c *reexec.Conn) error {
	var cfg escapeConfig
	if err := c.Recv(&cfg); err != nil {
		return err
	}
	if cfg.Chroot != "" {
		if err := unix.Chroot(cfg.Chroot); err != nil {
			return fmt.Errorf("chroot %s: %w", cfg.Chroot, err)
		}
		if err := unix.Chdir("/"); err != nil {
			return fmt.Errorf("cd /: %w", err)
		}
	}
	r, err := escape(cfg)
	if err != nil {
		return err
	}
	return c.Send(r)
}

func escape(cfg escapeConfig) (escapeReport, error) {
	var r escapeReport
	if _, err := os.Stat(cfg.Marker); err != nil {
		r.Before = errText(err)
	} else {
		r.Before = "it is there: this root does not hide it"
	}
	if err := os.Mkdir(escapeDir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return r, fmt.Errorf("mkdir %s: %w", escapeDir, err)
	}
	// chroot(2): "This call does not change the current working directory,
	// so that after the call '.' can be outside the tree rooted at '/'."
	if err := unix.Chroot(escapeDir); err != nil {
		return r, fmt.Errorf("chroot %s: %w", escapeDir, err)
	}
	r.Cwd = append(r.Cwd, getcwd())
	for ; r.Ups < maxUps; r.Ups++ {
		top, err := sameDir(".", "..")
		if err != nil {
			return r, err
		}
		if top {
			break
		}
		if err := unix.Chdir(".."); err != nil {
			return r, fmt.Errorf("cd ..: %w", err)
		}
		r.Cwd = append(r.Cwd, getcwd())
	}
	if err := unix.Chroot("."); err != nil {
		return r, fmt.Errorf("chroot .: %w", err)
	}
	r.After = getcwd()
	var err error
	if r.Root, err = ls("/"); err != nil {
		return r, err
	}
	if b, err := os.ReadFile(cfg.Marker); err == nil {
		r.Marker = string(b)
	} else {
		r.MarkerErr = errText(err)
	}
	if cfg.Find {
		if r.Found, err = findXdev("/", filepath.Base(cfg.Marker)); err != nil {
			return r, err
		}
	}
	return r, nil
}

// runEscape starts the escaping process and waits for its report. With
// chroot set it starts from the host and chroots there first.
func runEscape(ctx context.Context, cfg escapeConfig) (escapeReport, error) {
	var r escapeReport
	c := reexec.NewChild("escape")
	if err := c.Start(ctx); err != nil {
		return r, err
	}
	defer c.Close()
	if err := c.Send(cfg); err != nil {
		return r, err
	}
	if err := c.Recv(&r); err != nil {
		return r, err
	}
	return r, c.Wait()
}

// narrateEscape prints an escape attempt, the same way for steps 3 and 6.
func narrateEscape(s *kit.Session, marker string, r escapeReport) {
	s.Inside("cat %s: %s", marker, r.Before)
	s.Cmd("mkdir %s\n"+
		"# chroot(\"%s\"): the system call alone, which does not change\n"+
		"# the working directory (chroot(8) would also cd into it)", escapeDir, escapeDir)
	s.Inside("getcwd: %s", r.Cwd[0])
	s.Cmd("# chdir(\"..\"), again and again, until . and .. are the same directory")
	if r.Ups == 0 {
		s.Inside("no need: . and .. are already the same directory")
	}
	for _, cwd := range r.Cwd[1:] {
		s.Inside("getcwd: %s", cwd)
	}
	s.Cmd("# chroot(\".\")")
	if r.MarkerErr == "" {
		// The host's own /: what is in it differs from host to host.
		s.Inside("getcwd: %s", r.After)
	} else {
		s.Inside("getcwd: %s; ls /: %s", r.After, listing(s, visible(r.Root)))
	}
	if r.MarkerErr == "" {
		s.Inside("cat %s: %s", marker, r.Marker)
	} else {
		s.Inside("cat %s: %s", marker, r.MarkerErr)
	}
}

func (st *state) stepChrootEscape(s *kit.Session) error {
	w, err := st.workdir(s)
	if err != nil {
		return err
	}
	// The escape leaves its directory behind, in the root filesystem.
	defer os.Remove(filepath.Join(w.Rootfs, escapeDir))
	r, err := runEscape(s.Ctx, escapeConfig{Chroot: w.Rootfs, Marker: w.Marker})
	if err != nil {
		return err
	}
	s.Cmd("chroot %s    # a root process inside, which then does:", w.Rootfs)
	narrateEscape(s, w.Marker, r)
	if r.MarkerErr != "" {
		// The demonstration failed: what the note below says would be
		// untrue here, so the step fails instead of saying it.
		return fmt.Errorf("the chroot escape did not reach the host's %s: %s (this kernel or sandbox stops it; the step shows nothing)", w.Marker, r.MarkerErr)
	}
	s.Note("Out. The working directory was outside the new root, so `..` never met it on the way up, and\n" +
		"chroot(\".\") at the top made the host's / the process's / again. Any root process in a chroot can\n" +
		"do this (it needs only CAP_SYS_CHROOT): chroot is a convenience, not isolation.")
	return nil
}

func (st *state) stepPivotEscape(s *kit.Session) error {
	w, err := st.workdir(s)
	if err != nil {
		return err
	}
	ctr, err := st.container(s)
	if err != nil {
		return err
	}
	defer os.Remove(filepath.Join(w.Rootfs, escapeDir))
	r, err := ctr.escape()
	if err != nil {
		return err
	}
	s.Cmd("# a root process inside the container (the container's PID 1 starts it), which then does:")
	narrateEscape(s, w.Marker, r)
	s.Cmd("find / -xdev -name %s", markerName)
	s.Inside("%s", nothing(s, r.Found))
	if r.MarkerErr == "" || len(r.Found) > 0 {
		// The isolation this step shows does not hold: a failed step, not
		// a warning followed by success.
		return fmt.Errorf("the container is not isolated: a root process inside reached the host's %s (read %q, found %v)", w.Marker, r.Marker, r.Found)
	}
	s.Note("No way out. The container's / is the top of its mount tree: at /, .. is / itself, so the walk up\n" +
		"ends where it starts, and chroot(\".\") lands back in the container. The host's root is not hidden\n" +
		"somewhere above: it was unmounted from this mount namespace in step 4, so no path leads to it.\n" +
		"(No path: a root process that keeps every capability has other doors, such as mounting a disk,\n" +
		"which runtimes close by dropping capabilities.)")
	return nil
}
