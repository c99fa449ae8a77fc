//go:build linux

package cgroups

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// The device filter is tested three ways: here, by running the compiled
// program in a small interpreter of the instructions it uses and comparing
// every answer with the rules' meaning (deviceAllowed, written as plainly as
// devices.go states it); by the v1 writes it makes; and in priv_test.go, by
// the kernel itself refusing a mknod and an open.

// deviceRequest is what the kernel asks a device filter.
type deviceRequest struct {
	typ          byte // 'c' or 'b'
	major, minor int64
	access       string
}

func (q deviceRequest) String() string {
	return fmt.Sprintf("%c %d:%d %s", q.typ, q.major, q.minor, q.access)
}

// deviceAllowed is the meaning of the rules: everything denied at first;
// for each access asked for, the last rule that names the device and that
// access decides it; allowed if every access is.
func deviceAllowed(rules []DeviceRule, q deviceRequest) bool {
	for _, a := range q.access {
		allowed := false
		for _, r := range rules {
			names := (r.Type == 'a' || r.Type == q.typ) &&
				(r.Major == DeviceWildcard || r.Major == q.major) &&
				(r.Minor == DeviceWildcard || r.Minor == q.minor) &&
				strings.ContainsRune(r.Access, a)
			if names {
				allowed = r.Allow
			}
		}
		if !allowed {
			return false
		}
	}
	return true
}

// checkProgram is what of the verifier's checks a compiled filter can
// fail: a jump out of the program, or an end without exit.
func checkProgram(prog []bpfInsn) error {
	if len(prog) == 0 || prog[len(prog)-1].Code != opExit {
		return errors.New("the program does not end in exit")
	}
	for i, in := range prog {
		if in.Code == opJumpNeImm || in.Code == opJumpEqImm {
			if to := i + 1 + int(in.Off); in.Off < 0 || to >= len(prog) {
				return fmt.Errorf("instruction %d jumps to %d, outside the program", i, to)
			}
		}
	}
	return nil
}

// runDeviceProgram interprets prog for q, as the kernel would run it with a
// struct bpf_cgroup_dev_ctx, and returns r0.
func runDeviceProgram(t *testing.T, prog []bpfInsn, q deviceRequest) uint64 {
	t.Helper()
	typ := uint32(devTypeChar)
	if q.typ == 'b' {
		typ = devTypeBlock
	}
	ctx := [3]uint32{uint32(accessBits(q.access))<<16 | typ, uint32(q.major), uint32(q.minor)}
	var reg [11]uint64
	written := map[uint8]bool{r1: true}
	use := func(i int, r uint8) uint64 {
		if !written[r] {
			t.Fatalf("instruction %d reads r%d before it is written", i, r)
		}
		return reg[r]
	}
	for pc, steps := 0, 0; ; pc, steps = pc+1, steps+1 {
		if pc >= len(prog) || steps > len(prog) {
			t.Fatalf("the program ran off its end or looped (pc %d)", pc)
		}
		in := prog[pc]
		switch in.Code {
		case opLoadWord:
			if use(pc, in.Src); in.Src != r1 || in.Off%4 != 0 || in.Off < 0 || in.Off > 8 {
				t.Fatalf("instruction %d loads from r%d%+d, not from the context", pc, in.Src, in.Off)
			}
			reg[in.Dst] = uint64(ctx[in.Off/4])
		case opMovImm:
			reg[in.Dst] = uint64(int64(in.Imm))
		case opMovReg:
			reg[in.Dst] = use(pc, in.Src)
		case opAndImm:
			reg[in.Dst] = use(pc, in.Dst) & uint64(int64(in.Imm))
		case opRshImm:
			reg[in.Dst] = use(pc, in.Dst) >> uint(in.Imm)
		case opJumpNeImm:
			if use(pc, in.Dst) != uint64(int64(in.Imm)) {
				pc += int(in.Off)
			}
		case opJumpEqImm:
			if use(pc, in.Dst) == uint64(int64(in.Imm)) {
				pc += int(in.Off)
			}
		case opExit:
			return use(pc, r0)
		default:
			t.Fatalf("instruction %d: opcode %#x", pc, in.Code)
		}
		written[in.Dst] = true
	}
}

