//go:build linux

package main

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/unboxlab/unbox/internal/kit/kittest"
	"github.com/unboxlab/unbox/internal/procfs"
)

func TestMain(m *testing.M) { kittest.Main(m, run) }

const (
	name     = "03-rootfs-chroot"
	golden   = "testdata/transcript.golden"
	goldenZh = "testdata/transcript.zh.golden"
)

// transcriptRules normalise what differs between runs and hosts, on top of
// kittest.DefaultRules (PIDs, inodes, unbox-<what>-<pid>).
func transcriptRules() []kittest.Rule {
	rules := []kittest.Rule{
		// A root filesystem of host tools also has /lib and /lib64, for the
		// shared libraries; a busybox one has no need of them.
		kittest.Literal(" lib lib64 ", " "),
		{Re: regexp.MustCompile(`(uname -n: )[^\s;]+`), Repl: "${1}<host-name>"},
		{Re: regexp.MustCompile(`\d+ programs in /bin`), Repl: "<n> programs in /bin"},
		{Re: regexp.MustCompile(`(the host's mount table: )\d+ mounts`), Repl: "${1}<n> mounts"},
		{Re: regexp.MustCompile(`/ is \S+, as on the host`), Repl: "/ is <propagation>, as on the host"},
		{Re: regexp.MustCompile(`\d+ more under the old root`), Repl: "<n> more under the old root"},
		// The container's / is a bind mount of a directory of the host's
		// /tmp: its device, type and options are the host's.
		{Re: regexp.MustCompile(`\S+ on / type \S+ \([^)]*\)`), Repl: "<device> on / type <fstype> (<options>)"},
		// The same in the Chinese narration.
		{Re: regexp.MustCompile(`(uname -n：)[^\s；]+`), Repl: "${1}<host-name>"},
		{Re: regexp.MustCompile(`\d+ 个程序`), Repl: "<n> 个程序"},
		{Re: regexp.MustCompile(`(宿主机挂载表的副本：)\d+ 个挂载`), Repl: "${1}<n> 个挂载"},
		{Re: regexp.MustCompile(`/ 是 \S+，与宿主机相同`), Repl: "/ 是 <propagation>，与宿主机相同"},
		{Re: regexp.MustCompile(`旧根下还有 \d+ 个`), Repl: "旧根下还有 <n> 个"},
	}
	if parent, err := workParent(); err == nil && parent != "/tmp" {
		rules = append(rules, kittest.Literal(parent+"/", "/tmp/"))
	}
	return rules
}

// TestPrivTranscript runs the whole lesson, with each kind of root
// filesystem, and compares its output with the golden file that the
// README's transcript is taken from: the transcript does not depend on
// where the root filesystem's programs came from, nor on the host.
func TestPrivTranscript(t *testing.T) {
	kittest.Privileged(t, kittest.LessonNeeds(lesson())...)
	for _, source := range []string{"", "host"} {
		t.Run("rootfs="+source, func(t *testing.T) {
			args := []string{name}
			if source != "" {
				args = append(args, "--rootfs", source)
			}
			got := kittest.RunTranscript(t, run, args...)
			got = kittest.Normalize(got, transcriptRules()...)
			if source == "" || !kittest.Updating() {
				kittest.Golden(t, golden, got)
			}
		})
	}
	if kittest.Updating() {
		kittest.READMETranscript(t, "README.md", golden)
	}
}

