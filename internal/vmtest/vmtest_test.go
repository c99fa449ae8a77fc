package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// cpioEntry is one parsed newc entry.
type cpioEntry struct {
	name         string
	mode         uint32
	data         string
	major, minor uint32
}

// readCPIO parses a newc archive the way the kernel does (init/initramfs.c):
// header, name, padding to 4, data, padding to 4, until TRAILER!!!.
func readCPIO(t *testing.T, b []byte) []cpioEntry {
	t.Helper()
	var out []cpioEntry
	off := 0
	field := func(i int) uint32 {
		v, err := strconv.ParseUint(string(b[off+6+8*i:off+14+8*i]), 16, 32)
		if err != nil {
			t.Fatalf("header field %d at %d: %v", i, off, err)
		}
		return uint32(v)
	}
	align := func(n int) int { return (n + 3) &^ 3 }
	for {
		if off%4 != 0 {
			t.Fatalf("entry at offset %d is not 4-aligned", off)
		}
		if string(b[off:off+6]) != "070701" {
			t.Fatalf("no newc magic at %d: %q", off, b[off:off+6])
		}
		mode, size, rmaj, rmin, namesize := field(1), int(field(6)), field(9), field(10), int(field(11))
		name := string(b[off+110 : off+110+namesize-1])
		if b[off+110+namesize-1] != 0 {
			t.Fatalf("name %q is not NUL-terminated", name)
		}
		dataAt := align(off + 110 + namesize)
		if name == "TRAILER!!!" {
			if end := align(dataAt + size); end != len(b) {
				t.Errorf("archive is %d bytes; the trailer ends at %d", len(b), end)
			}
			return out
		}
		out = append(out, cpioEntry{name, mode, string(b[dataAt : dataAt+size]), rmaj, rmin})
		off = align(dataAt + size)
	}
}

func TestCPIOWriter(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	if err := os.WriteFile(src, []byte("from a file"), 0o600); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w := newCPIOWriter(&buf)
	w.Dir("tmp", 0o777|os.ModeSticky)
	w.Bytes("etc/vmtest/plan", 0o644, []byte("abc"))
	w.File("/unbox/bin/x.test", 0o755, src)
	w.Symlink("bin/sh", "busybox")
	w.Node("dev/console", cpioCharDev|0o600, 5, 1)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got := readCPIO(t, buf.Bytes())
	want := []cpioEntry{
		{"tmp", cpioDir | 0o1777, "", 0, 0},
		{"etc", cpioDir | 0o755, "", 0, 0},
		{"etc/vmtest", cpioDir | 0o755, "", 0, 0},
		{"etc/vmtest/plan", cpioRegular | 0o644, "abc", 0, 0},
		{"unbox", cpioDir | 0o755, "", 0, 0},
		{"unbox/bin", cpioDir | 0o755, "", 0, 0},
		{"unbox/bin/x.test", cpioRegular | 0o755, "from a file", 0, 0},
		{"bin", cpioDir | 0o755, "", 0, 0},
		{"bin/sh", cpioSymlink | 0o777, "busybox", 0, 0},
		{"dev", cpioDir | 0o755, "", 0, 0},
		{"dev/console", cpioCharDev | 0o600, "", 5, 1},
	}
	if !slices.Equal(got, want) {
		t.Errorf("archive =\n%v\nwant\n%v", got, want)
	}
}

func TestCPIOWriterReportsAMissingFile(t *testing.T) {
	w := newCPIOWriter(&bytes.Buffer{})
	w.File("x", 0o644, filepath.Join(t.TempDir(), "missing"))
	w.Bytes("y", 0o644, nil)
	if err := w.Close(); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Close after adding a missing file = %v; want ErrNotExist", err)
	}
}