func rule(allow bool, s string) DeviceRule {
	f := strings.Fields(s) // "c 1:3 rwm"
	maj, min, _ := strings.Cut(f[1], ":")
	num := func(s string) int64 {
		if s == "*" {
			return DeviceWildcard
		}
		var n int64
		fmt.Sscan(s, &n)
		return n
	}
	return DeviceRule{Allow: allow, Type: f[0][0], Major: num(maj), Minor: num(min), Access: f[2]}
}

// runcDefaults are runc's default rules after containerd's "deny all".
var runcDefaults = []DeviceRule{
	rule(false, "a *:* rwm"),
	rule(true, "c *:* m"), rule(true, "b *:* m"),
	rule(true, "c 1:3 rwm"), rule(true, "c 1:8 rwm"), rule(true, "c 1:7 rwm"), rule(true, "c 5:0 rwm"),
	rule(true, "c 1:5 rwm"), rule(true, "c 1:9 rwm"), rule(true, "c 136:* rwm"), rule(true, "c 5:2 rwm"),
	rule(true, "c 10:200 rwm"),
}

var deviceRuleSets = map[string][]DeviceRule{
	"runc's defaults":          runcDefaults,
	"none":                     {},
	"privileged":               {rule(true, "a *:* rwm")},
	"allow all, deny the disk": {rule(true, "a *:* rwm"), rule(false, "b 8:0 rwm")},
	"read only null":           {rule(true, "c 1:3 r")},
	"null, then no writes":     {rule(true, "c 1:3 rwm"), rule(false, "c 1:* w")},
	"both types, mknod only":   {rule(true, "a 1:* m"), rule(true, "c 1:5 r")},
	"split across rules":       {rule(true, "c 1:3 r"), rule(true, "c *:3 w")},
	"deny after allow":         {rule(true, "c 136:* rwm"), rule(false, "c 136:0 r"), rule(true, "c 136:0 r")},
}

// TestDeviceProgram: for every rule set and every request in a grid of
// types, numbers and accesses, the compiled program answers as the rules
// mean.
func TestDeviceProgram(t *testing.T) {
	var requests []deviceRequest
	for _, typ := range []byte{'c', 'b'} {
		for _, major := range []int64{1, 5, 8, 10, 136, 1<<32 - 1} {
			for _, minor := range []int64{0, 2, 3, 5, 200} {
				for _, access := range []string{"r", "w", "m", "rw", "rm", "wm", "rwm"} {
					requests = append(requests, deviceRequest{typ, major, minor, access})
				}
			}
		}
	}
	for name, rules := range deviceRuleSets {
		t.Run(name, func(t *testing.T) {
			prog := deviceProgram(rules)
			if err := checkProgram(prog); err != nil {
				t.Fatal(err)
			}
			for _, q := range requests {
				want := deviceAllowed(rules, q)
				if got := runDeviceProgram(t, prog, q); got != map[bool]uint64{false: 0, true: 1}[want] {
					t.Errorf("the program for %v answers %d to %v; want allowed=%v", rules, got, q, want)
				}
			}
		})
	}
	// The meaning itself, on the cases that matter.
	for _, c := range []struct {
		rules []DeviceRule
		q     deviceRequest
		want  bool
	}{
		{runcDefaults, deviceRequest{'c', 1, 3, "rw"}, true},   // /dev/null
		{runcDefaults, deviceRequest{'b', 8, 0, "m"}, true},    // mknod of any node...
		{runcDefaults, deviceRequest{'b', 8, 0, "r"}, false},   // ...but no opening it
		{runcDefaults, deviceRequest{'c', 1, 1, "rw"}, false},  // /dev/mem
		{runcDefaults, deviceRequest{'c', 136, 7, "rw"}, true}, // a pty
		{deviceRuleSets["null, then no writes"], deviceRequest{'c', 1, 3, "rw"}, false},
		{deviceRuleSets["null, then no writes"], deviceRequest{'c', 1, 3, "rm"}, true},
		{deviceRuleSets["split across rules"], deviceRequest{'c', 1, 3, "rw"}, true},
		{deviceRuleSets["deny after allow"], deviceRequest{'c', 136, 0, "r"}, true},
		{deviceRuleSets["deny after allow"], deviceRequest{'c', 136, 0, "rw"}, true},
		{nil, deviceRequest{'c', 1, 3, "r"}, false},
	} {
		if got := deviceAllowed(c.rules, c.q); got != c.want {
			t.Errorf("deviceAllowed(%v, %v) = %v; want %v", c.rules, c.q, got, c.want)
		}
	}
}

