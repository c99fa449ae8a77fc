//go:build linux

package specconv

import (
	"errors"
	"fmt"
	"runtime"
	"strings"

	seccomp "github.com/elastic/go-seccomp-bpf"
	"github.com/elastic/go-seccomp-bpf/arch"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/capstone/container"
)

// Seccomp compiles linux.seccomp into a BPF program with
// github.com/elastic/go-seccomp-bpf (pure Go: the runtime stays static and
// cgo-free, where runc links libseccomp). The compiler is the library's; this
// function maps the OCI profile onto it:
//
//   - each syscall rule becomes one group, compiled on its own, in the
//     profile's order: the first group that matches decides (libseccomp
//     has no order, but a profile that gives one syscall two different
//     actions is ambiguous anyway);
//   - a name this kernel's table does not know is skipped, as libseccomp
//     does, so that one profile serves old and new kernels;
//   - SCMP_CMP_MASKED_EQ is expressed as "none of the mask's bits set"
//     (value 0) or "all of them" (value equal to a one-bit mask), the forms
//     Docker's and podman's profiles use; other masks are refused;
//   - the filter lets only the native architecture through (the x32 ABI is
//     refused with ENOSYS): a 32-bit program in the container gets the
//     default action for every call.
//
// SCMP_ACT_NOTIFY (a listener) is refused: nothing here would answer it.
func Seccomp(s *specs.LinuxSeccomp) (*container.Seccomp, error) {
	if s == nil {
		return nil, nil
	}
	info, err := arch.GetInfo("")
	if err != nil {
		return nil, fmt.Errorf("linux.seccomp: %s: %w", runtime.GOARCH, err)
	}
	def, err := action(s.DefaultAction, s.DefaultErrnoRet)
	if err != nil {
		return nil, fmt.Errorf("linux.seccomp.defaultAction: %w", err)
	}
	if s.ListenerPath != "" {
		return nil, errors.New("linux.seccomp.listenerPath: seccomp notification is not supported by unbox-runtime")
	}
	var groups []seccomp.SyscallGroup
	for i, sc := range s.Syscalls {
		act, err := action(sc.Action, sc.ErrnoRet)
		if err != nil {
			return nil, fmt.Errorf("linux.seccomp.syscalls[%d]: %w", i, err)
		}
		if act == def {
			continue // the same as not listing it
		}
		g := seccomp.SyscallGroup{Action: act}
		alternatives, err := conditions(sc.Args)
		if err != nil {
			return nil, fmt.Errorf("linux.seccomp.syscalls[%d]: %w", i, err)
		}
		seen := map[string]bool{}
		for _, name := range sc.Names {
			if _, ok := info.SyscallNames[name]; !ok || seen[name] {
				continue
			}
			seen[name] = true
			if len(alternatives) == 0 {
				g.Names = append(g.Names, name)
			}
			for _, conds := range alternatives {
				g.NamesWithCondtions = append(g.NamesWithCondtions, seccomp.NameWithConditions{Name: name, Conditions: conds})
			}
		}
		if len(g.Names)+len(g.NamesWithCondtions) > 0 {
			groups = append(groups, g)
		}
	}
	if len(groups) == 0 {
		if def == seccomp.ActionAllow {
			return nil, nil
		}
		// Nothing differs from the default: one instruction says it.
		return program([]bpf.Instruction{bpf.RetConstant{Val: uint32(def)}}, s.Flags)
	}
	// Each group is compiled on its own and the programs are joined, the
	// last instruction of each (its default return) dropped so that a
	// call no group matched falls through to the next, and the last one
	// returning the profile's default. The library compiles a policy of
	// several groups into one program, but an argument check leaves the
	// argument in the accumulator where the next group expects the
	// system call number (go-seccomp-bpf v1.6.0): a call that failed one
	// group's check would be matched against the next group by its
	// argument. Each program on its own starts by loading the number.
	var insts []bpf.Instruction
	for i, g := range groups {
		part, err := (&seccomp.Policy{DefaultAction: seccomp.ActionAllow, Syscalls: []seccomp.SyscallGroup{g}}).Assemble()
		if err != nil {
			return nil, fmt.Errorf("linux.seccomp: %w", err)
		}
		last, ok := part[len(part)-1].(bpf.RetConstant)
		if !ok || last.Val != uint32(seccomp.ActionAllow) {
			return nil, fmt.Errorf("linux.seccomp: unexpected program from the compiler (last instruction %v)", part[len(part)-1])
		}
		if i < len(groups)-1 {
			insts = append(insts, part[:len(part)-1]...)
		} else {
			// The library's default must be one of its named actions;
			// the profile's may carry an errno.
			insts = append(insts, append(part[:len(part)-1], bpf.RetConstant{Val: uint32(def)})...)
		}
	}
	if len(insts) > unix.BPF_MAXINSNS {
		return nil, fmt.Errorf("linux.seccomp: the profile compiles to %d instructions, more than the kernel takes (%d)", len(insts), unix.BPF_MAXINSNS)
	}
	return program(insts, s.Flags)
}

