//go:build linux

package cgroups

// The v2 device controller (cgroup-v2.rst, "Device controller"): no
// interface files, but eBPF programs of type BPF_PROG_TYPE_CGROUP_DEVICE
// attached to the cgroup. At each mknod(2) and each open(2) of a device node
// by a process in the cgroup, the kernel runs the programs attached to it
// and to every cgroup above it, with the device's type, numbers and the
// access asked for; one that returns 0 denies it (EPERM). devices.go
// compiles the rules into the program; here it is loaded and attached with
// bpf(2), the four commands runc makes through cilium/ebpf, made directly:
// the program is a few dozen instructions of six kinds, and the library's
// package initialisation would cost every start of the runtime (each
// container's init among them) more than the filter itself.
//
// `bpftool cgroup show /sys/fs/cgroup/<path>` lists what is attached.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

var v2Devices = v2Subsystem{name: "devices", set: setV2Devices}

func setV2Devices(m *v2Manager, r Resources) error {
	if r.Devices == nil {
		return nil
	}
	return m.h.attachDeviceFilter(m.dir, deviceProgram(r.Devices))
}

// attachDeviceFilter puts prog on the cgroup at dir in place of the device
// filters attached there before.
func (h *Host) attachDeviceFilter(dir string, prog []bpfInsn) error {
	if err := h.kernel().attachDeviceFilter(dir, prog); err != nil {
		hint := ""
		if errors.Is(err, unix.EPERM) {
			hint = ": loading and attaching BPF programs needs root (CAP_SYS_ADMIN, or CAP_BPF with CAP_NET_ADMIN)"
		}
		return fmt.Errorf("attach a device filter (BPF_PROG_TYPE_CGROUP_DEVICE, %d instructions) to %s: %w%s", len(prog), dir, err, hint)
	}
	h.emit(Op{Kind: OpDeviceFilter, Path: dir, Value: strconv.Itoa(len(prog))})
	return nil
}

// attachDeviceFilter loads prog and attaches it to the cgroup with
// BPF_F_ALLOW_MULTI, then detaches the device filters that were there
// before (an update's old rules). The new one goes on first: while both are
// attached, both must allow, so no access that either set of rules denies
// gets through in between. The kernel holds the program as long as it is
// attached; removing the cgroup detaches and frees it.
func (realKernel) attachDeviceFilter(dir string, prog []bpfInsn) error {
	if pointerBits != 64 {
		return fmt.Errorf("device filters are loaded on 64-bit machines only (this one is %d-bit)", pointerBits)
	}
	cg, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(cg)
	old, err := bpfQueryDevicePrograms(cg)
	if err != nil {
		return fmt.Errorf("BPF_PROG_QUERY: %w", err)
	}
	fd, err := bpfLoadDeviceProgram(prog)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := bpfAttach(unix.BPF_PROG_ATTACH, cg, fd); err != nil {
		return fmt.Errorf("BPF_PROG_ATTACH: %w", err)
	}
	for _, id := range old {
		pfd, err := bpfProgFD(id)
		if errors.Is(err, unix.ENOENT) {
			continue // detached and freed meanwhile
		}
		if err != nil {
			return fmt.Errorf("BPF_PROG_GET_FD_BY_ID %d: %w", id, err)
		}
		err = bpfAttach(unix.BPF_PROG_DETACH, cg, pfd)
		unix.Close(pfd)
		if err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("BPF_PROG_DETACH of the previous filter (program %d): %w", id, err)
		}
	}
	return nil
}

// bpf is bpf(2). attr points at the command's part of union bpf_attr
// (include/uapi/linux/bpf.h); the kernel takes the size given and treats
// the rest of the union as zero.
func bpf(cmd int, attr unsafe.Pointer, size uintptr) (int, error) {
	r, _, errno := unix.Syscall(unix.SYS_BPF, uintptr(cmd), uintptr(attr), size)
	if errno != 0 {
		return -1, errno
	}
	return int(r), nil
}

// rawInsn is struct bpf_insn as the kernel reads it. Its register byte is
// two 4-bit fields, dst_reg first: the low nibble on a little-endian
// machine, the high one on a big-endian machine.
type rawInsn struct {
	code uint8
	regs uint8
	off  int16
	imm  int32
}

var bigEndian = binary.NativeEndian.Uint16([]byte{0, 1}) == 1

// bpfPointer is an __aligned_u64 of bpf_attr that holds an address. It is
// an unsafe.Pointer, not a number, so that the garbage collector keeps
// what it points to alive and, should it be on a goroutine's stack that
// grows and moves, updates it. That makes it 64 bits on 64-bit machines
// only: attachDeviceFilter refuses the others.
type bpfPointer struct{ p unsafe.Pointer }

const pointerBits = 8 * unsafe.Sizeof(uintptr(0))

func encode(prog []bpfInsn) []rawInsn {
	out := make([]rawInsn, len(prog))
	for i, in := range prog {
		regs := in.Dst | in.Src<<4
		if bigEndian {
			regs = in.Dst<<4 | in.Src
		}
		out[i] = rawInsn{code: in.Code, regs: regs, off: in.Off, imm: in.Imm}
	}
	return out
}