func TestV1DeviceWrites(t *testing.T) {
	for _, c := range []struct {
		name  string
		rules []DeviceRule
		want  []string
	}{
		{"nil: leave alone", nil, nil},
		{"none: deny all", []DeviceRule{}, []string{"devices.deny a"}},
		{"deny all first", []DeviceRule{rule(false, "a *:* rwm"), rule(true, "c 1:3 rwm")},
			[]string{"devices.deny a", "devices.allow c 1:3 rwm"}},
		{"allow all first", []DeviceRule{rule(true, "a *:* rwm"), rule(false, "b 8:* rwm")},
			[]string{"devices.allow a", "devices.deny b 8:* rwm"}},
		{"no reset rule: deny all first", []DeviceRule{rule(true, "c 136:* rwm")},
			[]string{"devices.deny a", "devices.allow c 136:* rwm"}},
		{"both types, some access", []DeviceRule{rule(true, "a *:* m")},
			[]string{"devices.deny a", "devices.allow c *:* m", "devices.allow b *:* m"}},
	} {
		var got []string
		for _, w := range v1DeviceWrites(c.rules) {
			got = append(got, w[0]+" "+w[1])
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: v1DeviceWrites(%v) = %q; want %q", c.name, c.rules, got, c.want)
		}
	}
}

func TestDeviceRuleValidate(t *testing.T) {
	for _, c := range []struct {
		r       DeviceRule
		wantErr string
	}{
		{rule(true, "c 1:3 rwm"), ""},
		{rule(false, "a *:* rwm"), ""},
		{DeviceRule{Type: 'x', Major: 1, Minor: 3, Access: "r"}, "type"},
		{DeviceRule{Type: 'c', Major: -2, Minor: 3, Access: "r"}, "major and minor"},
		{DeviceRule{Type: 'c', Major: 1, Minor: 3, Access: ""}, "no access"},
		{DeviceRule{Type: 'c', Major: 1, Minor: 3, Access: "rx"}, "access"},
	} {
		err := c.r.Validate()
		if (err == nil) != (c.wantErr == "") || (err != nil && !strings.Contains(err.Error(), c.wantErr)) {
			t.Errorf("%v.Validate() = %v; want an error with %q", c.r, err, c.wantErr)
		}
	}
	if err := (Resources{Devices: []DeviceRule{{Type: 'c', Access: "x"}}}).Validate(); err == nil {
		t.Error("Resources.Validate accepted a bad device rule")
	}
}

