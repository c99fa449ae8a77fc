//go:build linux

package main

import (
	"io"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/unboxlab/unbox/internal/kit/kittest"
	"github.com/unboxlab/unbox/internal/network"
)

func TestMain(m *testing.M) { kittest.Main(m, run) }

const (
	golden   = "testdata/transcript.golden"
	goldenZh = "testdata/transcript.zh.golden"
)

// privileged starts a privileged test of the lesson: its needs, the kit's
// leak check, and one for our links, tables, named namespaces and
// ip_forward. It returns ip_forward's value.
func privileged(t *testing.T) string {
	t.Helper()
	kittest.Privileged(t, kittest.LessonNeeds(lesson())...)
	kittest.NoLeaksOf(t, "network objects and ip_forward", network.HostState)
	was, err := network.ReadSysctl(network.ForwardingKey)
	if err != nil {
		t.Fatal(err)
	}
	return was
}

// transcriptRules normalise what differs between hosts, on top of
// kittest.DefaultRules (host PIDs, unbox-lesson06-<pid>). The addresses do
// not vary: the subnet choice is the same on every host that does not
// route 10.66.0.0/24 already, and MAC addresses follow from them.
//
// ip_forward: the golden file shows a host where it was 0, as on a
// machine without Docker; on a host where it was 1, the clean up writes
// back 1, and only that line of step 8 differs.
func transcriptRules(forwardingWas string) []kittest.Rule {
	rules := []kittest.Rule{}
	if tmp := os.TempDir(); tmp != "/tmp" {
		rules = append(rules, kittest.Literal(tmp+"/", "/tmp/"))
	}
	if forwardingWas == "1" {
		rules = append(rules, kittest.Rule{Re: regexp.MustCompile(`(?s)Step 8/8 .*`), Fn: func(s string) string {
			s = strings.Replace(s, "sysctl -w net.ipv4.ip_forward=1", "sysctl -w net.ipv4.ip_forward=0", 1)
			s = strings.Replace(s, "net.ipv4.ip_forward = 1, as it was", "net.ipv4.ip_forward = 0, as it was", 1)
			return s
		}})
		rules = append(rules, kittest.Rule{Re: regexp.MustCompile(`(?s)步骤 8/8 .*`), Fn: func(s string) string {
			s = strings.Replace(s, "sysctl -w net.ipv4.ip_forward=1", "sysctl -w net.ipv4.ip_forward=0", 1)
			return strings.Replace(s, "net.ipv4.ip_forward = 1，恢复原样", "net.ipv4.ip_forward = 0，恢复原样", 1)
		}})
	}
	return rules
}

// TestPrivTranscript runs the whole lesson and compares its output with the
// golden file that the README's transcript is taken from (kittest.Golden
// keeps every line within 100 columns).
func TestPrivTranscript(t *testing.T) {
	was := privileged(t)
	out := kittest.RunTranscript(t, run, "06-network")
	kittest.CheckTranscript(t, golden, "README.md", kittest.Normalize(out, transcriptRules(was)...))
}

