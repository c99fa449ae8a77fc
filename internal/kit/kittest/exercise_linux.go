package kittest

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/unboxlab/unbox/internal/kit"
)

// CheckExercises proves every checker of a lesson honest: it runs
// `<lesson> check N` as its own process for each exercise, as a learner
// does, and wants it to fail (exit status 1, "FAIL") on the stubs as
// shipped, and to pass (exit status 0, "PASS") in a build with the tag
// "solution", where the reference solutions replace them. CI runs both:
//
//	go test -exec sudo ./lessons/...                                     # stubs
//	go test -tags solution -exec sudo -run '^TestPrivExercises$' ./lessons/...
//
// A checker that crashes, hangs or cannot tell the two apart fails here.
func CheckExercises(t *testing.T, l *kit.Lesson) {
	t.Helper()
	if len(l.Exercises) == 0 {
		t.Fatalf("lesson %s has no exercises", l.Name)
	}
	for i, ex := range l.Exercises {
		n := strconv.Itoa(i + 1)
		t.Run(n, func(t *testing.T) {
			Privileged(t, append(append([]kit.Need{}, l.Needs...), ex.Needs...)...)
			cmd := LessonCommand(t, l.Name, "check", n)
			timer := time.AfterFunc(3*time.Minute, func() { cmd.Process.Kill() })
			out, errs, status := RunProcess(t, cmd)
			timer.Stop()
			if m := crash.FindString(out + errs); m != "" {
				t.Errorf("check %s crashed (%q):\nstdout:\n%s\nstderr:\n%s", n, m, out, errs)
			}
			want, wantStatus := "FAIL: exercise "+n, 1
			if Solution {
				want, wantStatus = "PASS: exercise "+n, 0
			}
			if status != wantStatus || !strings.Contains(out, want) {
				t.Errorf("check %s with the %s: exit status %d; want %d and %q\nstdout:\n%s\nstderr:\n%s",
					n, build(), status, wantStatus, want, out, errs)
			}
		})
	}
}

// crash is how a Go program's crash starts its report.
var crash = regexp.MustCompile(`(?m)^(panic: |fatal error: |goroutine \d+ \[)`)

func build() string {
	if Solution {
		return "reference solution (-tags solution)"
	}
	return "stub as shipped"
}

// CheckExerciseFiles is a pure test of where the exercises live: for each
// exercise N of l, a file of the lesson built without the tag "solution"
// holds TODO(exercise N), the stub, and one built with it (//go:build
// solution) holds "exercise N", the reference solution; and no other TODO
// is in the lesson: there, a TODO means a place for the learner, never
// unfinished work.
func CheckExerciseFiles(t *testing.T, l *kit.Lesson) {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	tagged := regexp.MustCompile(`(?m)^//go:build .*\bsolution\b`)
	stubs, solutions := map[int]string{}, map[int]string{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		// A TODO(exercise N) marks where a learner writes: a shipped
		// lesson has no other TODO (no unfinished work; STYLE.md).
		for _, m := range todo.FindAllStringSubmatchIndex(text, -1) {
			num := ""
			if m[2] >= 0 {
				num = text[m[2]:m[3]]
			}
			if n, err := strconv.Atoi(num); num != "N" && (err != nil || n < 1 || n > len(l.Exercises)) {
				line := strings.Count(text[:m[0]], "\n") + 1
				t.Errorf("%s:%d: a TODO that is not TODO(exercise N) of this lesson's %d exercises: "+
					"a shipped lesson has no unfinished work", f, line, len(l.Exercises))
			}
		}
		isSolution := tagged.MatchString(text) && !strings.Contains(firstLine(text), "!solution")
		for i := range l.Exercises {
			n := i + 1
			if isSolution && strings.Contains(text, fmt.Sprintf("exercise %d", n)) {
				solutions[n] = f
			}
			if !isSolution && strings.Contains(text, fmt.Sprintf("TODO(exercise %d)", n)) {
				stubs[n] = f
			}
		}
	}
	for i, ex := range l.Exercises {
		n := i + 1
		if stubs[n] == "" {
			t.Errorf("exercise %d (%s): no stub with TODO(exercise %d) in a file built without -tags solution", n, ex.Title, n)
		}
		if solutions[n] == "" {
			t.Errorf("exercise %d (%s): no reference solution in a file with //go:build solution", n, ex.Title)
		}
		if stub := strings.Split(ex.Stub, ":")[0]; stubs[n] != "" && stub != stubs[n] {
			t.Errorf("exercise %d: Stub says %s, but TODO(exercise %d) is in %s", n, ex.Stub, n, stubs[n])
		}
		if ex.Check == nil || ex.Hint == "" || ex.Title == "" {
			t.Errorf("exercise %d: want a Title, a Check and a Hint", n)
		}
	}
}

// todo finds a TODO that is not the kit.TODO function, with the exercise
// number when it is TODO(exercise 2) (or N, where a comment explains them).
var todo = regexp.MustCompile(`(?:^|[^.\w])TODO(?:\(exercise (\d+|N)\))?`)

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
