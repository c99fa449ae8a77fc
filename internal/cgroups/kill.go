//go:build linux

package cgroups

// Emptying and removing cgroups, the same in both versions once the
// version-specific shortcut (v2's cgroup.kill, v1's freezer) has been
// taken.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// How long a cgroup may take to empty after SIGKILL, and to become
// removable after that. A process in uninterruptible sleep (D state, stuck
// I/O) can hold it longer; then the error says which processes.
const (
	killTimeout  = 10 * time.Second
	rmdirTimeout = 5 * time.Second
	pollEvery    = 10 * time.Millisecond
)

// walkCgroups calls fn for dir and every cgroup below it, deepest first, in
// name order: the order in which rmdir(2) can remove them.
func walkCgroups(dir string, fn func(dir string) error) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := walkCgroups(filepath.Join(dir, e.Name()), fn); err != nil {
				return err
			}
		}
	}
	return fn(dir)
}

// procsBelow lists the processes in the cgroups at dirs and below them.
func procsBelow(dirs []string) []int {
	var pids []int
	for _, d := range dirs {
		_ = walkCgroups(d, func(dir string) error {
			got, _ := readProcs(filepath.Join(dir, "cgroup.procs"))
			pids = append(pids, got...)
			return nil
		})
	}
	slices.Sort(pids)
	return slices.Compact(pids)
}

// killAll empties the cgroups at dirs and below them. With signal, each
// process found gets one SIGKILL (a process forked meanwhile is found on
// the next pass and gets its own), traced as one OpKill naming shown, the
// cgroup.procs file a person would read; without, it only waits (v2's
// cgroup.kill has already killed everything, forks included). The
// processes are the caller's: nothing else is in a cgroup it made.
func (h *Host) killAll(dirs []string, shown string, signal bool) error {
	signalled := map[int]bool{}
	deadline := time.Now().Add(killTimeout)
	for {
		left := procsBelow(dirs)
		if len(left) == 0 {
			return nil
		}
		var fresh []int
		for _, pid := range left {
			if signal && !signalled[pid] {
				signalled[pid] = true
				if err := h.kernel().kill(pid); err != nil && !errors.Is(err, unix.ESRCH) {
					return fmt.Errorf("kill -KILL %d (in %s): %w", pid, shown, err)
				}
				fresh = append(fresh, pid)
			}
		}
		if len(fresh) > 0 {
			h.emit(Op{Kind: OpKill, Path: shown, PIDs: fresh})
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes %v are still in %s %v after SIGKILL: stuck in the kernel (ps -o pid,stat,wchan -p %s)",
				left, strings.Join(dirs, ", "), killTimeout, pidList(left, ","))
		}
		time.Sleep(pollEvery)
	}
}

// removeTree removes dir and the cgroups below it, deepest first. A
// process that was just killed leaves its cgroup a moment later, so EBUSY
// is retried for a while. A dir that is already gone is not an error.
func (h *Host) removeTree(dir string) error {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return walkCgroups(dir, func(d string) error {
		deadline := time.Now().Add(rmdirTimeout)
		for {
			err := h.rmdir(d)
			switch {
			case err == nil || errors.Is(err, unix.ENOENT):
				return nil
			case errors.Is(err, unix.EBUSY) && time.Now().Before(deadline):
				time.Sleep(pollEvery)
				continue
			case errors.Is(err, unix.EBUSY):
				return fmt.Errorf("%w: processes or cgroups are still in it (cat %s)", err, filepath.Join(d, "cgroup.procs"))
			}
			return err
		}
	})
}

func pidList(pids []int, sep string) string {
	s := make([]string, len(pids))
	for i, p := range pids {
		s[i] = fmt.Sprint(p)
	}
	return strings.Join(s, sep)
}
