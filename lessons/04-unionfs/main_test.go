//go:build linux

package main

import (
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/unboxlab/unbox/internal/kit/kittest"
)

func TestMain(m *testing.M) { kittest.Main(m, run) }

const (
	golden   = "testdata/transcript.golden"
	goldenZh = "testdata/transcript.zh.golden"
)

// transcriptRules normalise what differs between hosts, on top of
// kittest.DefaultRules (which turn unbox-lesson04-<pid> into a placeholder).
// Only the base layer varies: static busybox or the host's own tools.
func transcriptRules() []kittest.Rule {
	rules := []kittest.Rule{
		{Re: regexp.MustCompile(`\(a root filesystem\)( +)\d+ files, [\d.]+ [KM]iB`), Repl: "(a root filesystem)$1<n> files, <size>"},
		{Re: regexp.MustCompile(`(layers/1-base +)\d+ +[\d.]+ [KM]iB`), Repl: "$1<n>    <size>"},
		{Re: regexp.MustCompile(`The image, [\d.]+ [KM]iB,`), Repl: "The image, <size>,"},
		// The same in the Chinese narration.
		{Re: regexp.MustCompile(`（一个根文件系统）( +)\d+ 个文件，[\d.]+ [KM]iB`), Repl: "（一个根文件系统）$1<n> 个文件，<size>"},
		{Re: regexp.MustCompile(`镜像（[\d.]+ [KM]iB）`), Repl: "镜像（<size>）"},
	}
	if tmp := os.TempDir(); tmp != "/tmp" {
		rules = append(rules, kittest.Literal(tmp+"/", "/tmp/"))
	}
	return rules
}

// TestPrivTranscript runs the whole lesson and compares its output with the
// golden file that the README's transcript is taken from.
func TestPrivTranscript(t *testing.T) {
	kittest.Privileged(t, kittest.LessonNeeds(lesson())...)
	out := kittest.RunTranscript(t, run, "04-unionfs")
	kittest.CheckTranscript(t, golden, "README.md", kittest.Normalize(out, transcriptRules()...))
}

// TestREADMETranscript fails when the README's transcript and the golden
// file differ.
func TestREADMETranscript(t *testing.T) {
	kittest.READMETranscript(t, "README.md", golden)
	kittest.READMETranscript(t, "README.zh-CN.md", goldenZh)
}

// TestPrivTranscriptZh runs the lesson in Chinese: every line has a
// translation, the run told again in English is the English golden (the
// same steps, commands and evidence), and the Chinese transcript is its own
// golden, which README.zh-CN.md shows.
func TestPrivTranscriptZh(t *testing.T) {
	kittest.Privileged(t, kittest.LessonNeeds(lesson())...)
	out, rec := kittest.RunIn(t, run, "zh", "04-unionfs")
	kittest.SameAs(t, golden, kittest.Normalize(rec.English(), transcriptRules()...), "the Chinese run, in English,")
	kittest.CheckTranscript(t, goldenZh, "README.zh-CN.md", kittest.Normalize(out, transcriptRules()...))
}

func TestGoldensFitTheColumns(t *testing.T) { kittest.CheckGoldenColumns(t) }

func TestCatalog(t *testing.T) { kittest.CheckCatalog(t, zhPO) }

func TestExerciseFiles(t *testing.T) { kittest.CheckExerciseFiles(t, lesson()) }

// TestPrivExercises: every check fails on the stubs as shipped and passes
// with -tags solution.
func TestPrivExercises(t *testing.T) { kittest.CheckExercises(t, lesson()) }

func TestList(t *testing.T) { kittest.CheckList(t, lesson(), run) }