// bpfLoadDeviceProgram is BPF_PROG_LOAD: the verifier checks the program
// (every path ends in exit, no jump out of it, registers read only once
// written) and returns a descriptor of it. Refused, it is loaded again
// with the verifier's log, for the error.
func bpfLoadDeviceProgram(prog []bpfInsn) (int, error) {
	insns := encode(prog)
	license := []byte("Apache-2.0\x00")
	attr := struct {
		progType    uint32
		insnCnt     uint32
		insns       bpfPointer
		license     bpfPointer
		logLevel    uint32
		logSize     uint32
		logBuf      bpfPointer
		kernVersion uint32
		progFlags   uint32
		progName    [16]byte // BPF_OBJ_NAME_LEN: what bpftool prog list shows
	}{
		progType: unix.BPF_PROG_TYPE_CGROUP_DEVICE,
		insnCnt:  uint32(len(insns)),
		insns:    bpfPointer{p: unsafe.Pointer(&insns[0])},
		license:  bpfPointer{p: unsafe.Pointer(&license[0])},
	}
	copy(attr.progName[:], "unbox_devices")
	fd, err := retryEAGAIN(func() (int, error) { return bpf(unix.BPF_PROG_LOAD, unsafe.Pointer(&attr), unsafe.Sizeof(attr)) })
	if err != nil && (errors.Is(err, unix.EACCES) || errors.Is(err, unix.EINVAL)) {
		log := make([]byte, 64<<10)
		attr.logLevel, attr.logSize, attr.logBuf = 1, uint32(len(log)), bpfPointer{p: unsafe.Pointer(&log[0])}
		if _, err2 := bpf(unix.BPF_PROG_LOAD, unsafe.Pointer(&attr), unsafe.Sizeof(attr)); err2 != nil {
			err = fmt.Errorf("%w (the verifier: %s)", err, unix.ByteSliceToString(log))
		}
	}
	if err != nil {
		return -1, fmt.Errorf("BPF_PROG_LOAD: %w", err)
	}
	return fd, nil
}

// progLoadAttempts bounds retryEAGAIN, as libbpf's PROG_LOAD_ATTEMPTS
// does (it retries five times).
const progLoadAttempts = 10

// retryEAGAIN calls load again while it fails with EAGAIN: the verifier
// gives up with EAGAIN when a signal is pending for the caller (its main
// loop checks signal_pending(), kernel/bpf/verifier.c), and a Go program
// is sent SIGURG often, to preempt goroutines. libbpf and cilium/ebpf
// retry the same way; without it a slow machine (the VM lane's emulated
// CPU) saw "BPF_PROG_LOAD: resource temporarily unavailable" now and then.
func retryEAGAIN(load func() (int, error)) (int, error) {
	var err error
	for range progLoadAttempts {
		var fd int
		if fd, err = load(); !errors.Is(err, unix.EAGAIN) {
			return fd, err
		}
	}
	return -1, err
}

// bpfAttach is BPF_PROG_ATTACH or BPF_PROG_DETACH of a device program on a
// cgroup. BPF_F_ALLOW_MULTI lets programs attached below (a container that
// makes cgroups of its own) add theirs, and ours sit beside others'.
func bpfAttach(cmd int, cgroupFD, progFD int) error {
	attr := struct {
		targetFD     uint32
		attachBPFFD  uint32
		attachType   uint32
		attachFlags  uint32
		replaceBPFFD uint32
	}{targetFD: uint32(cgroupFD), attachBPFFD: uint32(progFD), attachType: unix.BPF_CGROUP_DEVICE}
	if cmd == unix.BPF_PROG_ATTACH {
		attr.attachFlags = unix.BPF_F_ALLOW_MULTI
	}
	_, err := bpf(cmd, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	return err
}

// bpfQueryDevicePrograms is BPF_PROG_QUERY: the IDs of the device programs
// attached to the cgroup itself (not those of the cgroups above it).
func bpfQueryDevicePrograms(cgroupFD int) ([]uint32, error) {
	ids := make([]uint32, 64) // BPF_CGROUP_MAX_PROGS
	attr := struct {
		targetFD    uint32
		attachType  uint32
		queryFlags  uint32
		attachFlags uint32
		progIDs     bpfPointer
		progCnt     uint32
		_           uint32
	}{targetFD: uint32(cgroupFD), attachType: unix.BPF_CGROUP_DEVICE, progIDs: bpfPointer{p: unsafe.Pointer(&ids[0])}, progCnt: uint32(len(ids))}
	_, err := bpf(unix.BPF_PROG_QUERY, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	if err != nil {
		return nil, err
	}
	return ids[:attr.progCnt], nil
}

// bpfProgFD is BPF_PROG_GET_FD_BY_ID: a descriptor of an attached program,
// which BPF_PROG_DETACH needs to name it.
func bpfProgFD(id uint32) (int, error) {
	attr := struct {
		progID    uint32
		nextID    uint32
		openFlags uint32
	}{progID: id}
	return bpf(unix.BPF_PROG_GET_FD_BY_ID, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
}
