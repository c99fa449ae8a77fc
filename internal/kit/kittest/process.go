package kittest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/unboxlab/unbox/internal/kit"
)

// LessonNeeds is every need of l and of its steps: what a test that runs the
// whole lesson needs.
func LessonNeeds(l *kit.Lesson) []kit.Need {
	needs := append([]kit.Need{}, l.Needs...)
	for _, st := range l.Steps {
		needs = append(needs, st.Needs...)
	}
	return needs
}

// CheckList runs `<lesson> --list` in this process and fails the test unless
// every step is listed with its number and title, and none ran.
func CheckList(t testing.TB, l *kit.Lesson, run kit.RunFunc) {
	t.Helper()
	var out bytes.Buffer
	if err := run(context.Background(), []string{l.Name, "--list"}, nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	for i, st := range l.Steps {
		if !listed(out.String(), i+1, st.Title) {
			t.Errorf("--list does not show step %d %q:\n%s", i+1, st.Title, out.String())
		}
	}
	if strings.Contains(out.String(), "Step 1/") {
		t.Errorf("--list ran steps:\n%s", out.String())
	}
}

// listed reports whether a --list shows step n with its title: on the
// step's row, and folded onto the rows under it if it is long, its words in
// order (the needs column may come between them).
func listed(list string, n int, title string) bool {
	words := strings.Fields(title)
	row := regexp.MustCompile(`(?m)^\s+` + strconv.Itoa(n) + `\s+` + regexp.QuoteMeta(words[0]) + `(\s|$)`)
	loc := row.FindStringIndex(list)
	if loc == nil {
		return false
	}
	rest := list[loc[0]:]
	// Up to the next step's row.
	if next := regexp.MustCompile(`(?m)^\s+` + strconv.Itoa(n+1) + `\s`).FindStringIndex(rest); next != nil {
		rest = rest[:next[0]]
	}
	fields := strings.Fields(rest)[1:]
	for _, w := range words {
		i := slices.Index(fields, w)
		if i < 0 {
			return false
		}
		fields = fields[i+1:]
	}
	return true
}

// RunTranscript runs the lesson in this process with args (args[0] is its
// name) and returns what it printed. It fails the test if the lesson fails
// or colours output that is not a terminal.
func RunTranscript(t testing.TB, run kit.RunFunc, args ...string) string {
	t.Helper()
	var out, errs bytes.Buffer
	// English, whatever the locale of whoever runs the tests; --lang in
	// args still wins.
	ctx := kit.WithLanguage(context.Background(), kit.English)
	if err := run(ctx, args, nil, &out, &errs); err != nil {
		t.Fatalf("run %v: %v\nstderr:\n%s", args, err, errs.String())
	}
	if strings.Contains(out.String(), "\x1b[") {
		t.Error("output to a buffer has escape codes")
	}
	return out.String()
}

// RunIn runs the lesson in this process with args (args[0] is its name),
// narrating in lang, and returns what it printed and the recording of it.
// It fails the test if the lesson fails, or if a line had no translation:
// the message lists the missing keys as PO entries to add to the lesson's
// catalog.
func RunIn(t testing.TB, run kit.RunFunc, lang string, args ...string) (string, *kit.Recorder) {
	t.Helper()
	rec := &kit.Recorder{}
	ctx := kit.WithRecorder(kit.WithLanguage(context.Background(), lang), rec)
	var out, errs bytes.Buffer
	if err := run(ctx, args, nil, &out, &errs); err != nil {
		t.Fatalf("run %v in %s: %v\nstderr:\n%s", args, lang, err, errs.String())
	}
	if strings.Contains(out.String(), "\x1b[") {
		t.Error("output to a buffer has escape codes")
	}
	if missing := rec.Missing(); len(missing) > 0 {
		t.Errorf("%d lines have no %s translation; add them to the catalog:\n\n%s", len(missing), lang, kit.FormatPO(missing))
	}
	return out.String(), rec
}

// CheckTranscript compares got, already normalised, with the golden file;
// with -update it rewrites the golden file and the README's transcript
// block, so the two move together.
func CheckTranscript(t testing.TB, golden, readme, got string) {
	t.Helper()
	Golden(t, golden, got)
	if Updating() {
		READMETranscript(t, readme, golden)
	}
}

// RunProcess runs cmd to its end and returns its standard output, standard
// error and exit status. Only a failure to run at all fails the test.
func RunProcess(t testing.TB, cmd *exec.Cmd) (stdout, stderr string, status int) {
	t.Helper()
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("%s: %v", cmd, err)
		}
	}
	return o.String(), e.String(), cmd.ProcessState.ExitCode()
}

// Output is a process's standard output as it arrives.
type Output struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (o *Output) writeByte(c byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf.WriteByte(c)
}

// String is everything written so far.
func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// StartUntil starts cmd and returns once its standard output contains want,
// for a test that acts at a known point of a lesson (a pause, a held
// child). The output goes on being collected into the returned Output; the
// process is killed when the test ends if it is still running. The test
// fails if want has not appeared within two minutes (the VM lane's
// emulated CPU is slow).
func StartUntil(t testing.TB, cmd *exec.Cmd, want string) *Output {
	t.Helper()
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	out := &Output{}
	found := make(chan struct{})
	go func() {
		r := bufio.NewReader(pipe)
		signalled := false
		for {
			b, err := r.ReadByte()
			if err != nil {
				return
			}
			out.writeByte(b)
			if !signalled && strings.Contains(out.String(), want) {
				signalled = true
				close(found)
			}
		}
	}()
	select {
	case <-found:
	case <-time.After(2 * time.Minute):
		t.Fatalf("no %q in the output after 2 minutes:\n%s", want, out.String())
	}
	return out
}