// TestPrivTranscriptZh runs the lesson in Chinese: every line has a
// translation, the run told again in English is the English golden (the
// same steps, commands and evidence), and the Chinese transcript is its own
// golden, which README.zh-CN.md shows.
func TestPrivTranscriptZh(t *testing.T) {
	was := privileged(t)
	out, rec := kittest.RunIn(t, run, "zh", "06-network")
	kittest.SameAs(t, golden, kittest.Normalize(rec.English(), transcriptRules(was)...), "the Chinese run, in English,")
	kittest.CheckTranscript(t, goldenZh, "README.zh-CN.md", kittest.Normalize(out, transcriptRules(was)...))
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
// with -tags solution; the leak checks see every namespace, link and the
// ip_forward setting put back.
func TestPrivExercises(t *testing.T) {
	privileged(t)
	kittest.CheckExercises(t, lesson())
}

func TestList(t *testing.T) { kittest.CheckList(t, lesson(), run) }

// TestPrivLessonExitsZero runs the lesson as its own process, as
// `go run -exec sudo ./lessons/06-network` does, with NO_COLOR=1: exit
// status 0, all eight steps, no escape codes, nothing left behind.
func TestPrivLessonExitsZero(t *testing.T) {
	privileged(t)
	cmd := kittest.LessonCommand(t, "06-network")
	cmd.Env = append(cmd.Env, "NO_COLOR=1")
	out, err := kittest.RunOnTerminal(t, cmd)
	if err != nil {
		t.Fatalf("lesson: %v\n%s", err, out)
	}
	if !strings.Contains(out, "Step 8/8") || !strings.Contains(out, "outside saw") {
		t.Errorf("output lacks the last step or the way out:\n%s", out)
	}
	if strings.Contains(out, "\x1b[") {
		t.Errorf("NO_COLOR=1 on a terminal: the output has escape codes")
	}
}

// TestPrivInterruptCleansUp sends SIGINT while the lesson waits before
// step 7, with the bridge, the containers, the table and ip_forward in
// place: it must exit 130 and take all of it away (the leak checks).
func TestPrivInterruptCleansUp(t *testing.T) {
	privileged(t)
	cmd := kittest.LessonCommand(t, "06-network", "--pause")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	go io.WriteString(stdin, strings.Repeat("\n", 5))
	kittest.StartUntil(t, cmd, "[Enter] for step 7")
	ours, err := network.OursOnHost()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"link " + bridge, "nftables table ip " + table, "netns " + nsPrefix + "a"} {
		if !strings.Contains(strings.Join(ours, "\n"), want) {
			t.Fatalf("before the interrupt, want %s on the host; have %v", want, ours)
		}
	}
	if fwd, _ := network.ReadSysctl(network.ForwardingKey); fwd != "1" {
		t.Fatalf("before the interrupt, ip_forward = %s; want 1", fwd)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	if got := cmd.ProcessState.ExitCode(); got != 130 {
		t.Errorf("exit status after SIGINT = %d (%v); want 130", got, err)
	}
}

// TestPrivLeftoversOfAKilledRun: a run killed with SIGKILL cleans up
// nothing; the next run says what it found and removes it first.
func TestPrivLeftoversOfAKilledRun(t *testing.T) {
	was := privileged(t)
	cmd := kittest.LessonCommand(t, "06-network", "--pause")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	go io.WriteString(stdin, strings.Repeat("\n", 4))
	kittest.StartUntil(t, cmd, "[Enter] for step 6")
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	// SIGKILL leaves ip_forward as step 5 set it; put it back as the
	// README's clean up section says to.
	t.Cleanup(func() { network.WriteSysctl(network.ForwardingKey, was) })
	for _, d := range leftoverDirs(t) {
		t.Cleanup(func() { os.RemoveAll(d) })
	}

	next := kittest.LessonCommand(t, "06-network", "--only", "1")
	out, errs, status := kittest.RunProcess(t, next)
	if status != 0 {
		t.Fatalf("the run after a killed one: exit status %d\nstderr:\n%s", status, errs)
	}
	for _, want := range []string{"an earlier run was killed", "link ubx06-br", "nftables table ip unbox06", "netns unbox06-out"} {
		if !strings.Contains(out, want) {
			t.Errorf("the next run does not say %q:\n%s", want, out)
		}
	}
}

// leftoverDirs are state directories of killed runs, which nothing else
// removes (the next run has a directory of its own).
func leftoverDirs(t *testing.T) []string {
	t.Helper()
	entries, _ := os.ReadDir(os.TempDir())
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "unbox-lesson06-") {
			out = append(out, os.TempDir()+"/"+e.Name())
		}
	}
	return out
}

// TestPrivUnprivilegedUserGetsTheNeedsTable: as nobody, the lesson stops
// before step 1 with the table of needs and exit status 2.
func TestPrivUnprivilegedUserGetsTheNeedsTable(t *testing.T) {
	privileged(t)
	kittest.CheckNeedsTable(t, lesson())
}

// TestPrivShell drives --shell with commands on standard input: the shell
// runs in a container on a network of its own, with its own address,
// resolver configuration and hostname, and what it made is gone after.
func TestPrivShell(t *testing.T) {
	privileged(t)
	cmd := kittest.LessonCommand(t, "06-network", "--only", "1", "--shell")
	cmd.Stdin = strings.NewReader("hostname; ip addr; cat /etc/resolv.conf; exit 3\n")
	out, errs, status := kittest.RunProcess(t, cmd)
	if status != 0 {
		t.Fatalf("exit status = %d; want 0 (the shell's own status is not the lesson's)\nstderr:\n%s", status, errs)
	}
	for _, want := range []string{"\nshell\n", "inet 10.66.", "nameserver 10.66.", "ip link add ubx06s-br type bridge",
		"dnat to 10.66."} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
