package kittest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
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
// Each check is then run again in every language of l.Catalogs (`--lang zh
// check N`), which must give the same verdict with every line translated.
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
				return
			}
			for _, lang := range slices.Sorted(maps.Keys(l.Catalogs)) {
				checkExerciseIn(t, l, n, lang, out, wantStatus)
			}
		})
	}
}

// checkExerciseIn runs `<lesson> --lang lang check n` as its own process,
// as the English run was, and wants the same exit status, every line
// translated (the process records what it missed, see [Main]), and none of
// the English the catalog translates left in what it printed (english is
// what the English run printed).
func checkExerciseIn(t *testing.T, l *kit.Lesson, n, lang, english string, wantStatus int) {
	t.Helper()
	cat, err := kit.LessonCatalog(l, lang)
	if err != nil {
		t.Fatal(err)
	}
	missed := filepath.Join(t.TempDir(), "missing.json")
	cmd := LessonCommand(t, l.Name, "--lang", lang, "check", n)
	cmd.Env = append(cmd.Env, missingEnv+"="+missed)
	timer := time.AfterFunc(3*time.Minute, func() { cmd.Process.Kill() })
	out, errs, status := RunProcess(t, cmd)
	timer.Stop()
	if status != wantStatus {
		t.Errorf("check %s in %s with the %s: exit status %d; want %d, as in English\nstdout:\n%s\nstderr:\n%s",
			n, lang, build(), status, wantStatus, out, errs)
	}
	missing, err := readMissing(missed)
	if err != nil {
		t.Fatalf("check %s in %s: %v\nstderr:\n%s", n, lang, err, errs)
	}
	if len(missing) > 0 {
		t.Errorf("check %s in %s: %d lines have no translation; add them to the catalog:\n\n%s",
			n, lang, len(missing), kit.FormatPO(missing))
	}
	if left := EnglishLeft(cat, english, out); len(left) > 0 {
		t.Errorf("check %s in %s prints English its catalog translates: %q\nstdout:\n%s", n, lang, left, out)
	}
	// Why the check failed: the English run's reason, word for word, is
	// one no catalog knows (a fmt.Errorf, not kit.Errorf).
	if wantStatus == 1 {
		en, _ := failReason(kit.Catalog{}, n, english)
		said, ok := failReason(cat, n, out)
		if ok && said == en && hasProse(en) {
			t.Errorf("check %s in %s says why it failed in English: %q; make the reason kit.Errorf, "+
				"translated in the catalog\nstdout:\n%s", n, lang, en, out)
		}
	}
}

// failReason is the first line of the reason a check's verdict gives, in
// the language of cat: what follows "FAIL: exercise N: " as cat says it.
func failReason(cat kit.Catalog, n, out string) (string, bool) {
	format := "FAIL: exercise %d: %s"
	if t, ok := cat[format]; ok {
		format = t
	}
	num, _ := strconv.Atoi(n)
	prefix, _, _ := strings.Cut(fmt.Sprintf(format, num, "\x00"), "\x00")
	for _, line := range strings.Split(out, "\n") {
		if _, reason, ok := strings.Cut(line, prefix); ok {
			return reason, true
		}
	}
	return "", false
}

// checkCatalogs wants every exercise's title and hint in each catalog of
// l (a hint is only printed when a check fails, so a run with the
// reference solutions would not miss it), and `<lesson> --lang lang check`,
// the list of exercises, translated whole.
func checkCatalogs(t *testing.T, l *kit.Lesson) {
	t.Helper()
	for _, lang := range slices.Sorted(maps.Keys(l.Catalogs)) {
		c, err := kit.ParsePO(l.Catalogs[lang])
		if err != nil {
			t.Fatalf("the %s catalog: %v", lang, err)
		}
		var missing []string
		for _, ex := range l.Exercises {
			for _, key := range []string{ex.Title, ex.Hint} {
				if _, ok := c[key]; !ok && key != "" {
					missing = append(missing, key)
				}
			}
		}
		if len(missing) > 0 {
			t.Errorf("%d exercise titles and hints have no %s translation; add them to the catalog:\n\n%s",
				len(missing), lang, kit.FormatPO(missing))
		}
		cat, err := kit.LessonCatalog(l, lang)
		if err != nil {
			t.Fatal(err)
		}
		// The hints as a failed check prints them, within the columns. (The
		// banner, lesson and exercise titles on one line, is as wide in
		// English.)
		var lines bytes.Buffer
		nar, err := kit.NewNarratorIn(&lines, lang, l.Catalogs[lang])
		if err != nil {
			t.Fatal(err)
		}
		in := func(s string) string {
			if tr, ok := cat[s]; ok {
				return tr
			}
			return s
		}
		for _, ex := range l.Exercises {
			nar.Say("%s", nar.T("hint: %s", in(ex.Hint)))
		}
		CheckColumns(t, "the exercises' hints in "+lang, lines.String())
		var english, out bytes.Buffer
		if err := kit.Run(kit.WithLanguage(context.Background(), kit.English), l, []string{l.Name, "check"}, nil, &english, io.Discard); err != nil {
			t.Fatal(err)
		}
		rec := &kit.Recorder{}
		ctx := kit.WithRecorder(kit.WithLanguage(context.Background(), lang), rec)
		if err := kit.Run(ctx, l, []string{l.Name, "check"}, nil, &out, io.Discard); err != nil {
			t.Fatal(err)
		}
		if missing := rec.Missing(); len(missing) > 0 {
			t.Errorf("the list of exercises in %s: %d lines have no translation; add them to the catalog:\n\n%s",
				lang, len(missing), kit.FormatPO(missing))
		}
		if left := EnglishLeft(cat, english.String(), out.String()); len(left) > 0 {
			t.Errorf("the list of exercises in %s prints English its catalog translates: %q\n%s", lang, left, out.String())
		}
		CheckColumns(t, "the list of exercises in English", english.String())
		CheckColumns(t, "the list of exercises in "+lang, out.String())
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
// unfinished work. Every exercise's title and hint has a translation in
// each of l.Catalogs, the list of exercises prints translated, and every
// reason a check can give in words has its translation ([kit.Errorf]).
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
	checkCatalogs(t, l)
	checkReasons(t, l)
}

// todo finds a TODO that is not the kit.TODO function, with the exercise
// number when it is TODO(exercise 2) (or N, where a comment explains them).
var todo = regexp.MustCompile(`(?:^|[^.\w])TODO(?:\(exercise (\d+|N)\))?`)

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