// fakeBzImage makes the parts of a bzImage that bzImagePayload reads: the
// boot header and a payload at (setup_sects+1)*512 + payload_offset.
func fakeBzImage(t *testing.T, payload []byte, version uint16) []byte {
	t.Helper()
	img := make([]byte, 3*512+16+len(payload)+4)
	img[0x1f1] = 2 // setup_sects
	copy(img[0x202:], "HdrS")
	binary.LittleEndian.PutUint16(img[0x206:], version)
	binary.LittleEndian.PutUint32(img[0x248:], 16)
	binary.LittleEndian.PutUint32(img[0x24c:], uint32(len(payload)+4))
	copy(img[3*512+16:], payload)
	binary.LittleEndian.PutUint32(img[3*512+16+len(payload):], 1234) // the size the kernel appends
	return img
}

func TestExtractVmlinux(t *testing.T) {
	elfBytes := []byte("\x7fELF and the rest of a kernel")
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(elfBytes)
	zw.Close()
	dir := t.TempDir()
	bz, out := filepath.Join(dir, "vmlinuz"), filepath.Join(dir, "vmlinux")
	if err := os.WriteFile(bz, fakeBzImage(t, z.Bytes(), 0x20f), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := extractVmlinux(context.Background(), bz, out); err != nil {
		t.Fatalf("extractVmlinux: %v", err)
	}
	if got, _ := os.ReadFile(out); !bytes.Equal(got, elfBytes) {
		t.Errorf("vmlinux = %q; want %q", got, elfBytes)
	}
}

func TestBzImagePayloadRefusesWhatItCannotRead(t *testing.T) {
	for _, c := range []struct {
		name string
		img  []byte
		want string
	}{
		{"too short", []byte("MZ"), "HdrS"},
		{"old boot protocol", fakeBzImage(t, []byte("x"), 0x206), "2.08"},
		{"payload past the end", func() []byte {
			img := fakeBzImage(t, []byte("x"), 0x20f)
			binary.LittleEndian.PutUint32(img[0x24c:], 1<<20)
			return img
		}(), "outside"},
	} {
		if _, err := bzImagePayload(c.img); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: bzImagePayload = %v; want an error about %q", c.name, err, c.want)
		}
	}
}

func TestDecompressUnknownFormat(t *testing.T) {
	if _, err := decompress(context.Background(), []byte("plain text")); err == nil || !strings.Contains(err.Error(), "unknown compression") {
		t.Errorf("decompress(plain text) = %v; want unknown compression", err)
	}
}

func TestHasNote(t *testing.T) {
	note := func(name string, typ uint32, desc []byte) []byte {
		var b bytes.Buffer
		binary.Write(&b, binary.LittleEndian, []uint32{uint32(len(name) + 1), uint32(len(desc)), typ})
		b.WriteString(name + "\x00")
		for b.Len()%4 != 0 {
			b.WriteByte(0)
		}
		b.Write(desc)
		for b.Len()%4 != 0 {
			b.WriteByte(0)
		}
		return b.Bytes()
	}
	notes := append(note("Xen", 6, []byte("linux\x00")), note("GNU", pvhNoteType, []byte{1, 2, 3})...)
	if hasNote(notes, "Xen", pvhNoteType) {
		t.Error("hasNote found a PVH entry where there is none (the type 18 note is GNU's)")
	}
	notes = append(notes, note("Xen", pvhNoteType, []byte{0, 0, 0, 1})...)
	if !hasNote(notes, "Xen", pvhNoteType) {
		t.Error("hasNote missed the PVH entry note")
	}
	if hasNote(notes[:len(notes)-2], "Xen", pvhNoteType) {
		t.Error("hasNote read a truncated note")
	}
}

