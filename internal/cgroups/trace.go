package cgroups

import (
	"fmt"
	"strings"
)

// OpKind is what an [Op] did.
type OpKind int

const (
	// OpMkdir created a cgroup directory; the kernel filled it with the
	// interface files of its controllers.
	OpMkdir OpKind = iota + 1
	// OpRmdir removed an empty cgroup.
	OpRmdir
	// OpWrite wrote Value into the interface file Path, in one write(2).
	OpWrite
	// OpKill sent SIGKILL to PIDs, the processes listed in the cgroup.procs
	// file Path.
	OpKill
	// OpClone started a process directly in the cgroup directory Path:
	// clone3(2) with CLONE_INTO_CGROUP and an O_PATH descriptor of Path.
	OpClone
	// OpDeviceFilter attached a device filter of Value instructions to the
	// v2 cgroup directory Path, in place of the one before: bpf(2)
	// BPF_PROG_LOAD of a BPF_PROG_TYPE_CGROUP_DEVICE program, then
	// BPF_PROG_ATTACH with BPF_CGROUP_DEVICE.
	OpDeviceFilter
)

// Op is one change this package made to a cgroup filesystem, as data. A
// caller that sets [Host.Trace] gets each one, in order, once it is done
// (a failed change is reported by the error instead).
type Op struct {
	Kind  OpKind
	Path  string
	Value string // OpWrite
	PIDs  []int  // OpKill
}

// String is the op as a person would type it in a shell: "mkdir …",
// "echo '20000 100000' > …/cpu.max", "kill -KILL $(cat …/cgroup.procs)".
// A clone has no shell equivalent and is a comment.
func (o Op) String() string {
	switch o.Kind {
	case OpMkdir:
		return "mkdir " + o.Path
	case OpRmdir:
		return "rmdir " + o.Path
	case OpWrite:
		return fmt.Sprintf("echo %s > %s", ShellQuote(o.Value), o.Path)
	case OpKill:
		return fmt.Sprintf("kill -KILL $(cat %s)", o.Path)
	case OpClone:
		return fmt.Sprintf("# clone3(CLONE_INTO_CGROUP, fd of %s)", o.Path)
	case OpDeviceFilter:
		return fmt.Sprintf("# bpf(BPF_PROG_ATTACH): a device filter of %s instructions on %s (bpftool cgroup show %s)", o.Value, o.Path, o.Path)
	}
	return fmt.Sprintf("Op(%d) %s", int(o.Kind), o.Path)
}

// ShellQuote quotes s for a shell when it holds characters a shell would
// split on or that read badly unquoted ("20000 100000", "+cpu +memory").
func ShellQuote(s string) string {
	if s == "" || strings.ContainsAny(s, " +'\"$\\*?;&|<>()[]{}\t\n") {
		return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	}
	return s
}
