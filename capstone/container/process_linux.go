package container

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The steps that turn the init (or an exec'd process) into the container's
// process, in the order runc takes them. Each acts on the calling thread
// (capset(2), prctl(2) and the raw set*id calls are per thread), which is
// the thread that then execs: what it has is what the program gets.

// setEnv replaces this process's environment with the container's, so
// that exec.LookPath searches the container's PATH; a HOME from
// /etc/passwd is added when the spec has none, as runc does.
func setEnv(p Process) error {
	os.Clearenv()
	for _, kv := range p.Env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return fmt.Errorf("process.env %q: want NAME=value", kv)
		}
		if err := os.Setenv(k, v); err != nil {
			return fmt.Errorf("process.env %q: %w", kv, err)
		}
	}
	if _, ok := os.LookupEnv("HOME"); !ok {
		os.Setenv("HOME", homeOf(p.UID))
	}
	return nil
}

// environ is the environment the program gets.
func environ() []string { return os.Environ() }

// homeOf reads the user's home from the container's /etc/passwd (the
// caller has entered the root); "/" when there is none. It parses the file
// itself: os/user may call the C library, which a static runtime has not.
func homeOf(uid int) string {
	f, err := os.Open("/etc/passwd")
	if err != nil {
		return "/"
	}
	defer f.Close()
	return homeIn(f, uid)
}

// homeIn is the home of uid in a passwd(5) file; "/" when it has none.
func homeIn(r io.Reader, uid int) string {
	sc := bufio.NewScanner(r)
	want := strconv.Itoa(uid)
	for sc.Scan() {
		// name:password:UID:GID:GECOS:directory:shell (passwd(5))
		f := strings.Split(sc.Text(), ":")
		if len(f) >= 6 && f[2] == want && f[5] != "" {
			return f[5]
		}
	}
	return "/"
}

// lookPath finds the program now, so that a missing one fails `create`
// rather than `start` (runc does the same).
func lookPath(p Process) error {
	if _, err := exec.LookPath(p.Args[0]); err != nil {
		return fmt.Errorf("exec: %q: %w", p.Args[0], errors.Unwrap(err))
	}
	return nil
}

func setRlimits(rs []Rlimit) error {
	for _, r := range rs {
		lim := unix.Rlimit{Cur: r.Soft, Max: r.Hard}
		if err := unix.Prlimit(0, r.Type, &lim, nil); err != nil {
			hint := ""
			if errors.Is(err, unix.EPERM) {
				hint = ": raising a hard limit needs CAP_SYS_RESOURCE, which this runtime does not have"
			}
			return fmt.Errorf("setrlimit %s soft %d hard %d: %w%s", r.Name, r.Soft, r.Hard, err, hint)
		}
	}
	return nil
}

func setOOMScoreAdj(p Process) error {
	if p.OOMScoreAdj == nil {
		return nil
	}
	if err := os.WriteFile("/proc/self/oom_score_adj", []byte(strconv.Itoa(*p.OOMScoreAdj)), 0); err != nil {
		return fmt.Errorf("set oom_score_adj %d: %w", *p.OOMScoreAdj, err)
	}
	return nil
}

// loadSeccomp installs the filter on this thread (seccomp(2)
// SECCOMP_SET_MODE_FILTER). Without no_new_privs it needs CAP_SYS_ADMIN,
// so it comes before the capabilities are dropped; with it, as late as
// possible, right before exec.
func loadSeccomp(s *Seccomp) error {
	if s == nil {
		return nil
	}
	prog := make([]unix.SockFilter, len(s.Program))
	for i, f := range s.Program {
		prog[i] = unix.SockFilter{Code: f.Code, Jt: f.Jt, Jf: f.Jf, K: f.K}
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	_, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, uintptr(s.Flags), uintptr(unsafe.Pointer(&fprog)))
	if errno != 0 {
		return fmt.Errorf("seccomp(SECCOMP_SET_MODE_FILTER) with %d instructions: %w", len(prog), errno)
	}
	return nil
}

// capLast is the highest capability this kernel knows
// (/proc/sys/kernel/cap_last_cap).
func capLast() int {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		return 40 // CAP_CHECKPOINT_RESTORE, Linux 5.9
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 40
	}
	return n
}

