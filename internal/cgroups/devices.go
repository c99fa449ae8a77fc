package cgroups

// The device controller: which device nodes the processes of a cgroup may
// create (mknod(2)), read and write. A container's /dev holds only the nodes
// its runtime made, but a process given CAP_MKNOD could make any other
// (mknod /tmp/sda b 8 0) and open the host's disk through it; the device
// controller is what refuses the open, whatever node leads there.
//
// The rules are the OCI runtime spec's linux.resources.devices, in order.
// Their meaning, for both versions: start from "everything denied"; for
// each kind of access asked for (m, r, w), the last rule that names the
// device and that access decides it; the request is allowed only if every
// access in it is. One file per version does it: v1_devices.go writes the
// rules to devices.deny and devices.allow, which keep that list in the
// kernel (Documentation/admin-guide/cgroup-v1/devices.rst); v2 has no such
// files, and v2_devices.go compiles the rules into a small eBPF program of
// type BPF_PROG_TYPE_CGROUP_DEVICE that the kernel runs at every mknod and
// open of a device node (cgroup-v2.rst, "Device controller").

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// DeviceWildcard, as a rule's Major or Minor, matches any number ("*").
const DeviceWildcard = -1

// DeviceRule allows or denies access to devices: linux.resources.devices[i].
type DeviceRule struct {
	Allow bool
	// Type is 'c' (character devices), 'b' (block devices) or 'a' (both).
	Type byte
	// Major and Minor are the device numbers, or [DeviceWildcard].
	Major, Minor int64
	// Access is some of "rwm": read, write, mknod.
	Access string
}

// String is the rule as devices.allow and devices.deny take it:
// "c 1:3 rwm", "b 8:* m", "a *:* rwm".
func (d DeviceRule) String() string {
	num := func(n int64) string {
		if n == DeviceWildcard {
			return "*"
		}
		return strconv.FormatInt(n, 10)
	}
	return fmt.Sprintf("%c %s:%s %s", d.Type, num(d.Major), num(d.Minor), d.Access)
}

// Validate checks one rule.
func (d DeviceRule) Validate() error {
	if d.Type != 'a' && d.Type != 'c' && d.Type != 'b' {
		return fmt.Errorf("device rule %q: type %q: want a, c or b", d, d.Type)
	}
	if d.Major < DeviceWildcard || d.Minor < DeviceWildcard || d.Major > 1<<32-1 || d.Minor > 1<<32-1 {
		return fmt.Errorf("device rule %q: major and minor are numbers from 0, or -1 for any", d)
	}
	if d.Access == "" {
		return fmt.Errorf("device rule %q: no access: want some of rwm", d)
	}
	for _, c := range d.Access {
		if !strings.ContainsRune("rwm", c) {
			return fmt.Errorf("device rule %q: access %q: want some of r, w and m", d, d.Access)
		}
	}
	return nil
}

// everything is true for the rule that names every device and every access
// ("a *:* rwm"): on its own it sets the answer for all requests.
func (d DeviceRule) everything() bool {
	return d.Type == 'a' && d.Major == DeviceWildcard && d.Minor == DeviceWildcard && accessBits(d.Access) == accessAll
}

func validateDevices(rules []DeviceRule) error {
	var errs []error
	for _, r := range rules {
		errs = append(errs, r.Validate())
	}
	return errors.Join(errs...)
}

// The access bits and device types of the kernel's struct
// bpf_cgroup_dev_ctx (include/uapi/linux/bpf.h): access_type holds the
// access in its upper 16 bits and the type in its lower 16.
const (
	devAccessMknod = 1 // BPF_DEVCG_ACC_MKNOD
	devAccessRead  = 2 // BPF_DEVCG_ACC_READ
	devAccessWrite = 4 // BPF_DEVCG_ACC_WRITE
	accessAll      = devAccessMknod | devAccessRead | devAccessWrite

	devTypeBlock = 1 // BPF_DEVCG_DEV_BLOCK
	devTypeChar  = 2 // BPF_DEVCG_DEV_CHAR
)

func accessBits(access string) int32 {
	var bits int32
	for _, c := range access {
		switch c {
		case 'm':
			bits |= devAccessMknod
		case 'r':
			bits |= devAccessRead
		case 'w':
			bits |= devAccessWrite
		}
	}
	return bits
}

// bpfInsn is one eBPF instruction, struct bpf_insn
// (Documentation/bpf/standardization/instruction-set.rst): an opcode, the
// destination and source registers (4 bits each, packed into one byte by
// v2_devices.go), a signed 16-bit offset and a signed 32-bit immediate.
type bpfInsn struct {
	Code     uint8
	Dst, Src uint8
	Off      int16
	Imm      int32
}

