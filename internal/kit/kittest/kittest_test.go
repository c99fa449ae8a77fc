//go:build linux

package kittest_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/kit/kittest"
	"github.com/unboxlab/unbox/internal/reexec"
)

func TestMain(m *testing.M) { kittest.Main(m, nil) }

func init() {
	reexec.Register("kittest-hang", func(*reexec.Conn) error { time.Sleep(time.Hour); return nil })
}

// fakeT records how a helper ended a test instead of ending this one.
type fakeT struct {
	testing.TB
	skipped, failed string
}

func (f *fakeT) Helper() {}
func (f *fakeT) Skip(args ...any) {
	if f.skipped == "" && f.failed == "" {
		f.skipped = fmt.Sprint(args...)
	}
}
func (f *fakeT) Fatalf(format string, args ...any) {
	if f.skipped == "" && f.failed == "" {
		f.failed = fmt.Sprintf(format, args...)
	}
}
func (f *fakeT) Errorf(format string, args ...any) { f.Fatalf(format, args...) }

var missing = kit.Need{Name: "a moon", Check: func() error { return errors.New("none in orbit") }, Fix: "launch one"}

func TestRequireSkipsWithTheReason(t *testing.T) {
	t.Setenv(kittest.RequireEnv, "")
	f := &fakeT{TB: t}
	kittest.Require(f, missing)
	if f.failed != "" || !strings.Contains(f.skipped, "a moon: none in orbit (launch one)") {
		t.Errorf("Require without %s: skipped %q, failed %q; want a skip with the reason", kittest.RequireEnv, f.skipped, f.failed)
	}
}

func TestRequireFailsWhenRequired(t *testing.T) {
	t.Setenv(kittest.RequireEnv, "1")
	f := &fakeT{TB: t}
	kittest.Require(f, missing)
	if f.skipped != "" || !strings.Contains(f.failed, "a moon") || !strings.Contains(f.failed, "this skip is a failure") {
		t.Errorf("Require with %s=1: skipped %q, failed %q; want a failure", kittest.RequireEnv, f.skipped, f.failed)
	}
}

func TestRequirePassesWhenMet(t *testing.T) {
	f := &fakeT{TB: t}
	kittest.Require(f, kit.Need{Name: "air", Check: func() error { return nil }})
	if f.skipped != "" || f.failed != "" {
		t.Errorf("Require with every need met: skipped %q, failed %q", f.skipped, f.failed)
	}
}

func TestNormalize(t *testing.T) {
	in := "uts:[4026532177] host pid 6298 /sys/fs/cgroup/unbox-cgns-6280 took 12.5ms at 2026-11-27T08:10:22Z; PID 1 stays"
	want := "uts:[<inode>] host pid <pid> /sys/fs/cgroup/unbox-cgns-<pid> took <duration> at <time>; PID 1 stays"
	if got := kittest.Normalize(in); got != want {
		t.Errorf("Normalize(%q) = %q; want %q", in, got, want)
	}
	if dir := t.TempDir(); kittest.Normalize(dir+"/rootfs") != "<tmpdir>/rootfs" {
		t.Errorf("Normalize(%q) = %q; want <tmpdir>/rootfs", dir+"/rootfs", kittest.Normalize(dir+"/rootfs"))
	}
	if got := kittest.Normalize("vm and vmlinux", kittest.Word("vm", "<host>")); got != "<host> and vmlinux" {
		t.Errorf("Word rule: %q", got)
	}
}

