//go:build linux

package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/kit/kittest"
	"github.com/unboxlab/unbox/internal/layer"
	"github.com/unboxlab/unbox/internal/rootfs"
	rootfslayer "github.com/unboxlab/unbox/internal/rootfs/layer"
)

func TestMain(m *testing.M) { kittest.Main(m, run) }

const (
	golden   = "testdata/transcript.golden"
	goldenZh = "testdata/transcript.zh.golden"
)

// transcriptRules normalise what differs between runs and hosts, on top of
// kittest.DefaultRules (host PIDs, unbox-lesson07-<pid>, inode numbers):
// PIDs in shell variables and /proc paths, the thread count, PIDs inside
// the container past 1 (how many the container's first process used
// before it exec'd depends on its Go runtime's threads), and layer 1,
// whose digests and size depend on the host's busybox.
func transcriptRules(t *testing.T) []kittest.Rule {
	t.Helper()
	fixture, err := layer.Compress(io.Discard, func(w io.Writer) error {
		_, err := rootfslayer.Tar(context.Background(), w, rootfs.Options{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	rules := []kittest.Rule{
		kittest.Literal(fixture.DiffID.Encoded()[:12], "<fixture-id>"),
		kittest.Literal(fixture.Descriptor.Digest.Encoded()[:12], "<fixture-dg>"),
		{Re: regexp.MustCompile(`(?m) ` + strconv.FormatInt(fixture.Descriptor.Size, 10) + `$`), Repl: " <size>"},
		// Inode numbers in step 2's table, padded so the columns stay aligned.
		{Re: regexp.MustCompile(`\b4026\d{6}( +)`), Repl: "<inode>   $1"},
		{Re: regexp.MustCompile(`\b(PID|EXEC)=\d+`), Repl: "$1=<pid>"},
		{Re: regexp.MustCompile(`/proc/\d+/`), Repl: "/proc/<pid>/"},
		{Re: regexp.MustCompile(`\b(Threads|its PID|PPid): \d+`), Repl: "$1: <n>"},
		// A row of the container's ps: "   16     6 root     ps".
		{Re: regexp.MustCompile(`(?m)^ +\d+ +\d+ +root +\S+$`), Fn: func(row string) string {
			return regexp.MustCompile(` +\d+`).ReplaceAllStringFunc(row, func(n string) string {
				if v := strings.TrimSpace(n); v == "0" || v == "1" {
					return n
				}
				return fmt.Sprintf("%*s", len(n), "<n>")
			})
		}},
	}
	if tmp := os.TempDir(); tmp != "/tmp" {
		rules = append(rules, kittest.Literal(tmp+"/", "/tmp/"))
	}
	return rules
}

// TestPrivTranscript runs the whole lesson and compares its output with the
// golden file the README's transcript comes from (kittest.Golden keeps every
// line within 100 columns). The golden was made with static busybox as the
// root filesystem.
func TestPrivTranscript(t *testing.T) {
	kittest.Privileged(t, append(kittest.LessonNeeds(lesson()), kit.NeedStaticBusybox)...)
	out := kittest.RunTranscript(t, run, "07-exec-commit")
	kittest.CheckTranscript(t, golden, "README.md", kittest.Normalize(out, transcriptRules(t)...))
}

// TestPrivTranscriptZh runs the lesson in Chinese: every line has a
// translation, the run told again in English is the English golden (the
// same steps, commands and evidence), and the Chinese transcript is its own
// golden, which README.zh-CN.md shows.
func TestPrivTranscriptZh(t *testing.T) {
	kittest.Privileged(t, append(kittest.LessonNeeds(lesson()), kit.NeedStaticBusybox)...)
	out, rec := kittest.RunIn(t, run, "zh", "07-exec-commit")
	rules := transcriptRules(t)
	kittest.SameAs(t, golden, kittest.Normalize(rec.English(), rules...), "the Chinese run, in English,")
	kittest.CheckTranscript(t, goldenZh, "README.zh-CN.md", kittest.Normalize(out, rules...))
}

// TestREADMETranscript fails when a README's transcript and its golden
// file differ.
func TestREADMETranscript(t *testing.T) {
	kittest.READMETranscript(t, "README.md", golden)
	kittest.READMETranscript(t, "README.zh-CN.md", goldenZh)
}

func TestGoldensFitTheColumns(t *testing.T) { kittest.CheckGoldenColumns(t) }

func TestCatalog(t *testing.T) { kittest.CheckCatalog(t, zhPO) }

func TestList(t *testing.T) { kittest.CheckList(t, lesson(), run) }

// lessonRoot is the directory a lesson process with PID pid works in.
func lessonRoot(pid int) string {
	return filepath.Join(os.TempDir(), "unbox-lesson07-"+strconv.Itoa(pid))
}

// TestPrivLessonExitsZero runs the lesson as its own process, as `go run
// -exec sudo ./lessons/07-exec-commit` does, on a terminal with NO_COLOR=1:
// exit status 0, all nine steps, no escape codes, nothing left behind (the
// leak check: mounts, cgroups, processes).
func TestPrivLessonExitsZero(t *testing.T) {
	kittest.Privileged(t, kittest.LessonNeeds(lesson())...)
	cmd := kittest.LessonCommand(t, "07-exec-commit")
	cmd.Env = append(cmd.Env, "NO_COLOR=1")
	out, err := kittest.RunOnTerminal(t, cmd)
	if err != nil {
		t.Fatalf("lesson: %v\n%s", err, out)
	}
	for _, want := range []string{"Step 9/9", "host   │ the same digest and diff ID", "Changed in the container."} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b[") {
		t.Errorf("NO_COLOR=1 on a terminal: the output has escape codes")
	}
	if _, err := os.Lstat(lessonRoot(cmd.Process.Pid)); !os.IsNotExist(err) {
		t.Errorf("%s after the lesson: %v; want it removed", lessonRoot(cmd.Process.Pid), err)
	}
}

// TestPrivInterruptCleansUp sends SIGINT while the lesson waits before
// step 7, with its container running, an exec'd process gone and one
// container restarted: it must exit 130, and leave no directory, mount,
// cgroup or process (the leak check).
func TestPrivInterruptCleansUp(t *testing.T) {
	kittest.Privileged(t, kittest.LessonNeeds(lesson())...)
	cmd := kittest.LessonCommand(t, "07-exec-commit", "--pause")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	go io.WriteString(stdin, strings.Repeat("\n", 5))
	kittest.StartUntil(t, cmd, "[Enter] for step 7")
	root := lessonRoot(cmd.Process.Pid)
	if m, err := mountedAt(filepath.Join(root, "containers", "web", "merged")); err != nil || m != "overlay" {
		t.Fatalf("before the interrupt, web's union should be mounted: %q, %v", m, err)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	if got := cmd.ProcessState.ExitCode(); got != 130 {
		t.Errorf("exit status after SIGINT = %d (%v); want 130", got, err)
	}
	if _, err := os.Lstat(root); !os.IsNotExist(err) {
		t.Errorf("after SIGINT, %s still exists (err %v)", root, err)
	}
}

// TestPrivUnprivilegedUserGetsTheNeedsTable: as nobody, the lesson stops
// before step 1 with the table of needs and exit status 2.
func TestPrivUnprivilegedUserGetsTheNeedsTable(t *testing.T) {
	kittest.Privileged(t)
	kittest.CheckNeedsTable(t, lesson())
}

// TestPrivShell drives --shell with commands on standard input: a shell in
// web, on a terminal of web's own, whose exit status is reported and is
// not the lesson's.
func TestPrivShell(t *testing.T) {
	kittest.Privileged(t, kittest.LessonNeeds(lesson())...)
	cmd := kittest.LessonCommand(t, "07-exec-commit", "--only", "2", "--shell")
	cmd.Stdin = strings.NewReader("hostname; tty; cat /proc/$$/status | grep PPid; exit 3\n")
	out, errs, status := kittest.RunProcess(t, cmd)
	if status != 0 {
		t.Fatalf("exit status = %d; want 0 (the shell's own status is not the lesson's)\nstderr:\n%s\n%s", status, errs, out)
	}
	for _, want := range []string{"web\r\n", "/dev/pts/0\r\n", "PPid:\t0", "The shell ended: exit status 3."} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestExerciseFiles(t *testing.T) { kittest.CheckExerciseFiles(t, lesson()) }

// TestPrivExercises: every check fails on the stubs as shipped and passes
// with -tags solution, and leaves no container, mount or cgroup behind.
func TestPrivExercises(t *testing.T) {
	kittest.Privileged(t, kittest.LessonNeeds(lesson())...)
	kittest.CheckExercises(t, lesson())
}