// program assembles the instructions and the filter flags.
func program(insts []bpf.Instruction, flags []specs.LinuxSeccompFlag) (*container.Seccomp, error) {
	raw, err := bpf.Assemble(insts)
	if err != nil {
		return nil, fmt.Errorf("linux.seccomp: %w", err)
	}
	out := &container.Seccomp{}
	for _, r := range raw {
		out.Program = append(out.Program, container.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K})
	}
	for _, f := range flags {
		switch f {
		case specs.LinuxSeccompFlagLog:
			out.Flags |= unix.SECCOMP_FILTER_FLAG_LOG
		case specs.LinuxSeccompFlagSpecAllow:
			out.Flags |= unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW
		case specs.LinuxSeccompFlagWaitKillableRecv:
			out.Flags |= unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
		default:
			return nil, fmt.Errorf("linux.seccomp.flags: unknown flag %q", f)
		}
	}
	return out, nil
}

// action maps an OCI seccomp action to its SECCOMP_RET_ value.
func action(a specs.LinuxSeccompAction, errnoRet *uint) (seccomp.Action, error) {
	errno := uint32(unix.EPERM)
	if errnoRet != nil {
		errno = uint32(*errnoRet)
	}
	switch a {
	case specs.ActAllow:
		return seccomp.ActionAllow, nil
	case specs.ActErrno:
		return seccomp.Action(unix.SECCOMP_RET_ERRNO | errno&unix.SECCOMP_RET_DATA), nil
	case specs.ActTrace:
		return seccomp.Action(unix.SECCOMP_RET_TRACE | errno&unix.SECCOMP_RET_DATA), nil
	case specs.ActKill, specs.ActKillThread:
		return seccomp.ActionKillThread, nil
	case specs.ActKillProcess:
		return seccomp.ActionKillProcess, nil
	case specs.ActTrap:
		return seccomp.ActionTrap, nil
	case specs.ActLog:
		return seccomp.ActionLog, nil
	case specs.ActNotify:
		return 0, errors.New("SCMP_ACT_NOTIFY: seccomp notification is not supported by unbox-runtime")
	}
	return 0, fmt.Errorf("unknown action %q", a)
}

// conditions maps a rule's argument checks to alternatives, any of which
// may hold, each a list of checks that must all hold. As in runc (and
// libseccomp): checks of different arguments all hold (AND); several checks
// of the same argument are alternatives (OR), each its own rule.
func conditions(args []specs.LinuxSeccompArg) ([]seccomp.ArgumentConditions, error) {
	var all seccomp.ArgumentConditions
	sameIndex := false
	seen := map[uint]bool{}
	for _, a := range args {
		sameIndex = sameIndex || seen[a.Index]
		seen[a.Index] = true
		if a.Index > 5 {
			return nil, fmt.Errorf("argument index %d: a system call has six (0-5)", a.Index)
		}
		c := seccomp.Condition{Argument: uint32(a.Index), Value: a.Value}
		switch a.Op {
		case specs.OpEqualTo:
			c.Operation = seccomp.Equal
		case specs.OpNotEqual:
			c.Operation = seccomp.NotEqual
		case specs.OpGreaterThan:
			c.Operation = seccomp.GreaterThan
		case specs.OpGreaterEqual:
			c.Operation = seccomp.GreaterOrEqual
		case specs.OpLessThan:
			c.Operation = seccomp.LessThan
		case specs.OpLessEqual:
			c.Operation = seccomp.LessOrEqual
		case specs.OpMaskedEqual:
			// (arg & Value) == ValueTwo.
			switch {
			case a.ValueTwo == 0:
				c.Operation = seccomp.BitsNotSet
			case a.ValueTwo == a.Value && a.Value&(a.Value-1) == 0:
				c.Operation = seccomp.BitsSet
			default:
				return nil, fmt.Errorf("SCMP_CMP_MASKED_EQ with mask %#x and value %#x: only \"none of the bits\" (value 0) "+
					"or one bit (value equal to the mask) can be compiled", a.Value, a.ValueTwo)
			}
		default:
			return nil, fmt.Errorf("unknown operator %q (want one of %s)", a.Op, strings.Join([]string{
				string(specs.OpEqualTo), string(specs.OpNotEqual), string(specs.OpGreaterThan), string(specs.OpGreaterEqual),
				string(specs.OpLessThan), string(specs.OpLessEqual), string(specs.OpMaskedEqual)}, ", "))
		}
		all = append(all, c)
	}
	switch {
	case len(all) == 0:
		return nil, nil
	case !sameIndex:
		return []seccomp.ArgumentConditions{all}, nil
	}
	var out []seccomp.ArgumentConditions
	for _, c := range all {
		out = append(out, seccomp.ArgumentConditions{c})
	}
	return out, nil
}
