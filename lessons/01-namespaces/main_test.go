//go:build linux

package main

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/kit/kittest"
)

func TestMain(m *testing.M) { kittest.Main(m, run) }

const (
	golden   = "testdata/transcript.golden"
	goldenZh = "testdata/transcript.zh.golden"
)

// transcriptRules normalise what differs between runs and hosts, on top of
// kittest.DefaultRules.
func transcriptRules(t *testing.T) []kittest.Rule {
	h, err := findHierarchy()
	if err != nil {
		t.Fatal(err)
	}
	rules := []kittest.Rule{
		{Re: regexp.MustCompile(`(hostname )\S+( \(unchanged\))`), Repl: "${1}<host-name>$2"},
		{Re: regexp.MustCompile(`lists \d+ processes`), Repl: "lists <n> processes"},
		{Re: regexp.MustCompile(`wc -l: \d+`), Repl: "wc -l: <n>"},
		// PIDs inside the namespace other than 1 depend on how many threads
		// the Go runtime started first.
		{Re: regexp.MustCompile(`\bPID ([2-9]|\d{2,})\b`), Repl: "PID <n>"},
		{Re: regexp.MustCompile(`(?m)^ +\d+ +\d+ [A-Z] +\S+$`), Fn: func(line string) string {
			f := strings.Fields(line)
			if f[0] != "1" {
				f[0] = "<n>"
			}
			return "  " + psLine(f[0], f[1], f[2], f[3])
		}},
		kittest.Literal(h.Mount+"/", "<cgroup2>/"),
		// Step 4: peer group numbers are the kernel's to choose.
		{Re: regexp.MustCompile(`\bshared:\d+`), Repl: "shared:<n>"},
		// Step 10: the kernel's release, and how fast this host starts a
		// process (the VM's figure is a constant).
		{Re: regexp.MustCompile(`(uname -r: )[^\s;]+`), Repl: "${1}<release>"},
		{Re: regexp.MustCompile(`about \d+ times`), Repl: "about <n> times"},
		// The same in the Chinese narration.
		{Re: regexp.MustCompile(`(主机名 )\S+?(（未变）)`), Repl: "${1}<host-name>$2"},
		{Re: regexp.MustCompile(`列出 \d+ 个进程`), Repl: "列出 <n> 个进程"},
		{Re: regexp.MustCompile(`(wc -l：)\d+`), Repl: "${1}<n>"},
		{Re: regexp.MustCompile(`(uname -r：)[^\s；：]+`), Repl: "${1}<release>"},
		{Re: regexp.MustCompile(`大约是 \d+ 倍`), Repl: "大约是 <n> 倍"},
		// Step 10's ps line names the test binary: 01-namespaces.test
		// under go test, lessons_01-namespaces in the VM lane.
		{Re: regexp.MustCompile(`\S*01-namespaces(\.test)? init`), Repl: "01-namespaces init"},
		// Step 9's host PIDs, in commands and paths.
		{Re: regexp.MustCompile(`(kill -[A-Z]+ |ps -o pid,comm,args -p |/proc/)\d+\b`), Repl: "${1}<pid>"},
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
	out := kittest.RunTranscript(t, run, "01-namespaces")
	kittest.CheckTranscript(t, golden, "README.md", kittest.Normalize(out, transcriptRules(t)...))
}

// TestPrivTranscriptZh runs the lesson in Chinese: every line has a
// translation, the run told again in English is the English golden (the
// same steps, commands and evidence), and the Chinese transcript is its own
// golden, which README.zh-CN.md shows.
func TestPrivTranscriptZh(t *testing.T) {
	kittest.Privileged(t, kittest.LessonNeeds(lesson())...)
	out, rec := kittest.RunIn(t, run, "zh", "01-namespaces")
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

func TestExerciseFiles(t *testing.T) { kittest.CheckExerciseFiles(t, lesson()) }

// TestPrivExercises: every check fails on the stubs as shipped and passes
// with -tags solution.
func TestPrivExercises(t *testing.T) { kittest.CheckExercises(t, lesson()) }

func TestList(t *testing.T) { kittest.CheckList(t, lesson(), run) }

func TestPrivLessonExitsZeroWithoutColorOnAPipe(t *testing.T) {
	kittest.Privileged(t, kittest.LessonNeeds(lesson())...)
	out, errs, status := kittest.RunProcess(t, kittest.LessonCommand(t, "01-namespaces"))
	if status != 0 {
		t.Fatalf("exit status = %d; want 0\nstderr:\n%s", status, errs)
	}
	if strings.Contains(out, "\x1b") {
		t.Error("output to a pipe has escape codes")
	}
	if !strings.Contains(out, "Step 10/10") {
		t.Errorf("output lacks the last step:\n%s", out)
	}
}

func TestPrivStepStopsAfterN(t *testing.T) {
	kittest.Privileged(t, kittest.LessonNeeds(lesson())...)
	out, errs, status := kittest.RunProcess(t, kittest.LessonCommand(t, "01-namespaces", "--step", "3"))
	if status != 0 {
		t.Fatalf("exit status = %d; want 0\nstderr:\n%s", status, errs)
	}
	if !strings.Contains(out, "Step 3/10") || strings.Contains(out, "Step 4/10") {
		t.Errorf("--step 3 output should end with step 3:\n%s", out)
	}
}

func TestPrivPauseWaitsForEnter(t *testing.T) {
	kittest.Privileged(t, kittest.LessonNeeds(lesson())...)
	cmd := kittest.LessonCommand(t, "01-namespaces", "--pause")
	cmd.Stdin = strings.NewReader(strings.Repeat("\n", 9))
	out, errs, status := kittest.RunProcess(t, cmd)
	if status != 0 {
		t.Fatalf("exit status = %d; want 0\nstderr:\n%s", status, errs)
	}
	if n := strings.Count(out, "[Enter] for step"); n != 9 {
		t.Errorf("%d pauses; want 9 (between 10 steps)", n)
	}
}

// TestPrivPauseHolds shows that --pause really waits: with no Enter, the
// lesson stays at the first pause.
func TestPrivPauseHolds(t *testing.T) {
	kittest.Privileged(t, kittest.LessonNeeds(lesson())...)
	cmd := kittest.LessonCommand(t, "01-namespaces", "--pause")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	out := kittest.StartUntil(t, cmd, "[Enter] for step 2")
	time.Sleep(300 * time.Millisecond)
	if strings.Contains(out.String(), "Step 2/10") {
		t.Fatalf("step 2 ran without Enter:\n%s", out.String())
	}
	stdin.Close() // end of input: stop pausing, run to the end
	if err := cmd.Wait(); err != nil {
		t.Fatalf("lesson after end of input: %v", err)
	}
}

// TestPrivInterruptCleansUp sends SIGINT while the lesson waits after the
// mount step: it must exit 130 and remove the directory that step made.
func TestPrivInterruptCleansUp(t *testing.T) {
	kittest.Privileged(t, kittest.LessonNeeds(lesson())...)
	cmd := kittest.LessonCommand(t, "01-namespaces", "--pause")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	go io.WriteString(stdin, "\n\n\n")
	kittest.StartUntil(t, cmd, "[Enter] for step 5")
	dir := filepath.Join(os.TempDir(), "unbox-mnt-"+strconv.Itoa(cmd.Process.Pid))
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("the mount step's directory should exist before the interrupt: %v", err)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	if got := cmd.ProcessState.ExitCode(); got != 130 {
		t.Errorf("exit status after SIGINT = %d (%v); want 130", got, err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("after SIGINT, %s still exists (err %v)", dir, err)
	}
}

func TestPrivUnprivilegedUserGetsTheNeedsTable(t *testing.T) {
	kittest.Privileged(t)
	kittest.CheckNeedsTable(t, lesson(), "--only")
}

// TestPrivUserStepRunsUnprivileged runs the user namespace step as nobody,
// where the kernel allows unprivileged user namespaces.
func TestPrivUserStepRunsUnprivileged(t *testing.T) {
	kittest.Privileged(t)
	cmd := kittest.LessonCommand(t, "01-namespaces", "--only", "7")
	kittest.AsUser(t, cmd, 65534, 65534)
	out, errs, status := kittest.RunProcess(t, cmd)
	if status == 2 && strings.Contains(errs, "user namespaces") {
		kittest.Require(t, kit.Need{Name: "unprivileged user namespaces", Check: func() error { return errorString(errs) },
			Fix: "sudo sysctl -w kernel.unprivileged_userns_clone=1"})
	}
	if status != 0 {
		t.Fatalf("--only 7 as nobody: exit status %d; want 0\nstderr:\n%s", status, errs)
	}
	if want := "made-inside is owned by 65534:65534"; !strings.Contains(out, want) {
		t.Errorf("output lacks %q:\n%s", want, out)
	}
	if !strings.Contains(out, "id: uid=0 gid=0") {
		t.Errorf("the child is not root inside:\n%s", out)
	}
}

type errorString string

func (e errorString) Error() string { return string(e) }

// TestPrivShell drives --shell with commands on standard input.
func TestPrivShell(t *testing.T) {
	kittest.Privileged(t, lesson().ShellNeeds...)
	cmd := kittest.LessonCommand(t, "01-namespaces", "--only", "1", "--shell")
	cmd.Stdin = strings.NewReader("hostname; echo pid=$$; exit\n")
	out, errs, status := kittest.RunProcess(t, cmd)
	if status != 0 {
		t.Fatalf("exit status = %d; want 0\nstderr:\n%s", status, errs)
	}
	for _, want := range []string{"\n" + containerHostname + "\n", "pid=1\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("shell output lacks %q:\n%s", want, out)
		}
	}
}

// TestColorFollowsTerminal: colour on a terminal, none with NO_COLOR.
func TestColorFollowsTerminal(t *testing.T) {
	for _, c := range []struct {
		env       []string
		wantColor bool
	}{
		{nil, true},
		{[]string{"NO_COLOR=1"}, false},
		{[]string{"TERM=dumb"}, false},
	} {
		cmd := kittest.LessonCommand(t, "01-namespaces", "--only", "1")
		cmd.Env = append(withoutEnv(cmd.Env, "NO_COLOR"), c.env...)
		out, err := kittest.RunOnTerminal(t, cmd)
		if err != nil {
			t.Fatalf("%v: %v\n%s", c.env, err, out)
		}
		if got := strings.Contains(out, "\x1b["); got != c.wantColor {
			t.Errorf("env %v on a terminal: escape codes = %v; want %v\n%q", c.env, got, c.wantColor, out)
		}
	}
}

// TestPrivNoColorThroughSudo: sudo resets the environment (and PAM may set
// LANG to the system's locale), and the lesson still honours the user's
// NO_COLOR and narrates in the language of the user's LANG. (One test, as
// both need sudo: the VM lane, which has none, excludes it by this name.)
func TestPrivNoColorThroughSudo(t *testing.T) {
	kittest.Privileged(t, kit.Need{Name: "sudo", Check: func() error { _, err := exec.LookPath("sudo"); return err },
		Fix: "sudo apt-get install sudo"})
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Run("NO_COLOR", func(t *testing.T) {
		for _, c := range []struct {
			noColor   bool
			wantColor bool
		}{{false, true}, {true, false}} {
			// sudo drops _UNBOX_TEST_AS_LESSON too; env(1) sets it again
			// and execs, so the lesson's parent is still sudo.
			cmd := exec.Command("sudo", "-n", "env", "_UNBOX_TEST_AS_LESSON=1", exe, "--only", "1")
			cmd.Env = withoutEnv(os.Environ(), "NO_COLOR")
			if c.noColor {
				cmd.Env = append(cmd.Env, "NO_COLOR=1")
			}
			out, err := kittest.RunOnTerminal(t, cmd)
			if err != nil {
				t.Fatalf("sudo run: %v\n%s", err, out)
			}
			if got := strings.Contains(out, "\x1b["); got != c.wantColor {
				t.Errorf("NO_COLOR set = %v, through sudo: escape codes = %v; want %v", c.noColor, got, c.wantColor)
			}
		}
	})
	t.Run("LANG", func(t *testing.T) {
		for _, c := range []struct{ lang, want string }{
			{"zh_CN.UTF-8", "步骤 1/10 · 宿主机的命名空间"},
			{"C.UTF-8", "Step 1/10 · The host's namespaces"},
		} {
			cmd := exec.Command("sudo", "-n", "env", "_UNBOX_TEST_AS_LESSON=1", exe, "--only", "1")
			cmd.Env = os.Environ()
			for _, k := range []string{"LANG", "LC_ALL", "LC_MESSAGES", "LANGUAGE", kit.LangEnv} {
				cmd.Env = withoutEnv(cmd.Env, k)
			}
			cmd.Env = append(cmd.Env, "LANG="+c.lang)
			out, errs, status := kittest.RunProcess(t, cmd)
			if status != 0 || !strings.Contains(out, c.want) {
				t.Errorf("LANG=%s through sudo: exit status %d, output lacks %q:\n%s\n%s", c.lang, status, c.want, out, errs)
			}
		}
	})
}

func withoutEnv(env []string, key string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, key+"=") {
			out = append(out, kv)
		}
	}
	return out
}