// TestSetDevices: on v1 the rules are written to the devices hierarchy;
// on v2 a device filter is attached that answers as the rules mean, and a
// second Set replaces it.
func TestSetDevices(t *testing.T) {
	t.Run("v1", func(t *testing.T) {
		h, _ := fakeV1(t, true)
		m := mustCreate(t, h, "/unbox-x", "y", "memory", "devices")
		ops := trace(h)
		if err := m.Set(Resources{Devices: runcDefaults[:4]}); err != nil {
			t.Fatal(err)
		}
		want := []string{
			"echo a > <root>/devices/unbox-x/y/devices.deny",
			"echo 'c *:* m' > <root>/devices/unbox-x/y/devices.allow",
			"echo 'b *:* m' > <root>/devices/unbox-x/y/devices.allow",
			"echo 'c 1:3 rwm' > <root>/devices/unbox-x/y/devices.allow",
		}
		if !slices.Equal(*ops, want) {
			t.Errorf("Set wrote\n%s\nwant\n%s", strings.Join(*ops, "\n"), strings.Join(want, "\n"))
		}
	})
	t.Run("v2", func(t *testing.T) {
		h, k := fakeV2(t, "cpu memory pids")
		m := mustCreate(t, h, "/unbox-x", "y", "memory", "devices")
		if got := read(t, filepath.Join(h.Root, "unbox-x", "cgroup.subtree_control")); got != "memory" {
			t.Errorf("the parent enabled %q; want memory alone (devices is not a v2 controller)", got)
		}
		ops := trace(h)
		if err := m.Set(Resources{Devices: runcDefaults}); err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(h.Root, "unbox-x", "y")
		if want := fmt.Sprintf("# bpf(BPF_PROG_ATTACH): a device filter of %d instructions on <root>/unbox-x/y (bpftool cgroup show <root>/unbox-x/y)",
			len(deviceProgram(runcDefaults))); !slices.Equal(*ops, []string{want}) {
			t.Errorf("Set traced %q; want %q", *ops, want)
		}
		null, disk := deviceRequest{'c', 1, 3, "rw"}, deviceRequest{'b', 8, 0, "r"}
		if runDeviceProgram(t, k.filters[dir], null) != 1 || runDeviceProgram(t, k.filters[dir], disk) != 0 {
			t.Errorf("the attached filter does not allow %v and deny %v", null, disk)
		}
		if err := m.Set(Resources{Devices: []DeviceRule{rule(true, "a *:* rwm")}}); err != nil {
			t.Fatal(err)
		}
		if runDeviceProgram(t, k.filters[dir], disk) != 1 {
			t.Errorf("after a Set that allows everything, the filter still denies %v", disk)
		}
		if err := m.Set(Resources{Memory: 1 << 20}); err != nil {
			t.Fatal(err)
		}
		if runDeviceProgram(t, k.filters[dir], disk) != 1 {
			t.Error("a Set without device rules changed the filter")
		}
	})
	t.Run("needs the controller", func(t *testing.T) {
		h, _ := fakeV2(t, "cpu memory pids")
		m := mustCreate(t, h, "/unbox-x", "y", "memory")
		err := m.Set(Resources{Devices: []DeviceRule{}})
		if err == nil || !strings.Contains(err.Error(), "devices controller") {
			t.Errorf("Set of device rules on a cgroup made without devices = %v; want an error naming the controller", err)
		}
	})
}

// TestRetryEAGAIN: a program load the verifier gave up on because a signal
// was pending is tried again, a bounded number of times; any other
// outcome is returned as it is.
func TestRetryEAGAIN(t *testing.T) {
	calls := 0
	fd, err := retryEAGAIN(func() (int, error) {
		if calls++; calls < 3 {
			return -1, unix.EAGAIN
		}
		return 7, nil
	})
	if fd != 7 || err != nil || calls != 3 {
		t.Errorf("EAGAIN twice, then fd 7: got %d, %v after %d calls; want 7 after 3", fd, err, calls)
	}
	calls = 0
	if _, err := retryEAGAIN(func() (int, error) { calls++; return -1, unix.EAGAIN }); !errors.Is(err, unix.EAGAIN) || calls != progLoadAttempts {
		t.Errorf("EAGAIN always: %v after %d calls; want EAGAIN after %d", err, calls, progLoadAttempts)
	}
	calls = 0
	if _, err := retryEAGAIN(func() (int, error) { calls++; return -1, unix.EACCES }); !errors.Is(err, unix.EACCES) || calls != 1 {
		t.Errorf("EACCES: %v after %d calls; want it at once", err, calls)
	}
}