// The opcodes the device filter uses: an instruction class, an operation
// and a source (K: the immediate, X: a register).
const (
	opLoadWord  = 0x61 // BPF_LDX | BPF_MEM | BPF_W: dst = *(u32 *)(src + off)
	opMovImm    = 0xb7 // BPF_ALU64 | BPF_MOV | BPF_K: dst = imm
	opMovReg    = 0xbf // BPF_ALU64 | BPF_MOV | BPF_X: dst = src
	opAndImm    = 0x57 // BPF_ALU64 | BPF_AND | BPF_K: dst &= imm
	opRshImm    = 0x77 // BPF_ALU64 | BPF_RSH | BPF_K: dst >>= imm
	opJumpNeImm = 0x55 // BPF_JMP | BPF_JNE | BPF_K: if dst != imm goto +off
	opJumpEqImm = 0x15 // BPF_JMP | BPF_JEQ | BPF_K: if dst == imm goto +off
	opExit      = 0x95 // BPF_JMP | BPF_EXIT: return r0
)

// Registers: r0 is the return value, r1 the context on entry.
const (
	r0, r1, r2, r3, r4, r5 = 0, 1, 2, 3, 4, 5
)

func insn(code uint8, dst, src uint8, off int16, imm int32) bpfInsn {
	return bpfInsn{Code: code, Dst: dst, Src: src, Off: off, Imm: imm}
}

// deviceProgram compiles rules into the device filter: it returns 1 to
// allow the request in its context, 0 to deny it. In C it would read
//
//	int filter(struct bpf_cgroup_dev_ctx *ctx) {
//		u32 type = ctx->access_type & 0xffff, undecided = ctx->access_type >> 16;
//		// the rules, last first; for each one that names the device:
//		if (undecided & RULE_ACCESS) {
//			if (!RULE_ALLOWS) return 0;       // a denied access denies all
//			undecided &= ~RULE_ACCESS;
//			if (!undecided) return 1;         // every access allowed
//		}
//		return 0;                                 // no rule for the rest
//	}
//
// Registers: r2 the type, r3 the undecided accesses, r4 the major, r5 the
// minor; r1 is free once they are loaded.
func deviceProgram(rules []DeviceRule) []bpfInsn {
	prog := []bpfInsn{
		insn(opLoadWord, r2, r1, 0, 0), // r2 = ctx->access_type
		insn(opMovReg, r3, r2, 0, 0),   // r3 = r2
		insn(opAndImm, r2, 0, 0, 0xffff),
		insn(opRshImm, r3, 0, 0, 16),
		insn(opLoadWord, r4, r1, 4, 0), // r4 = ctx->major
		insn(opLoadWord, r5, r1, 8, 0), // r5 = ctx->minor
	}
	for i := len(rules) - 1; i >= 0; i-- {
		prog = append(prog, ruleBlock(rules[i])...)
	}
	return append(prog, insn(opMovImm, r0, 0, 0, 0), insn(opExit, 0, 0, 0, 0))
}

// ruleBlock is one rule's instructions. Every jump goes to the end of the
// block (the next rule), written as an offset from the jump's own successor.
func ruleBlock(d DeviceRule) []bpfInsn {
	var b []bpfInsn
	var jumps []int
	skipUnless := func(code uint8, reg uint8, imm int32) {
		jumps = append(jumps, len(b))
		b = append(b, insn(code, reg, 0, 0, imm))
	}
	switch d.Type {
	case 'c':
		skipUnless(opJumpNeImm, r2, devTypeChar)
	case 'b':
		skipUnless(opJumpNeImm, r2, devTypeBlock)
	}
	if d.Major != DeviceWildcard {
		skipUnless(opJumpNeImm, r4, int32(uint32(d.Major)))
	}
	if d.Minor != DeviceWildcard {
		skipUnless(opJumpNeImm, r5, int32(uint32(d.Minor)))
	}
	access := accessBits(d.Access)
	b = append(b, insn(opMovReg, r1, r3, 0, 0), insn(opAndImm, r1, 0, 0, access))
	skipUnless(opJumpEqImm, r1, 0) // the rule names none of the undecided accesses
	if !d.Allow {
		b = append(b, insn(opMovImm, r0, 0, 0, 0), insn(opExit, 0, 0, 0, 0))
	} else {
		b = append(b, insn(opAndImm, r3, 0, 0, ^access&accessAll))
		skipUnless(opJumpNeImm, r3, 0) // some access is still undecided
		b = append(b, insn(opMovImm, r0, 0, 0, 1), insn(opExit, 0, 0, 0, 0))
	}
	for _, j := range jumps {
		b[j].Off = int16(len(b) - j - 1)
	}
	return b
}
