//go:build linux

package cgroups

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// Placement is how [Start] got a process into its cgroup.
type Placement int

const (
	// ClonedInto: clone3(2) with CLONE_INTO_CGROUP created the process in
	// the cgroup. It never ran anywhere else, and everything it did, from
	// its first instruction, was charged to the cgroup.
	ClonedInto Placement = iota + 1
	// Moved: the process started in its parent's cgroup and was moved in
	// (its PID written to cgroup.procs) while it waited. Its own code ran
	// inside; what ran before the move did not (see the package doc).
	Moved
)

func (p Placement) String() string {
	switch p {
	case ClonedInto:
		return "cloned into the cgroup (CLONE_INTO_CGROUP)"
	case Moved:
		return "moved in before it ran (cgroup.procs)"
	}
	return fmt.Sprintf("Placement(%d)", int(p))
}

// Start starts a process in m's cgroup. start is how the caller starts its
// process, given a file descriptor of the cgroup's directory or -1: with a
// descriptor it must set SysProcAttr.UseCgroupFD and CgroupFD (Go then
// uses clone3(2) with CLONE_INTO_CGROUP), and with -1 it must start the
// process held, waiting on a pipe or socket until the caller releases it
// after Start returns. It returns the PID. Start may call it twice: first
// with a descriptor, then with -1 if the kernel cannot clone into a cgroup.
//
// On cgroup v2 the process is born in the cgroup (Linux 5.7+). On cgroup
// v1, which has no single directory to clone into, and where clone3 is
// refused (ENOSYS: before Linux 5.3, or a seccomp filter such as Docker's
// default profile, which answers ENOSYS so that callers fall back; E2BIG:
// Linux 5.3 to 5.6, whose clone3 has no cgroup field; EPERM: older seccomp
// profiles), Start moves it in with [Manager.Apply] before returning.
//
// If Start fails after start succeeded, the process is running outside
// its cgroup and the caller must kill it.
func Start(m Manager, start func(cgroupFD int) (pid int, err error)) (Placement, error) {
	if v2, ok := m.(*v2Manager); ok {
		p, err := v2.cloneInto(start)
		if !errors.Is(err, errNoCloneInto) {
			return p, err
		}
	}
	pid, err := start(-1)
	if err != nil {
		return 0, err
	}
	if err := m.Apply(pid); err != nil {
		return Moved, fmt.Errorf("move process %d into %s: %w", pid, m.Path(), err)
	}
	return Moved, nil
}

var errNoCloneInto = errors.New("clone3 with CLONE_INTO_CGROUP is not available")

// cloneInto starts the process with an O_PATH descriptor of the cgroup's
// directory, which is all CLONE_INTO_CGROUP needs (clone(2)).
func (m *v2Manager) cloneInto(start func(cgroupFD int) (int, error)) (Placement, error) {
	dir := m.cloneDir()
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("open %s for CLONE_INTO_CGROUP: %w: has it been created?", dir, err)
	}
	defer unix.Close(fd)
	_, err = start(fd)
	switch {
	case err == nil:
		m.h.emit(Op{Kind: OpClone, Path: dir})
		return ClonedInto, nil
	case errors.Is(err, unix.ENOSYS), errors.Is(err, unix.E2BIG), errors.Is(err, unix.EPERM):
		return 0, errNoCloneInto
	case errors.Is(err, unix.EBUSY):
		return 0, fmt.Errorf("%w: clone into %s: it hands controllers to cgroups below it, so it may hold no process "+
			"(the \"no internal processes\" rule): start the process in a leaf cgroup", err, dir)
	}
	return 0, err
}
