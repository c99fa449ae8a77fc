//go:build linux

package cgroups

// The cgroup filesystem as this package uses it: every change goes through
// a Host method here, which does it, traces it, and words its error.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// kernel is what a cgroup filesystem does besides storing file contents:
// mkdir fills the new directory with interface files, rmdir refuses a
// cgroup that holds processes or children (EBUSY), a write is a command the
// kernel acts on, and a killed process leaves its cgroup; on v2, a device
// filter is a BPF program attached to the cgroup's directory (bpf(2)). The
// pure tests implement it on a temporary directory.
type kernel interface {
	mkdir(path string) error
	rmdir(path string) error
	write(path, value string) error
	kill(pid int) error
	attachDeviceFilter(dir string, prog []bpfInsn) error
}

// realKernel is the kernel.
type realKernel struct{}

func (realKernel) mkdir(path string) error { return os.Mkdir(path, 0o755) }

// rmdir is rmdir(2) alone: a cgroup's files are not real files, and
// removing them one by one would fail (os.RemoveAll tries).
func (realKernel) rmdir(path string) error { return unix.Rmdir(path) }

// write writes value in one write(2), which is how the kernel wants it: a
// short write would be a separate command. O_TRUNC is not needed (the files
// are not real files) and not harmful.
func (realKernel) write(path, value string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return bare(err)
	}
	if _, err := f.WriteString(value); err != nil {
		f.Close()
		return bare(err)
	}
	return f.Close()
}

// bare is the errno inside an *os.PathError: the caller names the path.
func bare(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func (realKernel) kill(pid int) error { return unix.Kill(pid, unix.SIGKILL) }

func (h *Host) kernel() kernel {
	if h.sys == nil {
		return realKernel{}
	}
	return h.sys
}

func (h *Host) emit(op Op) {
	if h.Trace != nil {
		h.Trace(op)
	}
}

// mkdir creates one cgroup directory.
func (h *Host) mkdir(path string) error {
	if err := h.kernel().mkdir(path); err != nil {
		return fmt.Errorf("create cgroup %s: %w%s", path, err, accessHint(err))
	}
	h.emit(Op{Kind: OpMkdir, Path: path})
	return nil
}

// rmdir removes one empty cgroup directory.
func (h *Host) rmdir(path string) error {
	if err := h.kernel().rmdir(path); err != nil {
		return fmt.Errorf("rmdir %s: %w", path, err)
	}
	h.emit(Op{Kind: OpRmdir, Path: path})
	return nil
}

// write writes value to the interface file at path. Its error says which
// write failed and, where the errno has a usual cause, what to check.
func (h *Host) write(path, value string) error {
	if err := h.kernel().write(path, value); err != nil {
		return writeError(path, value, err)
	}
	h.emit(Op{Kind: OpWrite, Path: path, Value: value})
	return nil
}

func writeError(path, value string, err error) error {
	file := filepath.Base(path)
	ctl, _, _ := strings.Cut(file, ".")
	var hint string
	switch {
	case errors.Is(err, os.ErrNotExist):
		hint = fmt.Sprintf(": is the %s controller enabled for this cgroup (on v2, in its parent's "+
			"cgroup.subtree_control; on v1, a %s hierarchy mounted)?", ctl, ctl)
	case errors.Is(err, unix.EINVAL):
		hint = fmt.Sprintf(": the kernel refused the value (see %s in Documentation/admin-guide/cgroup-v2.rst or cgroup-v1/)", file)
	case errors.Is(err, unix.ENOSPC) && file == "cgroup.procs":
		hint = ": in a v1 cpuset cgroup, cpuset.cpus or cpuset.mems is empty"
	case errors.Is(err, unix.EOPNOTSUPP) && file == "cgroup.procs":
		hint = ": the cgroup is threaded, or its type is \"domain invalid\" (cgroup.type)"
	default:
		hint = accessHint(err)
	}
	return fmt.Errorf("write %s to %s: %w%s", ShellQuote(value), path, err, hint)
}

// accessHint explains EACCES and EPERM: cgroup files belong to root unless
// a cgroup manager delegated a subtree (chown) to someone.
func accessHint(err error) string {
	if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) {
		return ": cgroups need root, or a subtree delegated to you (systemd's Delegate=yes)"
	}
	return ""
}

func readString(path string) (string, error) {
	b, err := os.ReadFile(path)
	return strings.TrimSpace(string(b)), err
}

// readProcs reads a cgroup.procs file.
func readProcs(path string) ([]int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parsePids(string(b))
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// reader reads several interface files and keeps the first error, so that
// Stats reads as a list of fields.
type reader struct{ err error }

func (r *reader) fail(path string, err error) {
	if err != nil && r.err == nil {
		r.err = fmt.Errorf("read %s: %w", path, err)
	}
}

func (r *reader) text(path string) string {
	b, err := os.ReadFile(path)
	r.fail(path, err)
	return string(b)
}

func (r *reader) keyed(path string) map[string]uint64 {
	m, err := parseKeyed(r.text(path))
	r.fail(path, err)
	return m
}

func (r *reader) number(path string) uint64 {
	n, err := strconv.ParseUint(strings.TrimSpace(r.text(path)), 10, 64)
	r.fail(path, err)
	return n
}

// optionalNumber is a file that some kernels lack (memory.peak before
// 5.19): 0 then.
func (r *reader) optionalNumber(path string) uint64 {
	if !exists(path) {
		return 0
	}
	return r.number(path)
}

func (r *reader) limit(path string) uint64 {
	n, err := parseLimit(r.text(path))
	r.fail(path, err)
	return n
}