func TestModuleLoadOrder(t *testing.T) {
	ix := &moduleIndex{
		files: map[string]string{
			"bridge": "kernel/net/bridge/bridge.ko", "stp": "kernel/net/802/stp.ko", "llc": "kernel/net/llc/llc.ko",
			"nf_tables": "kernel/net/netfilter/nf_tables.ko", "nfnetlink": "kernel/net/netfilter/nfnetlink.ko",
			"libcrc32c": "kernel/lib/libcrc32c.ko", "crc32c_generic": "kernel/crypto/crc32c_generic.ko",
			"overlay": "kernel/fs/overlayfs/overlay.ko.xz", "loop_a": "a.ko", "loop_b": "b.ko",
		},
		builtin: map[string]bool{"unix": true},
	}
	deps := map[string][2][]string{ // file → depends, softdeps
		"kernel/net/bridge/bridge.ko":       {{"llc", "stp"}},
		"kernel/net/802/stp.ko":             {{"llc"}},
		"kernel/net/netfilter/nf_tables.ko": {{"nfnetlink", "libcrc32c"}},
		"kernel/lib/libcrc32c.ko":           {nil, {"crc32c"}}, // an alias: left to the caller
		"a.ko":                              {{"loop-b"}},
		"b.ko":                              {{"loop_a"}},
	}
	read := func(file string) ([]string, []string, error) { d := deps[file]; return d[0], d[1], nil }
	for _, c := range []struct {
		want    []string
		order   []string
		errText string
	}{
		{[]string{"bridge"}, []string{"kernel/net/llc/llc.ko", "kernel/net/802/stp.ko", "kernel/net/bridge/bridge.ko"}, ""},
		{[]string{"crc32c_generic", "nf_tables", "overlay", "unix", "stp"}, []string{
			"kernel/crypto/crc32c_generic.ko", "kernel/net/netfilter/nfnetlink.ko", "kernel/lib/libcrc32c.ko",
			"kernel/net/netfilter/nf_tables.ko", "kernel/fs/overlayfs/overlay.ko.xz", "kernel/net/llc/llc.ko", "kernel/net/802/stp.ko",
		}, ""},
		{[]string{"veth"}, nil, "no module veth"},
		{[]string{"loop_a"}, nil, "cycle"},
	} {
		order, err := moduleLoadOrder(ix, c.want, read)
		if c.errText != "" {
			if err == nil || !strings.Contains(err.Error(), c.errText) {
				t.Errorf("moduleLoadOrder(%v) = %v, %v; want an error about %q", c.want, order, err, c.errText)
			}
			continue
		}
		if err != nil || !slices.Equal(order, c.order) {
			t.Errorf("moduleLoadOrder(%v) = %v, %v;\nwant %v", c.want, order, err, c.order)
		}
	}
}

func TestParseModinfo(t *testing.T) {
	data := []byte("license=GPL\x00softdep=pre: crc32c post: other\x00depends=nfnetlink,libcrc32c\x00intree=Y\x00")
	deps, soft := parseModinfo(data)
	if !slices.Equal(deps, []string{"nfnetlink", "libcrc32c"}) || !slices.Equal(soft, []string{"crc32c"}) {
		t.Errorf("parseModinfo = %v, %v; want [nfnetlink libcrc32c], [crc32c]", deps, soft)
	}
	if deps, soft := parseModinfo([]byte("depends=\x00")); deps != nil || soft != nil {
		t.Errorf("parseModinfo(depends=) = %v, %v; want nothing", deps, soft)
	}
}

func TestModuleName(t *testing.T) {
	for in, want := range map[string]string{
		"kernel/net/802/stp.ko":                  "stp",
		"kernel/arch/x86/crypto/crc32c-intel.ko": "crc32c_intel",
		"kernel/fs/overlayfs/overlay.ko.xz":      "overlay",
	} {
		if got := moduleName(in); got != want {
			t.Errorf("moduleName(%q) = %q; want %q", in, got, want)
		}
	}
}

func TestDiscoveryReadsTestFiles(t *testing.T) {
	file := filepath.Join(t.TempDir(), "x_test.go")
	src := `package x

import "testing"

func TestPrivOne(t *testing.T)       {}
func TestPrivate(t *testing.T)       {} // runs under -test.run '^TestPriv' too
func TestPlain(t *testing.T)         {}
func TestPrivBench(b *testing.B)     {}
func TestPrivNoArgs()                {}
func (s suite) TestPrivMethod(t *testing.T) {}
func helperPriv(t *testing.T)        {}

type suite struct{}
`
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := privilegedTests(file)
	if want := []string{"TestPrivOne", "TestPrivate"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("privilegedTests = %v, %v; want %v", got, err, want)
	}
}

