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

// idPattern is an anonymous volume's ID (volume.NewID).
var idPattern = regexp.MustCompile(`\b[0-9a-f]{64}\b`)

// normalizeIDs replaces each anonymous volume's ID, and its 12-digit short
// form, with a stand-in of the same length, the same for each appearance:
// the first ID met becomes 1111...1, the second 2222...2. Tables stay
// aligned, and the reader can still tell the volumes apart.
func normalizeIDs(s string) string {
	n := 0
	for _, id := range idPattern.FindAllString(s, -1) {
		if !strings.Contains(s, id) {
			continue // replaced already
		}
		n++
		stand := strings.Repeat(strconv.Itoa(n%10), 64)
		s = strings.ReplaceAll(s, id, stand)
		s = strings.ReplaceAll(s, id[:12], stand[:12])
	}
	return s
}

// transcriptRules normalise what differs between hosts and runs, on top of
// kittest.DefaultRules (the PID in unbox-lesson05-<pid>, durations).
func transcriptRules() []kittest.Rule {
	rules := []kittest.Rule{
		// A v1 memory cgroup is in the memory hierarchy; shown as v2's.
		kittest.Literal("/sys/fs/cgroup/memory/", "/sys/fs/cgroup/"),
		// The measured ratio of step 8, printed, never asserted.
		{Re: regexp.MustCompile(`took \d+× as long`), Repl: "took <n>× as long"},
		{Re: regexp.MustCompile(`\d+ 倍`), Repl: "<n> 倍"},
	}
	if tmp := os.TempDir(); tmp != "/tmp" {
		rules = append(rules, kittest.Literal(tmp+"/", "/tmp/"))
	}
	return rules
}

func normalize(out string) string {
	return kittest.Normalize(normalizeIDs(out), transcriptRules()...)
}

// TestPrivTranscript runs the whole lesson and compares its output with the
// golden file that the README's transcript is taken from.
func TestPrivTranscript(t *testing.T) {
	kittest.Privileged(t, kittest.LessonNeeds(lesson())...)
	out := kittest.RunTranscript(t, run, "05-volumes")
	kittest.CheckTranscript(t, golden, "README.md", normalize(out))
}

// TestPrivTranscriptZh runs the lesson in Chinese: every line has a
// translation, the run told again in English is the English golden (the
// same steps, commands and evidence), and the Chinese transcript is its own
// golden, which README.zh-CN.md shows.
func TestPrivTranscriptZh(t *testing.T) {
	kittest.Privileged(t, kittest.LessonNeeds(lesson())...)
	out, rec := kittest.RunIn(t, run, "zh", "05-volumes")
	kittest.SameAs(t, golden, normalize(rec.English()), "the Chinese run, in English,")
	kittest.CheckTranscript(t, goldenZh, "README.zh-CN.md", normalize(out))
}

// TestREADMETranscript fails when a README's transcript and its golden
// file differ.
func TestREADMETranscript(t *testing.T) {
	kittest.READMETranscript(t, "README.md", golden)
	kittest.READMETranscript(t, "README.zh-CN.md", goldenZh)
}

// TestGoldensFitAndArePlain: every transcript is within 100 columns (a
// Chinese character takes two), with no escape codes and no trailing
// spaces.
func TestGoldensFitAndArePlain(t *testing.T) {
	kittest.CheckGoldenColumns(t)
	for _, g := range []string{golden, goldenZh} {
		b, err := os.ReadFile(g)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, "\x1b") || strings.HasSuffix(line, " ") {
				t.Errorf("%s:%d has an escape code or a trailing space: %q", g, i+1, line)
			}
		}
	}
}

func TestCatalog(t *testing.T) { kittest.CheckCatalog(t, zhPO) }

func TestNormalizeIDs(t *testing.T) {
	a, b := strings.Repeat("ab", 32), strings.Repeat("0f", 32)
	in := "ID=" + a + "\n" + a[:12] + " x\nrm " + b + "\n" + a
	want := "ID=" + strings.Repeat("1", 64) + "\n111111111111 x\nrm " + strings.Repeat("2", 64) + "\n" + strings.Repeat("1", 64)
	if got := normalizeIDs(in); got != want {
		t.Errorf("normalizeIDs(%q) = %q; want %q", in, got, want)
	}
}