// TestPrivLessonExitsZero runs the lesson as its own process, as
// `go run -exec sudo ./lessons/04-unionfs` does, and checks it left nothing.
func TestPrivLessonExitsZero(t *testing.T) {
	kittest.Privileged(t, kittest.LessonNeeds(lesson())...)
	cmd := kittest.LessonCommand(t, "04-unionfs")
	out, errs, status := kittest.RunProcess(t, cmd)
	if status != 0 {
		t.Fatalf("exit status = %d; want 0\nstderr:\n%s", status, errs)
	}
	if !strings.Contains(out, "Step 10/10") {
		t.Errorf("output lacks the last step:\n%s", out)
	}
	root := filepath.Join(os.TempDir(), "unbox-lesson04-"+strconv.Itoa(cmd.Process.Pid))
	if !strings.Contains(out, root) {
		t.Errorf("output never names the lesson's directory %s", root)
	}
	if _, err := os.Lstat(root); !os.IsNotExist(err) {
		t.Errorf("%s after the lesson: %v; want it removed", root, err)
	}
}

// TestPrivInterruptCleansUp sends SIGINT while the lesson waits with both
// containers mounted: it must exit 130, unmount both, and remove every layer.
func TestPrivInterruptCleansUp(t *testing.T) {
	kittest.Privileged(t, kittest.LessonNeeds(lesson())...)
	cmd := kittest.LessonCommand(t, "04-unionfs", "--pause")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	go io.WriteString(stdin, strings.Repeat("\n", 5))
	kittest.StartUntil(t, cmd, "[Enter] for step 7")
	root := filepath.Join(os.TempDir(), "unbox-lesson04-"+strconv.Itoa(cmd.Process.Pid))
	for _, name := range []string{"a", "b"} {
		merged := filepath.Join(root, "containers", name, "merged")
		if m, err := mountedAt(merged); err != nil || m.Type != "overlay" {
			t.Fatalf("before the interrupt, %s should be an overlay mount: %q, %v", merged, m.Type, err)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	if got := cmd.ProcessState.ExitCode(); got != 130 {
		t.Errorf("exit status after SIGINT = %d (%v); want 130", got, err)
	}
	if left, err := hostMounts(root); err != nil || len(left) > 0 {
		t.Errorf("after SIGINT, still mounted under %s: %v (%v)", root, left, err)
	}
	if _, err := os.Lstat(root); !os.IsNotExist(err) {
		t.Errorf("after SIGINT, %s still exists (err %v)", root, err)
	}
}

// TestPrivUnprivilegedUserGetsTheNeedsTable: as nobody, the lesson stops
// before step 1 with the table of needs and exit status 2, and the history
// step still runs on its own.
func TestPrivUnprivilegedUserGetsTheNeedsTable(t *testing.T) {
	kittest.Privileged(t)
	kittest.CheckNeedsTable(t, lesson(), "--only N")
	cmd := kittest.LessonCommand(t, "04-unionfs", "--only", "9")
	kittest.AsUser(t, cmd, 65534, 65534)
	out, errs, status := kittest.RunProcess(t, cmd)
	if status != 0 || !strings.Contains(out, "overlayfs") {
		t.Errorf("--only 9 as nobody: exit status %d; want 0 and the history\nstdout:\n%s\nstderr:\n%s", status, out, errs)
	}
}

// TestPrivShell drives --shell with commands on standard input: the shell
// runs inside the union, and what it changed is listed from the upper dir.
func TestPrivShell(t *testing.T) {
	kittest.Privileged(t, shellNeeds...)
	cmd := kittest.LessonCommand(t, "04-unionfs", "--only", "9", "--shell")
	cmd.Stdin = strings.NewReader("hostname; echo pid=$$; cat /etc/app.conf; echo hi > /etc/motd; rm /etc/group; mkdir /new; exit 3\n")
	out, errs, status := kittest.RunProcess(t, cmd)
	if status != 0 {
		t.Fatalf("exit status = %d; want 0 (the shell's own status is not the lesson's)\nstderr:\n%s", status, errs)
	}
	for _, want := range []string{"\nunbox-shell\n", "pid=1\n", "debug=false\n", "etc/motd\n", "etc/.wh.group\n", "new/\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