// TestPrivTranscriptZh runs the lesson in Chinese: every line has a
// translation, the run told again in English is the English golden (the
// same steps, commands and evidence), and the Chinese transcript is its own
// golden, which README.zh-CN.md shows.
func TestPrivTranscriptZh(t *testing.T) {
	kittest.Privileged(t, kittest.LessonNeeds(lesson())...)
	out, rec := kittest.RunIn(t, run, "zh", name)
	kittest.SameAs(t, golden, kittest.Normalize(rec.English(), transcriptRules()...), "the Chinese run, in English,")
	kittest.CheckTranscript(t, goldenZh, "README.zh-CN.md", kittest.Normalize(out, transcriptRules()...))
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

// TestRequires: --only N runs the steps N needs. Step 7 execs the program
// again from inside the container, which needs step 5's /proc; step 6
// writes to that /proc.
func TestRequires(t *testing.T) {
	steps := lesson().Steps
	for i, want := range map[int][]int{2: {1}, 3: {1}, 4: {1}, 5: {1, 4}, 6: {1, 4, 5}, 7: {1, 4, 5}, 8: {1, 4, 5}} {
		if got := steps[i-1].Requires; !slices.Equal(got, want) {
			t.Errorf("step %d requires %v; want %v", i, got, want)
		}
	}
}

func TestPrivLessonExitsZero(t *testing.T) {
	kittest.Privileged(t, kittest.LessonNeeds(lesson())...)
	cmd := kittest.LessonCommand(t, name)
	out, errs, status := kittest.RunProcess(t, cmd)
	if status != 0 {
		t.Fatalf("exit status = %d; want 0\nstderr:\n%s", status, errs)
	}
	if strings.Contains(out, "\x1b") {
		t.Error("output to a pipe has escape codes")
	}
	if !strings.Contains(out, "Step 9/9") {
		t.Errorf("output lacks the last step:\n%s", out)
	}
	base := lessonBase(t, cmd)
	if _, err := os.Stat(base); !os.IsNotExist(err) {
		t.Errorf("after the lesson, %s still exists (err %v)", base, err)
	}
}

// TestPrivStepFourStops: --step 4 ends with the container still waiting for
// step 5; it must be killed, and its directory removed.
func TestPrivStepFourStops(t *testing.T) {
	kittest.Privileged(t, kittest.LessonNeeds(lesson())...)
	out, errs, status := kittest.RunProcess(t, kittest.LessonCommand(t, name, "--step", "4"))
	if status != 0 {
		t.Fatalf("exit status = %d; want 0\nstderr:\n%s", status, errs)
	}
	if !strings.Contains(out, "Step 4/9") || strings.Contains(out, "Step 5/9") {
		t.Errorf("--step 4 output should end with step 4:\n%s", out)
	}
}

// TestPrivOnly: --only N runs the steps N builds on first, and skips the
// rest; the container child must not depend on a skipped step.
func TestPrivOnly(t *testing.T) {
	kittest.Privileged(t, kittest.LessonNeeds(lesson())...)
	for _, c := range []struct {
		only      string
		want, not []string
	}{
		{"5", []string{"Step 1/9", "Step 4/9", "Step 5/9"}, []string{"Step 2/9", "Step 3/9", "Step 6/9"}},
		{"6", []string{"Step 1/9", "Step 4/9", "Step 5/9", "Step 6/9", "read-only file system"}, []string{"Step 3/9", "Step 7/9"}},
		{"7", []string{"Step 1/9", "Step 4/9", "Step 5/9", "Step 7/9", "No way out."}, []string{"Step 3/9", "Step 6/9", "Step 8/9"}},
		{"8", []string{"Step 1/9", "Step 4/9", "Step 5/9", "Step 8/9", "The container has 6 mounts"}, []string{"Step 7/9"}},
	} {
		t.Run(c.only, func(t *testing.T) {
			cmd := kittest.LessonCommand(t, name, "--only", c.only)
			timer := time.AfterFunc(time.Minute, func() { cmd.Process.Kill() })
			out, errs, status := kittest.RunProcess(t, cmd)
			timer.Stop()
			if status != 0 {
				t.Fatalf("--only %s: exit status = %d; want 0\nstderr:\n%s", c.only, status, errs)
			}
			for _, want := range c.want {
				if !strings.Contains(out, want) {
					t.Errorf("--only %s output lacks %q:\n%s", c.only, want, out)
				}
			}
			for _, not := range c.not {
				if strings.Contains(out, not) {
					t.Errorf("--only %s output has %q:\n%s", c.only, not, out)
				}
			}
		})
	}
}

func TestPrivUnprivilegedUserGetsTheNeedsTable(t *testing.T) {
	kittest.Privileged(t)
	kittest.CheckNeedsTable(t, lesson())
}

// TestPrivShell drives --shell with commands on standard input, with each
// kind of root filesystem: the shell is PID 1 in the pivoted root, and ls,
// ps and mount show the container's view.
func TestPrivShell(t *testing.T) {
	kittest.Privileged(t, append(kittest.LessonNeeds(lesson()), lesson().ShellNeeds...)...)
	for _, source := range []string{"", "host"} {
		t.Run("rootfs="+source, func(t *testing.T) {
			args := []string{"--only", "1", "--shell"}
			if source != "" {
				args = append(args, "--rootfs", source)
			}
			cmd := kittest.LessonCommand(t, name, args...)
			cmd.Stdin = strings.NewReader("echo pid=$$; hostname; echo ls: $(ls -A /); ps -o pid,comm; mount; cd /..; pwd; exit\n")
			out, errs, status := kittest.RunProcess(t, cmd)
			if status != 0 {
				t.Fatalf("exit status = %d; want 0\nstdout:\n%s\nstderr:\n%s", status, out, errs)
			}
			_, shell, ok := strings.Cut(out, "Step 10/10")
			if !ok {
				t.Fatalf("no shell step in the output:\n%s", out)
			}
			for _, want := range []string{"\npid=1\n", "\n" + containerHostname + "\n", "proc on /proc type proc", "sysfs on /sys type sysfs (ro,", "devpts on /dev/pts"} {
				if !strings.Contains(shell, want) {
					t.Errorf("shell output lacks %q:\n%s", want, shell)
				}
			}
			ls := regexp.MustCompile(`(?m)^ls: (.*)$`).FindStringSubmatch(shell)
			if ls == nil || !strings.Contains(ls[1], "bin") || strings.Contains(ls[1], ".oldroot") {
				t.Errorf("ls -A / in the shell = %q; want the rootfs, no .oldroot", ls)
			}
			var procs []string
			for _, l := range regexp.MustCompile(`(?m)^\s*(\d+) (\S+)\s*$`).FindAllStringSubmatch(shell, -1) {
				procs = append(procs, l[1]+" "+l[2])
			}
			if len(procs) != 2 || procs[0] != "1 sh" || !strings.HasSuffix(procs[1], " ps") {
				t.Errorf("ps in the shell = %v; want PID 1 sh and ps, nothing of the host's", procs)
			}
			if strings.Contains(shell, "unbox-rootfs") {
				t.Errorf("the shell's mount table shows the host's path:\n%s", shell)
			}
			if !regexp.MustCompile(`(?m)^/$`).MatchString(shell) {
				t.Errorf("cd /..; pwd in the shell did not print /:\n%s", shell)
			}
		})
	}
}

// TestPrivInterruptCleansUp sends SIGINT while the lesson waits after step
// 4 and after step 5, with the container and all its mounts alive: it must
// exit 130, and leave no mount, directory or process behind.
func TestPrivInterruptCleansUp(t *testing.T) {
	kittest.Privileged(t, kittest.LessonNeeds(lesson())...)
	for _, c := range []struct {
		after  int // the step just done
		mounts int // the container's mounts then
	}{{4, 1}, {5, 6}} {
		t.Run("after step "+strconv.Itoa(c.after), func(t *testing.T) {
			cmd := kittest.LessonCommand(t, name, "--pause")
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			defer stdin.Close()
			go io.WriteString(stdin, strings.Repeat("\n", c.after-1))
			kittest.StartUntil(t, cmd, "[Enter] for step "+strconv.Itoa(c.after+1))

			base := lessonBase(t, cmd)
			if _, err := os.Stat(base); err != nil {
				t.Fatalf("before SIGINT, the lesson's directory should exist: %v", err)
			}
			ctr := childNamed(t, cmd.Process.Pid, "container")
			if inside, err := procfs.ReadMountinfo(strconv.Itoa(ctr)); err != nil || len(inside) != c.mounts {
				t.Fatalf("before SIGINT, the container has %d mounts (%v); want %d", len(inside), err, c.mounts)
			}
			if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
			err = cmd.Wait()
			if got := cmd.ProcessState.ExitCode(); got != 130 {
				t.Errorf("exit status after SIGINT = %d (%v); want 130", got, err)
			}
			if _, err := os.Stat(base); !os.IsNotExist(err) {
				t.Errorf("after SIGINT, %s still exists (err %v)", base, err)
			}
			host, err := procfs.ReadMountinfo("self")
			if err != nil {
				t.Fatal(err)
			}
			if u := procfs.Mounts(host).Under(base); len(u) > 0 {
				t.Errorf("after SIGINT, the host has mounts under %s: %v", base, u)
			}
			if _, err := os.Stat("/proc/" + strconv.Itoa(ctr)); !os.IsNotExist(err) {
				// The leak check waits a moment for it; say which it was.
				t.Logf("container host pid %d not yet gone right after the lesson exited", ctr)
			}
		})
	}
}

// lessonBase is the work directory of the lesson running as cmd.
func lessonBase(t *testing.T, cmd *exec.Cmd) string {
	parent, err := workParent()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(parent, "unbox-rootfs-"+strconv.Itoa(cmd.Process.Pid))
}

// childNamed finds the child of pid whose thread name (comm) is stage: a
// re-exec'd child names itself after its stage.
func childNamed(t *testing.T, pid int, stage string) int {
	t.Helper()
	pids, _ := procfs.PIDs()
	for _, p := range pids {
		if st, err := procfs.ReadStat(strconv.Itoa(p)); err == nil && st.Comm == stage && st.PPID == pid {
			return p
		}
	}
	t.Fatalf("no child %q of pid %d", stage, pid)
	return 0
}