func TestList(t *testing.T) { kittest.CheckList(t, lesson(), run) }

// lessonRoot is the directory a lesson process with this PID works in.
func lessonRoot(pid int) string {
	return filepath.Join(os.TempDir(), "unbox-lesson05-"+strconv.Itoa(pid))
}

// checkNothingLeft fails the test if anything of the lesson run pid is on
// the host: its directory, a mount under it, its cgroup.
func checkNothingLeft(t *testing.T, pid int) {
	t.Helper()
	root := lessonRoot(pid)
	if left := mountsUnder(root); len(left) > 0 {
		t.Errorf("still mounted under %s: %v", root, left)
	}
	if _, err := os.Lstat(root); !os.IsNotExist(err) {
		t.Errorf("%s after the lesson: %v; want it removed", root, err)
	}
	cgs, _ := filepath.Glob("/sys/fs/cgroup/*/unbox-lesson05-" + strconv.Itoa(pid))
	more, _ := filepath.Glob("/sys/fs/cgroup/unbox-lesson05-" + strconv.Itoa(pid))
	if left := append(cgs, more...); len(left) > 0 {
		t.Errorf("cgroups left: %v", left)
	}
}

// TestPrivLessonExitsZero runs the lesson as its own process, as
// `go run -exec sudo ./lessons/05-volumes` does, with NO_COLOR=1, and
// checks it printed its directory, no escape code, and left nothing.
func TestPrivLessonExitsZero(t *testing.T) {
	kittest.Privileged(t, kittest.LessonNeeds(lesson())...)
	cmd := kittest.LessonCommand(t, "05-volumes")
	cmd.Env = append(cmd.Env, "NO_COLOR=1")
	out, errs, status := kittest.RunProcess(t, cmd)
	if status != 0 {
		t.Fatalf("exit status = %d; want 0\nstderr:\n%s", status, errs)
	}
	if !strings.Contains(out, "Step 9/9") || !strings.Contains(out, lessonRoot(cmd.Process.Pid)) {
		t.Errorf("output lacks the last step or the lesson's directory %s:\n%s", lessonRoot(cmd.Process.Pid), out)
	}
	if strings.Contains(out+errs, "\x1b[") {
		t.Errorf("output has escape codes")
	}
	checkNothingLeft(t, cmd.Process.Pid)
}

// TestPrivNoColorOnTerminal: on a terminal the lesson colours its output;
// with NO_COLOR=1 it does not.
func TestPrivNoColorOnTerminal(t *testing.T) {
	kittest.Privileged(t, needs...)
	for _, c := range []struct {
		env    string
		colour bool
	}{{"NO_COLOR=", true}, {"NO_COLOR=1", false}} {
		cmd := kittest.LessonCommand(t, "05-volumes", "--only", "1")
		cmd.Env = append(cmd.Env, c.env, "TERM=xterm")
		out, err := kittest.RunOnTerminal(t, cmd)
		if err != nil {
			t.Fatalf("%s: %v\n%s", c.env, err, out)
		}
		if got := strings.Contains(out, "\x1b["); got != c.colour {
			t.Errorf("with %s on a terminal: escape codes %v; want %v", c.env, got, c.colour)
		}
	}
}

