package nsenter

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/procfs"
)

// target is the process whose namespaces are joined, held open: a pidfd
// that names it even if its PID is reused, and a descriptor of each
// namespace to join, in the order of [All].
type target struct {
	pid   int
	pidfd int // -1 before Linux 5.3
	start uint64
	kinds []Namespace
	files []*os.File
}

// openTarget checks that pid is a live process and opens the namespaces of
// want (nil: all) that the caller does not share with it.
func openTarget(pid int, want []Namespace) (*target, error) {
	if pid <= 0 {
		return nil, fmt.Errorf("exec: target pid %d: want the host PID of a process in the container", pid)
	}
	t := &target{pid: pid, pidfd: -1}
	fd, err := unix.PidfdOpen(pid, 0)
	switch {
	case err == nil:
		t.pidfd = fd
	case errors.Is(err, unix.ESRCH):
		return nil, t.notRunning("no such process")
	case !errors.Is(err, unix.ENOSYS):
		return nil, fmt.Errorf("exec: pidfd_open %d: %w", pid, err)
	}
	if err := t.alive(); err != nil {
		t.Close()
		return nil, err
	}
	explicit := want != nil
	if want == nil {
		want = All
	}
	for _, kind := range All {
		if !slices.Contains(want, kind) {
			continue
		}
		f, err := t.open(kind, explicit)
		if err != nil {
			t.Close()
			return nil, err
		}
		if f != nil {
			t.kinds, t.files = append(t.kinds, kind), append(t.files, f)
		}
	}
	for _, kind := range want {
		if kind.CloneFlag() == 0 {
			t.Close()
			return nil, fmt.Errorf("exec: unknown namespace %q (want one of %v)", kind, All)
		}
	}
	// The descriptors name the namespaces of the process that was alive
	// when they were opened only if it is alive now, still the same one.
	if err := t.alive(); err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}

// alive fails with ErrNotRunning unless the target runs: not gone, not a
// zombie (whose namespaces are gone already), and the same process as when
// it was first looked at.
func (t *target) alive() error {
	if t.pidfd >= 0 {
		if err := unix.PidfdSendSignal(t.pidfd, 0, nil, 0); errors.Is(err, unix.ESRCH) {
			return t.notRunning("it has exited")
		}
	}
	st, err := procfs.ReadStat(strconv.Itoa(t.pid))
	switch {
	case err != nil:
		return t.notRunning("it has exited")
	case st.State == "Z" || st.State == "X":
		return t.notRunning("it has exited and waits for its parent to reap it")
	case t.start != 0 && st.StartTime != t.start:
		return t.notRunning("it has exited, and its PID belongs to another process now")
	}
	t.start = st.StartTime
	return nil
}

func (t *target) notRunning(why string) error {
	return fmt.Errorf("exec into host pid %d: %w: %s", t.pid, ErrNotRunning, why)
}

// nsPath is the file of the target's namespace of kind.
func (t *target) nsPath(kind Namespace) string {
	return fmt.Sprintf("/proc/%d/ns/%s", t.pid, kind)
}

// open opens the target's namespace of kind, or returns nil when the
// caller's own (for its future children, in the case of PID and time) is
// the same namespace, or when the kernel has no such namespace and it was
// not asked for by name.
func (t *target) open(kind Namespace, explicit bool) (*os.File, error) {
	var theirs, ours unix.Stat_t
	if err := unix.Stat(t.nsPath(kind), &theirs); err != nil {
		if errors.Is(err, unix.ENOENT) && !explicit {
			if _, serr := os.Lstat("/proc/self/ns/" + string(kind)); serr != nil {
				return nil, nil // this kernel has no such namespace
			}
		}
		if err := t.alive(); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("exec: stat %s: %w", t.nsPath(kind), err)
	}
	if err := unix.Stat("/proc/thread-self/ns/"+kind.forChildren(), &ours); err == nil &&
		ours.Dev == theirs.Dev && ours.Ino == theirs.Ino {
		return nil, nil
	}
	f, err := os.OpenFile(t.nsPath(kind), os.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		if aerr := t.alive(); aerr != nil {
			return nil, aerr
		}
		return nil, fmt.Errorf("exec: open %s: %w", t.nsPath(kind), err)
	}
	return f, nil
}

// Close closes what openTarget opened.
func (t *target) Close() error {
	for _, f := range t.files {
		f.Close()
	}
	t.files = nil
	if t.pidfd >= 0 {
		unix.Close(t.pidfd)
		t.pidfd = -1
	}
	return nil
}

// Inodes are a process's namespaces, kind by kind, as the inode numbers
// `ls -l /proc/<pid>/ns` shows: two processes are in the same namespace of
// a kind when the numbers are equal (all namespace files are on one nsfs).
// A kind the kernel does not have is missing.
func Inodes(pid int) (map[Namespace]uint64, error) {
	out := map[Namespace]uint64{}
	for _, kind := range All {
		var st unix.Stat_t
		p := fmt.Sprintf("/proc/%d/ns/%s", pid, kind)
		if err := unix.Stat(p, &st); err != nil {
			if errors.Is(err, unix.ENOENT) {
				if _, serr := os.Lstat(fmt.Sprintf("/proc/%d", pid)); serr == nil {
					continue
				}
			}
			return nil, fmt.Errorf("stat %s: %w", p, err)
		}
		out[kind] = st.Ino
	}
	return out, nil
}