func TestExclusions(t *testing.T) {
	pkgs := []*testPackage{
		{Rel: "lessons/01-namespaces", Tests: []string{"TestPrivA", "TestPrivNoColorThroughSudo"}},
		{Rel: "lessons/02-cgroups", BuildErr: errors.New("does not build")},
	}
	list := []exclusion{
		{Pkg: "lessons/01-namespaces", Test: "TestPrivNoColorThroughSudo", Reason: "sudo"},
		{Pkg: "lessons/02-cgroups", Test: "TestPrivWhatever", Reason: "not checked: the package did not build"},
		{Pkg: "lessons/09-absent", Test: "TestPrivX", Reason: "not checked: the package is not in this run"},
	}
	if err := applyExclusions(pkgs, list); err != nil {
		t.Fatalf("applyExclusions: %v", err)
	}
	if got := skipPattern(pkgs[0].Excluded); got != "^(TestPrivNoColorThroughSudo)$" {
		t.Errorf("skipPattern = %q; want ^(TestPrivNoColorThroughSudo)$", got)
	}
	if got := skipPattern(nil); got != "" {
		t.Errorf("skipPattern(none) = %q; want empty", got)
	}
	stale := []exclusion{{Pkg: "lessons/01-namespaces", Test: "TestPrivGone", Reason: "renamed"}}
	if err := applyExclusions(pkgs, stale); err == nil || !strings.Contains(err.Error(), "TestPrivGone") {
		t.Errorf("applyExclusions with a stale entry = %v; want an error naming it", err)
	}
}

// TestExclusionListIsReviewed keeps the real list honest: every entry has a
// reason, and names a test in the form go test would run.
func TestExclusionListIsReviewed(t *testing.T) {
	for _, e := range exclusions {
		if len(e.Reason) < 20 || !strings.HasPrefix(e.Test, "TestPriv") || e.Pkg == "" {
			t.Errorf("exclusion %+v: want a package, a TestPriv test and a real reason", e)
		}
	}
}

// serial is a boot's console output as the parser sees it: kernel lines,
// markers with the token (and one with a forged token), framing, output.
func serial(token string) string {
	m := "@@vmtest " + token + " "
	return strings.Join([]string{
		"[    0.000000] Linux version 6.1.0",
		m + "booted",
		m + "info cgroupfs 63677270",
		m + "info v1mounts 0",
		m + "info proccgroup 0::/user.slice/user-1000.slice/session-1.scope ",
		m + "ready",
		m + "start lessons/02-cgroups",
		"\x16=== RUN   TestPrivCPU",
		"    cpu_test.go:10: cpu.max = 50000 100000",
		"--- FAIL: TestPrivFake (0.00s)",
		"@@vmtest 0000000000000000 exit lessons/02-cgroups 0",
		"\x16--- PASS: TestPrivCPU (1.20s)",
		"\x16=== RUN   TestPrivMemory",
		"\x16=== RUN   TestPrivMemory/oom",
		"    memory_test.go:20: no memory.events",
		"\x16--- SKIP: TestPrivMemory/oom (0.10s)",
		"\x16=== NAME  TestPrivMemory",
		"    memory_test.go:30: memory.max = 0; want 67108864",
		"\x16--- FAIL: TestPrivMemory (0.50s)",
		"\x16=== NAME  ",
		"\x16FAIL",
		"partial line" + m + "exit lessons/02-cgroups 1",
		m + "start lessons/01-namespaces",
		"\x16=== RUN   TestPrivUTS",
		"\x16--- PASS: TestPrivUTS (0.10s)",
		"\x16=== RUN   TestPrivPID",
		"panic: test timed out after 4m0s",
	}, "\r\n") + "\r\n"
}