// TestPrivInterruptCleansUp sends SIGINT while the lesson waits before
// step 8, with six containers running, volumes, host mounts and a cgroup
// made: it must exit 130 and leave nothing.
func TestPrivInterruptCleansUp(t *testing.T) {
	kittest.Privileged(t, kittest.LessonNeeds(lesson())...)
	cmd := kittest.LessonCommand(t, "05-volumes", "--pause")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	go io.WriteString(stdin, strings.Repeat("\n", 6))
	kittest.StartUntil(t, cmd, "[Enter] for step 8")
	root := lessonRoot(cmd.Process.Pid)
	before := mountsUnder(root)
	for _, want := range []string{"/host/media/usb", "/host/project/cache", "/containers/shared/merged"} {
		if !containsSuffix(before, want) {
			t.Fatalf("before the interrupt, %s should be mounted: %v", root+want, before)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	if got := cmd.ProcessState.ExitCode(); got != 130 {
		t.Errorf("exit status after SIGINT = %d (%v); want 130", got, err)
	}
	checkNothingLeft(t, cmd.Process.Pid)
}

func containsSuffix(list []string, suffix string) bool {
	for _, s := range list {
		if strings.HasSuffix(s, suffix) {
			return true
		}
	}
	return false
}

// TestPrivUnprivilegedUserGetsTheNeedsTable: as nobody, the lesson stops
// before step 1 with the table of needs and exit status 2.
func TestPrivUnprivilegedUserGetsTheNeedsTable(t *testing.T) {
	kittest.Privileged(t)
	kittest.CheckNeedsTable(t, lesson())
}

// TestPrivKeepVolume: with --keep-volume, the volume data and its files
// stay, the lesson says where and how to remove it, and nothing else of
// the lesson is left.
func TestPrivKeepVolume(t *testing.T) {
	kittest.Privileged(t, kittest.LessonNeeds(lesson())...)
	cmd := kittest.LessonCommand(t, "05-volumes", "--step", "4", "--keep-volume")
	out, errs, status := kittest.RunProcess(t, cmd)
	root := lessonRoot(cmd.Process.Pid)
	t.Cleanup(func() { os.RemoveAll(root) })
	if status != 0 {
		t.Fatalf("exit status = %d; want 0\nstderr:\n%s", status, errs)
	}
	data := filepath.Join(root, "volumes", keptVolume, "_data")
	if b, err := os.ReadFile(filepath.Join(data, "a.txt")); err != nil || string(b) != "hello from a\n" {
		t.Errorf("kept volume's a.txt = %q, %v; want a's write", b, err)
	}
	for _, want := range []string{data, "sudo rm -rf " + root} {
		if !strings.Contains(out+errs, want) {
			t.Errorf("the lesson does not say %q:\nstdout:\n%s\nstderr:\n%s", want, out, errs)
		}
	}
	entries, _ := os.ReadDir(root)
	vols, _ := os.ReadDir(filepath.Join(root, "volumes"))
	if len(entries) != 1 || len(vols) != 2 { // volumes/{.lock,data}
		t.Errorf("left in %s: %v, volumes/ %v; want only the store with the kept volume", root, entries, vols)
	}
	if left := mountsUnder(root); len(left) > 0 {
		t.Errorf("still mounted: %v", left)
	}
}

// TestPrivShell drives --shell with commands on standard input: the shell
// runs in a container with a volume of each kind, and the lesson shows
// where its writes went.
func TestPrivShell(t *testing.T) {
	kittest.Privileged(t, needs...)
	cmd := kittest.LessonCommand(t, "05-volumes", "--only", "1", "--shell")
	cmd.Stdin = strings.NewReader("hostname; echo pid=$$; cat /var/lib/app/config.json; " +
		"echo a > /root/r; echo b > /project/p; echo c > /data/d; echo e > /scratch/s; echo f > /cache/c; " +
		"echo mounts=$(grep -c ' /cache ' /proc/self/mountinfo); exit 3\n")
	out, errs, status := kittest.RunProcess(t, cmd)
	if status != 0 {
		t.Fatalf("exit status = %d; want 0 (the shell's own status is not the lesson's)\nstderr:\n%s", status, errs)
	}
	for _, want := range []string{"\nshell\n", "pid=1\n", `{"db": "data/app.db"}`, "mounts=1\n",
		"containers/shell/upper/root/r\n", "host/project/p\n", "/_data/d\n", "/_data/s\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "/c\n") {
		t.Errorf("the tmpfs write shows on disk:\n%s", out)
	}
	checkNothingLeft(t, cmd.Process.Pid)
	if _, err := os.Lstat(filepath.Join(os.TempDir(), "unbox-lesson05-shell-"+strconv.Itoa(cmd.Process.Pid))); !os.IsNotExist(err) {
		t.Errorf("the shell's lab is left: %v", err)
	}
}

func TestExerciseFiles(t *testing.T) { kittest.CheckExerciseFiles(t, lesson()) }

// TestPrivExercises: every check fails on the stubs as shipped and passes
// with -tags solution, and leaves no mount behind.
func TestPrivExercises(t *testing.T) {
	kittest.Privileged(t, kittest.LessonNeeds(lesson())...)
	kittest.CheckExercises(t, lesson())
}
