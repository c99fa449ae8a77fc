//go:build linux

package kit_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/kit/kittest"
)

func TestMain(m *testing.M) { kittest.Main(m, nil) }

// recorder is a lesson whose steps record that they ran.
type recorder struct {
	ran      []int
	cleaned  []int
	failAt   int
	cancelAt int
	cancel   context.CancelFunc
}

func (r *recorder) lesson(needs ...kit.Need) *kit.Lesson {
	l := &kit.Lesson{Name: "00-test", Title: "00 · test", Needs: needs}
	for i := 1; i <= 4; i++ {
		st := kit.Step{Title: fmt.Sprintf("step %d", i), Run: func(s *kit.Session) error {
			r.ran = append(r.ran, i)
			s.Cleanup(func() error { r.cleaned = append(r.cleaned, i); return nil })
			s.Cmd("echo %d", i)
			if i == r.cancelAt {
				r.cancel()
			}
			if i == r.failAt {
				return errors.New("boom")
			}
			return nil
		}}
		if i == 3 {
			st.Requires = []int{1}
		}
		l.Steps = append(l.Steps, st)
	}
	return l
}

func runLesson(t *testing.T, l *kit.Lesson, stdin io.Reader, args ...string) (string, string, error) {
	t.Helper()
	var out, errs bytes.Buffer
	err := kit.Run(context.Background(), l, append([]string{l.Name}, args...), stdin, &out, &errs)
	return out.String(), errs.String(), err
}

func TestRunSelectsSteps(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "[1 2 3 4]"},
		{[]string{"--step", "2"}, "[1 2]"},
		{[]string{"--only", "2"}, "[2]"},
		{[]string{"--only", "3"}, "[1 3]"}, // step 3 builds on step 1
		{[]string{"--list"}, "[]"},
	} {
		r := &recorder{}
		out, _, err := runLesson(t, r.lesson(), nil, c.args...)
		if err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		if got := fmt.Sprint(r.ran); got != c.want && !(c.want == "[]" && r.ran == nil) {
			t.Errorf("%v ran steps %s; want %s", c.args, got, c.want)
		}
		if c.args == nil && !strings.Contains(out, "Step 4/4 · step 4\n") {
			t.Errorf("no header for step 4:\n%s", out)
		}
	}
}

func TestRunRejectsBadStep(t *testing.T) {
	r := &recorder{}
	_, _, err := runLesson(t, r.lesson(), nil, "--step", "9")
	if err == nil || !strings.Contains(err.Error(), "steps 1 to 4") {
		t.Errorf("--step 9: err = %v; want one naming the range", err)
	}
	if len(r.ran) != 0 {
		t.Errorf("steps %v ran", r.ran)
	}
}

func TestRunCleansUpInReverseOnFailure(t *testing.T) {
	r := &recorder{failAt: 3}
	_, _, err := runLesson(t, r.lesson(), nil)
	if err == nil || !strings.Contains(err.Error(), "step 3 (step 3): boom") {
		t.Fatalf("err = %v; want step 3's error, named", err)
	}
	if got := fmt.Sprint(r.cleaned); got != "[3 2 1]" {
		t.Errorf("cleanups ran as %s; want [3 2 1]", got)
	}
}

func TestRunStopsAndCleansUpWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r := &recorder{cancelAt: 2, cancel: cancel}
	l := r.lesson()
	err := kit.Run(ctx, l, []string{l.Name}, nil, io.Discard, io.Discard)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v; want context.Canceled", err)
	}
	if got := fmt.Sprint(r.ran); got != "[1 2]" {
		t.Errorf("ran %s; want [1 2] (nothing after the cancel)", got)
	}
	if got := fmt.Sprint(r.cleaned); got != "[2 1]" {
		t.Errorf("cleaned %s; want [2 1]", got)
	}
}