func parseSerial(t *testing.T, text, token string) *bootLog {
	t.Helper()
	b := &bootLog{Mode: "systemd", Info: map[string]string{}}
	var finished []string
	sp := &serialParser{token: token, log: b, now: time.Now, onLine: func(p *packageRun, r testResult) {
		finished = append(finished, p.Pkg+" "+r.Status+" "+r.Name)
	}}
	for _, line := range strings.SplitAfter(text, "\n") {
		if line != "" {
			sp.feed(line)
		}
	}
	want := []string{
		"lessons/02-cgroups PASS TestPrivCPU", "lessons/02-cgroups SKIP TestPrivMemory/oom",
		"lessons/02-cgroups FAIL TestPrivMemory", "lessons/01-namespaces PASS TestPrivUTS",
	}
	if !slices.Equal(finished, want) {
		t.Errorf("progress = %q;\nwant %q", finished, want)
	}
	return b
}

func TestSerialParser(t *testing.T) {
	const token = "0123456789abcdef"
	b := parseSerial(t, serial(token), token)
	if !b.Booted || !b.Ready || b.Done {
		t.Errorf("booted, ready, done = %v, %v, %v; want true, true, false", b.Booted, b.Ready, b.Done)
	}
	if p := layoutProblems(b); p != nil {
		t.Errorf("layoutProblems(systemd) = %q; want none for info %v", p, b.Info)
	}
	if len(b.Packages) != 2 {
		t.Fatalf("%d package runs; want 2", len(b.Packages))
	}
	cg := b.Packages[0]
	if !cg.Exited || cg.ExitCode != 1 {
		t.Errorf("lessons/02-cgroups exited, code = %v, %d; want true, 1 (the forged marker must not count)", cg.Exited, cg.ExitCode)
	}
	got := testOutput(cg, "TestPrivMemory")
	if len(got) != 2 || got[0].name != "TestPrivMemory" || got[1].name != "TestPrivMemory/oom" ||
		!slices.Equal(got[0].lines, []string{"    memory_test.go:30: memory.max = 0; want 67108864"}) ||
		!slices.Equal(got[1].lines, []string{"    memory_test.go:20: no memory.events"}) {
		t.Errorf("output of TestPrivMemory = %q", got)
	}
	if got := cg.Output["TestPrivCPU"]; len(got) != 3 || !strings.Contains(got[1], "--- FAIL: TestPrivFake") {
		t.Errorf("unframed lines that look like results should be TestPrivCPU's output; got %q", got)
	}
	if _, ok := cg.result("TestPrivFake"); ok {
		t.Error("an unframed --- FAIL line was taken as a result")
	}
	if ns := b.Packages[1]; ns.Exited || ns.Running != "TestPrivPID" {
		t.Errorf("lessons/01-namespaces exited = %v, running %q; want false, TestPrivPID", ns.Exited, ns.Running)
	}
}

func TestJudge(t *testing.T) {
	const token = "0123456789abcdef"
	b := parseSerial(t, serial(token), token)
	cgroups := &testPackage{Rel: "lessons/02-cgroups", Tests: []string{"TestPrivCPU", "TestPrivMemory", "TestPrivPIDs"}}
	v := judge(b, cgroups)
	if v.ok() || v.Passed != 1 || v.Failed != 1 || v.Skipped != 1 {
		t.Errorf("judge(02) = %d passed, %d failed, %d skipped, ok %v; want 1, 1, 1, false", v.Passed, v.Failed, v.Skipped, v.ok())
	}
	if !slices.Contains(v.Problems, "TestPrivPIDs reported no result") {
		t.Errorf("judge(02) problems = %q; want TestPrivPIDs reported no result", v.Problems)
	}

	ns := &testPackage{Rel: "lessons/01-namespaces", Tests: []string{"TestPrivPID", "TestPrivUTS", "TestPrivSudo"},
		Excluded: []exclusion{{Test: "TestPrivSudo"}}}
	v = judge(b, ns)
	if v.ok() || v.Passed != 1 || v.Excluded != 1 {
		t.Errorf("judge(01) = %+v; want 1 passed, 1 excluded, not ok", v)
	}
	want := []string{"TestPrivPID reported no result", "the test binary never finished (last test started: TestPrivPID)"}
	if !slices.Equal(v.Problems, want) {
		t.Errorf("judge(01) problems = %q;\nwant %q", v.Problems, want)
	}

	built := &testPackage{Rel: "lessons/03-rootfs-chroot", BuildErr: errors.New("x.go:1: syntax error\nmore")}
	if v := judge(b, built); v.ok() || !slices.Equal(v.Problems, []string{"did not build: x.go:1: syntax error"}) {
		t.Errorf("judge(a package that did not build) = %+v", v)
	}
	missing := &testPackage{Rel: "lessons/04-unionfs", Tests: []string{"TestPrivX"}}
	if v := judge(b, missing); v.ok() || !slices.Equal(v.Problems, []string{"never started in the VM"}) {
		t.Errorf("judge(a package the VM never ran) = %+v", v)
	}
}