func TestREADMETranscriptCatchesDrift(t *testing.T) {
	dir := t.TempDir()
	golden := filepath.Join(dir, "transcript.golden")
	readme := filepath.Join(dir, "README.md")
	write := func(path, text string) {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(golden, "Step 1/1 · hello\n")
	block := "<!-- transcript: " + golden + " -->\n```text\nStep 1/1 · hello\n```\n<!-- /transcript -->\n"
	write(readme, "# x\n"+block)
	f := &fakeT{TB: t}
	kittest.READMETranscript(f, readme, golden)
	if f.failed != "" {
		t.Errorf("matching transcript: %s", f.failed)
	}
	write(golden, "Step 1/1 · hello, changed\n")
	f = &fakeT{TB: t}
	kittest.READMETranscript(f, readme, golden)
	if !strings.Contains(f.failed, "transcript differs") {
		t.Errorf("drifted transcript: failed %q; want a failure", f.failed)
	}
}

// TestPrivLeakCheckSeesLeaks proves the leak check can fail: it leaves a
// mount, a cgroup and a process behind and expects each to be reported,
// then removes them and expects a clean report.
func TestPrivLeakCheckSeesLeaks(t *testing.T) {
	kittest.Privileged(t)
	root := t.TempDir()
	before := kittest.TakeSnapshot(root)

	// A space in the path: the kernel writes it \040 in mountinfo.
	mnt := filepath.Join(root, "m n")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, ""); err != nil {
		t.Fatal(err)
	}
	defer unix.Unmount(mnt, unix.MNT_DETACH)

	cg := filepath.Join(cgroupRoot(t), kit.UniqueName("leaktest"))
	if err := os.Mkdir(cg, 0o755); err != nil {
		t.Fatal(err)
	}
	defer unix.Rmdir(cg)

	child := reexec.NewChild("kittest-hang")
	if err := child.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer child.Close()

	leaked := strings.Join(before.Leaked(kittest.TakeSnapshot(root)), "\n")
	for _, want := range []string{"mount: " + mnt + " tmpfs", "cgroup: " + cg, fmt.Sprintf("process: %d ", child.Pid())} {
		if !strings.Contains(leaked, want) {
			t.Errorf("leak check missed %q; it reported:\n%s", want, leaked)
		}
	}

	unix.Unmount(mnt, 0)
	unix.Rmdir(cg)
	child.Close()
	if leaked := before.Leaked(kittest.TakeSnapshot(root)); len(leaked) > 0 {
		t.Errorf("after cleaning up, the leak check still reports %v", leaked)
	}
}

// cgroupRoot is a writable cgroup hierarchy: the v2 one where mounted, else
// the v1 pids hierarchy.
func cgroupRoot(t *testing.T) string {
	for _, d := range []string{"/sys/fs/cgroup/unified", "/sys/fs/cgroup/pids", "/sys/fs/cgroup"} {
		if _, err := os.Stat(filepath.Join(d, "cgroup.procs")); err == nil {
			return d
		}
	}
	t.Fatal("no cgroup hierarchy found")
	return ""
}

// TestEveryGoldenFitsTheColumns checks every lesson's golden files, in every
// language, whoever wrote them: no line wider than kit.Columns terminal
// columns (a CJK character takes two). Lessons check their own too
// (CheckGoldenColumns, and Golden on every run); this catches a lesson that
// forgot to.
func TestEveryGoldenFitsTheColumns(t *testing.T) {
	kittest.CheckFilesColumns(t, "../../../lessons/*/testdata/*.golden")
}

// EnglishLeft finds the English of a key still printed in the translated
// run, and not what a translation keeps in English or a single word.
func TestEnglishLeft(t *testing.T) {
	cat := kit.Catalog{
		"FAIL: exercise %d: %s":   "未通过：练习 %d：%s",
		"ls %s    # the image's":  "ls %s    # 镜像的",
		"mount --bind %s %s":      "mount --bind %s %s",
		"write":                   "写入",
		"not written yet: %s ago": "还没有写：%s 之前",
	}
	english := "FAIL: exercise 1: not written yet: 3s ago\n$ ls x    # the image's\nmount --bind a b\nwrite\n"
	zh := "未通过：练习 1：not written yet: 3s ago\n$ ls x    # 镜像的\nmount --bind a b\nwrite\n"
	if got, want := kittest.EnglishLeft(cat, english, zh), []string{"not written yet:"}; !slices.Equal(got, want) {
		t.Errorf("EnglishLeft = %q; want %q", got, want)
	}
	zh = "未通过：练习 1：还没有写：3s 之前\n$ ls x    # 镜像的\nmount --bind a b\n写入\n"
	if got := kittest.EnglishLeft(cat, english, zh); len(got) > 0 {
		t.Errorf("EnglishLeft of a whole translation = %q; want nothing", got)
	}
}