func TestPreflightTable(t *testing.T) {
	missing := kit.Need{Name: "a unicorn", Check: func() error { return errors.New("none in the stable") }, Fix: "run it with {run}"}
	r := &recorder{}
	l := r.lesson()
	l.Steps[1].Needs = []kit.Need{missing}
	l.Steps[3].Needs = []kit.Need{missing}
	_, errs, err := runLesson(t, l, nil)
	if !kit.IsPreflight(err) {
		t.Fatalf("err = %v; want a preflight error", err)
	}
	var pe *kit.PreflightError
	if errors.As(err, &pe); pe.ExitCode() != 2 {
		t.Errorf("exit code = %d; want 2", pe.ExitCode())
	}
	for _, want := range []string{"a unicorn", "none in the stable", "run it with `go run -exec sudo ./lessons/00-test`",
		"Steps that run here as you are: 1, 3"} {
		if !strings.Contains(errs, want) {
			t.Errorf("preflight output lacks %q:\n%s", want, errs)
		}
	}
	if strings.Count(errs, "a unicorn") != 1 {
		t.Errorf("a need shared by two steps is listed twice:\n%s", errs)
	}
	if len(r.ran) != 0 {
		t.Errorf("steps %v ran despite the missing need", r.ran)
	}
	// The steps that need nothing missing still run alone.
	if _, _, err := runLesson(t, l, nil, "--only", "3"); err != nil || fmt.Sprint(r.ran) != "[1 3]" {
		t.Errorf("--only 3: err %v, ran %v; want [1 3]", err, r.ran)
	}
}

func TestPauseBetweenSteps(t *testing.T) {
	r := &recorder{}
	out, _, err := runLesson(t, r.lesson(), strings.NewReader("\n\n\n"), "--pause")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out, "[Enter] for step"); n != 3 {
		t.Errorf("%d pauses; want 3:\n%s", n, out)
	}
	// At end of input there is nobody to press Enter: no hang.
	r = &recorder{}
	if _, _, err := runLesson(t, r.lesson(), strings.NewReader(""), "--pause"); err != nil || len(r.ran) != 4 {
		t.Errorf("with empty input: err %v, ran %v; want all four steps", err, r.ran)
	}
}

func TestNeedRootSaysHow(t *testing.T) {
	err := kit.NeedRoot.Check()
	if (os.Geteuid() == 0) != (err == nil) {
		t.Errorf("NeedRoot.Check() = %v as uid %d", err, os.Geteuid())
	}
	if !strings.Contains(kit.NeedRoot.Fix, "{run}") {
		t.Errorf("NeedRoot.Fix = %q; want the command to run the lesson as root", kit.NeedRoot.Fix)
	}
}

func TestPrivUserNSProbe(t *testing.T) {
	kittest.Privileged(t)
	if err := kit.NeedUserNS.Check(); err != nil {
		t.Errorf("root may always create a user namespace, but the probe says: %v", err)
	}
}

// TestPrivOverlayProbe checks both ways NeedOverlay can answer yes: the
// /proc/filesystems line, and the trial mount that stands in for it where
// overlay is a module not loaded yet. The leak check proves the trial mount
// is gone afterwards.
func TestPrivOverlayProbe(t *testing.T) {
	kittest.Privileged(t, kit.NeedOverlay)
	if err := kit.NeedOverlay.Check(); err != nil {
		t.Errorf("NeedOverlay.Check() = %v; want nil", err)
	}
	if err := kit.TrialOverlayMount(); err != nil {
		t.Errorf("trial overlay mount: %v", err)
	}
}

// --list fits a projector: needs that every step has are shown once, and a
// long list of a step's own needs wraps.
func TestListFitsTheColumns(t *testing.T) {
	need := func(name string) kit.Need { return kit.Need{Name: name, Check: func() error { return nil }} }
	r := &recorder{}
	l := r.lesson(need("root"), need("a rather long kernel feature"))
	for i := range l.Steps {
		l.Steps[i].Title = strings.Repeat("a long step title ", 3)
	}
	for i := 1; i <= 8; i++ {
		l.Steps[3].Needs = append(l.Steps[3].Needs, need(fmt.Sprintf("feature number %d", i)))
	}
	out, _, err := runLesson(t, l, nil, "--list")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(out, "\n") {
		if kit.Width(line) > kit.Columns {
			t.Errorf("--list line wider than %d columns:\n%s", kit.Columns, line)
		}
	}
	for _, want := range []string{"* needs root, a rather long kernel feature", "*, feature number 1,", "feature number 8\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("--list lacks %q:\n%s", want, out)
		}
	}
}

func TestWrap(t *testing.T) {
	for _, c := range []struct {
		text  string
		width int
		want  string
	}{
		{"a bb ccc dddd", 6, "a bb\nccc\ndddd"},
		{"  spaced   out  ", 20, "spaced out"},
		{"toolongword x", 4, "toolongword\nx"},
		{"容器 镜像 数据卷", 9, "容器 镜像\n数据卷"}, // CJK: two columns each
		{"", 10, ""},
	} {
		if got := kit.Wrap(c.text, c.width); got != c.want {
			t.Errorf("Wrap(%q, %d) = %q; want %q", c.text, c.width, got, c.want)
		}
	}
}