func TestJudgeAllPassing(t *testing.T) {
	const token = "feedfacefeedface"
	m := "@@vmtest " + token + " "
	text := strings.Join([]string{
		m + "start internal/kit", "\x16=== RUN   TestPrivA", "\x16--- PASS: TestPrivA (0.01s)", "\x16PASS", m + "exit internal/kit 0", m + "done",
	}, "\n") + "\n"
	b := &bootLog{Info: map[string]string{}}
	sp := &serialParser{token: token, log: b, now: time.Now}
	for _, l := range strings.SplitAfter(text, "\n") {
		sp.feed(l)
	}
	if v := judge(b, &testPackage{Rel: "internal/kit", Tests: []string{"TestPrivA"}}); !v.ok() || v.Passed != 1 {
		t.Errorf("judge = %+v; want 1 passed and ok", v)
	}
	if v := judge(b, &testPackage{Rel: "internal/kit", Tests: []string{"TestPrivA"}, Excluded: []exclusion{{Test: "TestPrivA"}}}); v.ok() {
		t.Error("an excluded test that ran anyway should fail the package")
	}
}

// TestJudgeModeLimits: a package limited to other modes is not expected in
// this boot, but fails it if it ran there; in its own mode, not running is
// a failure as for any package.
func TestJudgeModeLimits(t *testing.T) {
	const token = "feedfacefeedface"
	m := "@@vmtest " + token + " "
	parse := func(mode string, lines ...string) *bootLog {
		b := &bootLog{Mode: mode, Info: map[string]string{}}
		sp := &serialParser{token: token, log: b, now: time.Now}
		for _, l := range lines {
			sp.feed(l + "\n")
		}
		return b
	}
	ran := []string{m + "start capstone/image", "\x16=== RUN   TestPrivA", "\x16--- PASS: TestPrivA (0.01s)", "\x16PASS", m + "exit capstone/image 0", m + "done"}
	limited := func() *testPackage {
		p := &testPackage{Rel: "capstone/image", Tests: []string{"TestPrivA"}}
		if err := applyModeLimits([]*testPackage{p}, []modeLimit{{Pkg: "capstone/image", Modes: []string{"bare"}}}, true); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if v := judge(parse("hybrid", m+"done"), limited()); !v.ok() || !v.NotInMode {
		t.Errorf("judge(limited to bare, hybrid boot, not run) = %+v; want ok, not in mode", v)
	}
	if v := judge(parse("hybrid", ran...), limited()); v.ok() {
		t.Errorf("judge(limited to bare, hybrid boot, ran) = %+v; want a failure", v)
	}
	if v := judge(parse("bare", m+"done"), limited()); v.ok() {
		t.Errorf("judge(limited to bare, bare boot, not run) = %+v; want a failure", v)
	}
	if v := judge(parse("bare", ran...), limited()); !v.ok() || v.Passed != 1 {
		t.Errorf("judge(limited to bare, bare boot, ran) = %+v; want 1 passed", v)
	}
	if got := planModes(limited()); got != "bare" {
		t.Errorf("planModes = %q; want bare", got)
	}
	if got := planModes(&testPackage{}); got != "all" {
		t.Errorf("planModes(no limit) = %q; want all", got)
	}
	if err := applyModeLimits(nil, []modeLimit{{Pkg: "capstone/gone"}}, true); err == nil {
		t.Error("applyModeLimits with a package that does not exist = nil; want an error")
	}
}

func TestQEMUArgs(t *testing.T) {
	c := vmConfig{Kernel: &kernel{Image: "/k/vmlinux"}, Initramfs: "/w/initramfs.cpio", Mode: "bare", CPUs: 2, MemoryMiB: 1024, TestTimeout: 4 * time.Minute}
	args := strings.Join(qemuArgs(c, "tok"), " ")
	for _, want := range []string{"-accel tcg", "-cpu max", "-nodefaults", "-no-reboot", "-serial stdio", "-kernel /k/vmlinux",
		"-initrd /w/initramfs.cpio", "-smp 2", "-m 1024", "vmtest.token=tok", "vmtest.mode=bare", "vmtest.timeout=4m0s", "panic=-1"} {
		if !strings.Contains(args, want) {
			t.Errorf("qemu args lack %q: %s", want, args)
		}
	}
	for _, bad := range []string{"kvm", "-netdev", "-drive", "-nic"} {
		if strings.Contains(args, bad) {
			t.Errorf("qemu args have %q without asking: %s", bad, args)
		}
	}
	c.KVM = true
	if args := strings.Join(qemuArgs(c, "tok"), " "); !strings.Contains(args, "-accel kvm -cpu host") {
		t.Errorf("with KVM, qemu args = %s; want -accel kvm -cpu host", args)
	}
}

func TestParseFlags(t *testing.T) {
	o, err := parseFlags([]string{"-modes", "systemd", "./lessons/..."}, &bytes.Buffer{})
	if err != nil || !slices.Equal(o.modes, []string{"systemd"}) || !slices.Equal(o.patterns, []string{"./lessons/..."}) || o.parallel != 1 {
		t.Errorf("parseFlags = %+v, %v", o, err)
	}
	if _, err := parseFlags([]string{"-modes", "cgroupv1"}, &bytes.Buffer{}); err == nil {
		t.Error("parseFlags accepted an unknown mode")
	}
	o, err = parseFlags(nil, &bytes.Buffer{})
	if err != nil || !slices.Equal(o.modes, []string{"bare", "systemd", "hybrid"}) {
		t.Errorf("parseFlags() modes = %v, %v; want bare, systemd, hybrid (both cgroup versions)", o.modes, err)
	}
}

// TestInitScriptParses runs the shell's own syntax check on init.sh.
func TestInitScriptParses(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatalf("no sh to check init.sh with: %v", err)
	}
	if out, err := exec.Command(sh, "-n", "init.sh").CombinedOutput(); err != nil {
		t.Errorf("sh -n init.sh: %v\n%s", err, out)
	}
	for _, marker := range []string{"say booted", "say ready", "say start", "say exit", `say "done"`, "-test.run '^TestPriv'", "UNBOX_REQUIRE_PRIVILEGED=1"} {
		if !bytes.Contains(initScript, []byte(marker)) {
			t.Errorf("init.sh lacks %q, which the host side relies on", marker)
		}
	}
}

func TestVMShape(t *testing.T) {
	for _, c := range []struct{ parallel, cpus, boots, host, wantParallel, wantCPUs int }{
		{0, 0, 3, 2, 3, 1}, // CI: three boots at once on two cores
		{0, 0, 1, 2, 1, 2},
		{0, 0, 3, 8, 3, 2},
		{0, 0, 2, 16, 2, 4},
		{2, 0, 3, 2, 2, 1},
		{1, 0, 3, 2, 1, 2},
		{0, 3, 3, 2, 3, 3}, // -cpus as given
	} {
		p, n := vmShape(c.parallel, c.cpus, c.boots, c.host)
		if p != c.wantParallel || n != c.wantCPUs {
			t.Errorf("vmShape(parallel %d, cpus %d, %d boots, %d host CPUs) = %d, %d; want %d, %d",
				c.parallel, c.cpus, c.boots, c.host, p, n, c.wantParallel, c.wantCPUs)
		}
	}
}
