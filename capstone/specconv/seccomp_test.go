//go:build linux && amd64

package specconv

import (
	"encoding/binary"
	"encoding/json"
	"os"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/capstone/container"
)

// run executes the compiled filter on one system call in x/net/bpf's
// virtual machine and returns the SECCOMP_RET_ value. The VM loads words
// big-endian, as from a packet, where the kernel loads struct seccomp_data
// (seccomp(2)) in the machine's order; so each 32-bit word is written here
// big-endian, at the offset the filter reads it from on this little-endian
// machine.
func run(t *testing.T, s *container.Seccomp, arch uint32, nr int, args ...uint64) uint32 {
	t.Helper()
	var insts []bpf.Instruction
	for _, f := range s.Program {
		insts = append(insts, bpf.RawInstruction{Op: f.Code, Jt: f.Jt, Jf: f.Jf, K: f.K}.Disassemble())
	}
	vm, err := bpf.NewVM(insts)
	if err != nil {
		t.Fatalf("the compiled filter does not load: %v", err)
	}
	data := make([]byte, 64)
	binary.BigEndian.PutUint32(data[0:], uint32(nr))
	binary.BigEndian.PutUint32(data[4:], arch)
	for i, a := range args {
		off := 16 + 8*i
		binary.BigEndian.PutUint32(data[off:], uint32(a))
		binary.BigEndian.PutUint32(data[off+4:], uint32(a>>32))
	}
	ret, err := vm.Run(data)
	if err != nil {
		t.Fatal(err)
	}
	return uint32(ret)
}

const auditArchX86_64 = 0xc000003e

func TestSeccompProfile(t *testing.T) {
	enosys, eacces := uint(unix.ENOSYS), uint(unix.EACCES)
	profile := &specs.LinuxSeccomp{
		DefaultAction:   specs.ActErrno,
		DefaultErrnoRet: &enosys,
		Architectures:   []specs.Arch{specs.ArchX86_64},
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"read", "write", "exit_group", "not_a_syscall"}, Action: specs.ActAllow},
			{Names: []string{"mkdir"}, Action: specs.ActErrno, ErrnoRet: &eacces},
			{Names: []string{"personality"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 0, Op: specs.OpEqualTo}}},
			{Names: []string{"personality"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 8, Op: specs.OpEqualTo}}},
			// Docker's: clone without any namespace flag.
			{Names: []string{"clone"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 0x7E020000, ValueTwo: 0, Op: specs.OpMaskedEqual}}},
			{Names: []string{"socket"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 40, Op: specs.OpNotEqual}}},
			// Two checks of one argument are alternatives.
			{Names: []string{"kill"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{
				{Index: 1, Value: 0, Op: specs.OpEqualTo}, {Index: 1, Value: 15, Op: specs.OpEqualTo}}},
		},
	}
	s, err := Seccomp(profile)
	if err != nil {
		t.Fatal(err)
	}
	allow, deflt := uint32(unix.SECCOMP_RET_ALLOW), uint32(unix.SECCOMP_RET_ERRNO)|uint32(unix.ENOSYS)
	for _, tc := range []struct {
		name string
		arch uint32
		nr   int
		args []uint64
		want uint32
	}{
		{"read", auditArchX86_64, unix.SYS_READ, nil, allow},
		{"mkdir", auditArchX86_64, unix.SYS_MKDIR, nil, unix.SECCOMP_RET_ERRNO | uint32(unix.EACCES)},
		{"getpid is not listed", auditArchX86_64, unix.SYS_GETPID, nil, deflt},
		{"personality(0)", auditArchX86_64, unix.SYS_PERSONALITY, []uint64{0}, allow},
		// A group after one whose argument check failed: the
		// library's joined program got this wrong (see Seccomp).
		{"personality(8)", auditArchX86_64, unix.SYS_PERSONALITY, []uint64{8}, allow},
		{"personality(9)", auditArchX86_64, unix.SYS_PERSONALITY, []uint64{9}, deflt},
		{"clone(SIGCHLD)", auditArchX86_64, unix.SYS_CLONE, []uint64{uint64(unix.SIGCHLD)}, allow},
		{"clone(CLONE_NEWNS)", auditArchX86_64, unix.SYS_CLONE, []uint64{unix.CLONE_NEWNS}, deflt},
		{"clone(CLONE_NEWUSER)", auditArchX86_64, unix.SYS_CLONE, []uint64{unix.CLONE_NEWUSER}, deflt},
		{"clone(high bits)", auditArchX86_64, unix.SYS_CLONE, []uint64{1 << 40}, allow},
		{"socket(AF_INET)", auditArchX86_64, unix.SYS_SOCKET, []uint64{unix.AF_INET}, allow},
		{"socket(AF_VSOCK)", auditArchX86_64, unix.SYS_SOCKET, []uint64{unix.AF_VSOCK}, deflt},
		{"kill(pid, 0)", auditArchX86_64, unix.SYS_KILL, []uint64{1, 0}, allow},
		{"kill(pid, 15)", auditArchX86_64, unix.SYS_KILL, []uint64{1, 15}, allow},
		{"kill(pid, 9)", auditArchX86_64, unix.SYS_KILL, []uint64{1, 9}, deflt},
		{"read from i386", 0x40000003, 3, nil, deflt},
		{"x32 ABI", auditArchX86_64, unix.SYS_READ | 0x40000000, nil, unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)},
	} {
		if got := run(t, s, tc.arch, tc.nr, tc.args...); got != tc.want {
			t.Errorf("filter(%s) = %#x; want %#x", tc.name, got, tc.want)
		}
	}
}