// capsNow reads this thread's capability sets (capget(2)).
func capsNow() (eff, perm, inh uint64, err error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return 0, 0, 0, fmt.Errorf("capget: %w", err)
	}
	join := func(lo, hi uint32) uint64 { return uint64(lo) | uint64(hi)<<32 }
	return join(data[0].Effective, data[1].Effective), join(data[0].Permitted, data[1].Permitted), join(data[0].Inheritable, data[1].Inheritable), nil
}

// finalize is runc's finalizeNamespace: bounding set, then user and groups
// with the capabilities kept across the change of UID, then the other four
// capability sets, then no_new_privs. Sets the spec asks for beyond what
// this process holds are cut to what it holds: a runtime cannot grant
// what it lacks (here, for one, root has no CAP_SYS_RESOURCE).
func finalize(p Process) error {
	last := capLast()
	caps := p.Caps
	if caps != nil {
		for i := 0; i <= last; i++ {
			if caps.Bounding&(1<<uint(i)) != 0 {
				continue
			}
			if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(i), 0, 0, 0); err != nil && !errors.Is(err, unix.EINVAL) {
				return fmt.Errorf("prctl PR_CAPBSET_DROP %d: %w", i, err)
			}
		}
		if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("prctl PR_SET_KEEPCAPS: %w", err)
		}
	}
	if err := setUser(p); err != nil {
		return err
	}
	if caps != nil {
		if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 0, 0, 0, 0); err != nil {
			return fmt.Errorf("prctl PR_SET_KEEPCAPS 0: %w", err)
		}
		eff, perm, inh, amb, err := heldCaps(*caps)
		if err != nil {
			return err
		}
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		data := [2]unix.CapUserData{
			{Effective: uint32(eff), Permitted: uint32(perm), Inheritable: uint32(inh)},
			{Effective: uint32(eff >> 32), Permitted: uint32(perm >> 32), Inheritable: uint32(inh >> 32)},
		}
		if err := unix.Capset(&hdr, &data[0]); err != nil {
			return fmt.Errorf("capset effective %#x permitted %#x inheritable %#x: %w", eff, perm, inh, err)
		}
		if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil && !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("prctl PR_CAP_AMBIENT_CLEAR_ALL: %w", err)
		}
		for i := 0; i <= last; i++ {
			if amb&(1<<uint(i)) == 0 {
				continue
			}
			if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(i), 0, 0); err != nil {
				return fmt.Errorf("prctl PR_CAP_AMBIENT_RAISE %d: %w", i, err)
			}
		}
	}
	if p.NoNewPrivileges {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("prctl PR_SET_NO_NEW_PRIVS: %w", err)
		}
	}
	return nil
}

// heldCaps cuts the sets caps asks for to what this process holds: a
// runtime cannot grant what it lacks (here, for one, root has no
// CAP_SYS_RESOURCE), and capset(2) would refuse the whole call. An ambient
// capability must be permitted and inheritable (capabilities(7)); others
// are left out, as runc does.
func heldCaps(caps Caps) (eff, perm, inh, amb uint64, err error) {
	_, have, _, err := capsNow()
	if err != nil {
		return 0, 0, 0, 0, err
	}
	limit := have & (uint64(1)<<uint(capLast()+1) - 1) & caps.Bounding
	eff, perm, inh = caps.Effective&limit, caps.Permitted&limit, caps.Inheritable&limit
	return eff, perm, inh, caps.Ambient & perm & inh, nil
}

// setUser sets the groups, GID and UID of this thread (setgroups(2),
// setresgid(2), setresuid(2), raw: per thread, like the rest).
func setUser(p Process) error {
	if err := unix.Setgroups(p.AdditionalGids); err != nil {
		// In a user namespace with setgroups denied, only an empty list
		// was ever possible.
		if !(errors.Is(err, unix.EPERM) && len(p.AdditionalGids) == 0) {
			return fmt.Errorf("setgroups %v: %w", p.AdditionalGids, err)
		}
	}
	if err := unix.Setresgid(p.GID, p.GID, p.GID); err != nil {
		return fmt.Errorf("setresgid %d: %w: is the GID mapped in the container's user namespace?", p.GID, err)
	}
	if err := unix.Setresuid(p.UID, p.UID, p.UID); err != nil {
		return fmt.Errorf("setresuid %d: %w: is the UID mapped in the container's user namespace?", p.UID, err)
	}
	if p.Umask != nil {
		unix.Umask(*p.Umask)
	}
	return nil
}