func TestSeccompDefaultOnly(t *testing.T) {
	s, err := Seccomp(&specs.LinuxSeccomp{DefaultAction: specs.ActAllow})
	if err != nil || s != nil {
		t.Errorf("Seccomp(allow everything) = %v, %v; want no filter", s, err)
	}
	s, err = Seccomp(&specs.LinuxSeccomp{DefaultAction: specs.ActKillProcess})
	if err != nil {
		t.Fatal(err)
	}
	if got := run(t, s, auditArchX86_64, unix.SYS_READ); got != unix.SECCOMP_RET_KILL_PROCESS {
		t.Errorf("filter(read) = %#x; want SECCOMP_RET_KILL_PROCESS", got)
	}
}

func TestSeccompRefusesWhatItCannotCompile(t *testing.T) {
	_, err := Seccomp(&specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
		{Names: []string{"clone"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 0xff, ValueTwo: 0x0f, Op: specs.OpMaskedEqual}}},
	}})
	if err == nil || !strings.Contains(err.Error(), "SCMP_CMP_MASKED_EQ") {
		t.Errorf("Seccomp(masked 0xff == 0x0f) = %v; want it refused", err)
	}
}

// TestSeccompPodmanProfile compiles the default profile of podman 4.3
// (containers/common's seccomp.json, Apache-2.0, copied into testdata), as
// podman puts it in every config.json.
func TestSeccompPodmanProfile(t *testing.T) {
	b, err := os.ReadFile("testdata/podman-seccomp.json")
	if err != nil {
		t.Fatal(err)
	}
	var profile specs.LinuxSeccomp
	if err := json.Unmarshal(b, &profile); err != nil {
		t.Fatal(err)
	}
	s, err := Seccomp(&profile)
	if err != nil {
		t.Fatal(err)
	}
	allow := uint32(unix.SECCOMP_RET_ALLOW)
	for _, tc := range []struct {
		name string
		nr   int
		args []uint64
		want uint32
	}{
		{"read", unix.SYS_READ, nil, allow},
		{"clone", unix.SYS_CLONE, []uint64{uint64(unix.SIGCHLD)}, allow},
		{"personality(0)", unix.SYS_PERSONALITY, []uint64{0}, allow},
		{"personality(0xffffffff)", unix.SYS_PERSONALITY, []uint64{0xffffffff}, allow},
		{"personality(1)", unix.SYS_PERSONALITY, []uint64{1}, unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)},
		{"kexec_load", unix.SYS_KEXEC_LOAD, nil, unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)},
		{"a number no kernel has", 999, nil, unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)},
	} {
		if got := run(t, s, auditArchX86_64, tc.nr, tc.args...); got != tc.want {
			t.Errorf("podman's profile(%s) = %#x; want %#x", tc.name, got, tc.want)
		}
	}
}
