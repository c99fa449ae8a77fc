package kit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
)

// Exercise is one of a lesson's exercises: the learner fills in a stub
// function in the lesson (it says TODO(exercise N)), and
// `go run -exec sudo ./lessons/<name> check N` says whether it works.
//
// A check looks at what the kernel did, never at the code: it runs the
// learner's function on something real (a child in new namespaces, a cgroup,
// a union) and reads the result back from /proc, the cgroup files or the
// mount table. It must fail on the stub as shipped and pass on the
// reference solution, which the lesson keeps behind the build tag
// "solution" (so a reader who does not look is not told):
//
//	go run -exec sudo ./lessons/02-cgroups check 1                 # your code
//	go run -tags solution -exec sudo ./lessons/02-cgroups check 1  # the reference
//
// kittest's CheckExercises proves both, for every exercise, in CI.
//
// A stub's TODO(exercise N) is on purpose: it marks where the learner
// writes, not unfinished work of ours (STYLE.md's "no TODOs left in shipped
// lessons" is about the latter).
type Exercise struct {
	// Title is one line: what to build.
	Title string
	// Stub names the function to fill in, as file.go:Func.
	Stub string
	// Needs are what the check needs beyond the lesson's Needs.
	Needs []Need
	// Check runs the learner's code and checks what the kernel did: nil
	// is a pass, an error says what it found instead. It narrates what it
	// looks at through the session, and registers cleanups with
	// s.Cleanup, which run however it ends.
	Check func(s *Session) error
	// Hint is printed with a failure: where to look, not the answer.
	Hint string
}

// TODO is what an exercise's stub returns before the learner fills it in.
// A check that gets it back says so, and fails.
func TODO(n int) error { return &todoError{n} }

type todoError struct{ n int }

func (e *todoError) Error() string {
	return fmt.Sprintf("not written yet: the function still returns kit.TODO(%d)", e.n)
}

// Errorf is fmt.Errorf for what a check found wrong: the error reads in
// English, as fmt.Errorf's does, and format is also the key of its
// translation (a msgid in the lesson's catalog, see i18n.go), so that the
// verdict of `check N` says it in the narration's language with the same
// arguments, as they are: paths, numbers, what the kernel answered. %w
// wraps, as for fmt.Errorf; a wrapped error made by Errorf is translated
// too. Use it for every reason a check gives in words (kittest's
// CheckExerciseFiles wants each one in each catalog); a bare "joinUTS: %w"
// needs no translation and stays fmt.Errorf.
func Errorf(format string, args ...any) error {
	return &reasonError{format: format, args: args, err: fmt.Errorf(format, args...)}
}

// reasonError is what [Errorf] makes: the English error, and the format
// and arguments to say it again in another language.
type reasonError struct {
	format string
	args   []any
	err    error
}

func (e *reasonError) Error() string { return e.err.Error() }
func (e *reasonError) Unwrap() error { return e.err }

// IsTODO reports whether err comes from a stub not filled in yet.
func IsTODO(err error) bool {
	var t *todoError
	return errors.As(err, &t)
}

// CheckFailedError is what `check N` returns when the exercise does not
// pass. The verdict is printed already; [Main] exits with status 1.
type CheckFailedError struct {
	N   int
	Err error
}

func (e *CheckFailedError) Error() string { return fmt.Sprintf("exercise %d: %v", e.N, e.Err) }
func (e *CheckFailedError) Unwrap() error { return e.Err }

// ExitCode is 1: the exercise does not pass yet.
func (e *CheckFailedError) ExitCode() int { return 1 }

func runCheck(ctx context.Context, l *Lesson, c *cli.Context, stdin io.Reader, stdout, stderr io.Writer) (err error) {
	s, err := newSession(ctx, l, c, stdin, stdout, stderr)
	if err != nil {
		return err
	}
	if c.NArg() == 0 {
		// The banner alone: the lesson's title and ": exercises" would not
		// fit the columns, and the table says what it lists.
		s.Title("unbox lesson %s", s.literal(l.Title))
		listExercises(s, l)
		fmt.Fprintln(s.Writer())
		s.Say("Check one with: go run -exec sudo ./lessons/%s check N", l.Name)
		return nil
	}
	if c.NArg() > 1 {
		// Flags go before check: `--lang zh check 2`, not `check 2 --lang zh`.
		return errors.New(s.T("check %s: one exercise number, then nothing (flags such as --lang go before check)",
			strings.Join(c.Args().Slice(), " ")))
	}
	n, convErr := strconv.Atoi(c.Args().First())
	if convErr != nil || n < 1 || n > len(l.Exercises) {
		return errors.New(s.T("check %s: this lesson has exercises 1 to %d (run check alone to list them)",
			c.Args().First(), len(l.Exercises)))
	}
	ex := l.Exercises[n-1]
	if err := preflight(s.Narrator, stderr, l.Name, append(slices.Clone(l.Needs), ex.Needs...)); err != nil {
		return err
	}
	defer func() {
		if cerr := s.runCleanups(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("clean up: %w", cerr))
		}
	}()
	// The lesson and the exercise on a line each: both titles on one
	// would not fit the columns.
	s.Title("unbox lesson %s", s.literal(l.Title))
	s.Title("exercise %d · %s", n, s.literal(ex.Title))
	s.Say("Your code: %s", ex.Stub)
	checkErr := ex.Check(s)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	fmt.Fprintln(s.Writer())
	if checkErr == nil {
		s.verdict(true, s.T("PASS: exercise %d works", n))
		return nil
	}
	s.verdict(false, s.T("FAIL: exercise %d: %s", n, s.reason(checkErr)))
	if ex.Hint != "" {
		s.Say("%s", s.T("hint: %s", s.literal(ex.Hint)))
	}
	return &CheckFailedError{N: n, Err: checkErr}
}

// reason is why a check failed, as the verdict prints it, in the
// narration's language: what the check made with [Errorf] is translated,
// with the errors it wraps said the same way; a stub not filled in yet is
// the kit's to say, behind what the check wrapped it in (the function's
// name, the child it ran in), and is matched as text because a check may
// run the stub in a child process, which reports it as text. Any other
// error reads as it is: the kernel's, a child's.
func (n *Narrator) reason(err error) string {
	if r, ok := err.(*reasonError); ok {
		args := make([]any, len(r.args))
		for i, a := range r.args {
			if e, ok := a.(error); ok && e != nil {
				a = n.reason(e)
			}
			args[i] = a
		}
		format := r.format
		if hasWords(format) {
			if t, ok := n.lookup(format); ok {
				format = t
			}
		}
		text := fmt.Sprintf(wrapAsV(format), args...)
		if n.lang != English {
			n.frags[text] = fragment{Format: wrapAsV(r.format), Args: args}
		}
		return text
	}
	text := err.Error()
	if m := todoText.FindStringSubmatch(text); m != nil && !errors.As(err, new(*reasonError)) {
		num, _ := strconv.Atoi(m[2])
		if m[1] == "" {
			return n.T("not written yet: the function still returns kit.TODO(%d)", num)
		}
		return n.T("%s: not written yet: the function still returns kit.TODO(%d)", m[1], num)
	}
	// An error that wraps others (fmt.Errorf's %w, errors.Join): each
	// one it wraps, said in this language, in place of its English.
	var inner []error
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		inner = []error{u.Unwrap()}
	case interface{ Unwrap() []error }:
		inner = u.Unwrap()
	}
	for _, e := range inner {
		if e == nil {
			continue
		}
		en, said := e.Error(), n.reason(e)
		if i := strings.LastIndex(text, en); i >= 0 && said != en {
			text = text[:i] + said + text[i+len(en):]
		}
	}
	return text
}

// wrapAsV is format with %w, which only fmt.Errorf knows, as %v, which
// prints the same.
func wrapAsV(format string) string {
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		b.WriteByte(format[i])
		if format[i] != '%' || i+1 >= len(format) {
			continue
		}
		i++
		if format[i] == '%' {
			b.WriteByte('%')
			continue
		}
		// Flags, an argument index, a width: up to the verb's letter.
		for i < len(format) && !isVerbLetter(format[i]) {
			b.WriteByte(format[i])
			i++
		}
		if i < len(format) {
			if format[i] == 'w' {
				b.WriteByte('v')
			} else {
				b.WriteByte(format[i])
			}
		}
	}
	return b.String()
}

// todoText is a stub's error ([TODO]) at the end of a reason, and what it
// was wrapped in.
var todoText = regexp.MustCompile(`^(?s:(.*): )?not written yet: the function still returns kit\.TODO\((\d+)\)$`)

// verdict prints PASS or FAIL, in green or red on a terminal.
func (n *Narrator) verdict(pass bool, text string) {
	c := n.warn
	if pass {
		c = n.pass
	}
	for _, l := range strings.Split(text, "\n") {
		fmt.Fprint(n.w, indent)
		c.Fprint(n.w, l)
		fmt.Fprintln(n.w)
	}
}

// listExercises prints the table of exercises, a title that would not fit
// the columns folded onto the lines under it.
func listExercises(s *Session, l *Lesson) {
	header := []string{"exercise", "what to build", "your code"}
	room := Columns - len(indent) - Width(s.literal(header[0])) - 2 - 2
	for _, ex := range l.Exercises {
		room = min(room, Columns-len(indent)-Width(s.literal(header[0]))-2-
			max(Width(s.literal(header[2])), Width(ex.Stub))-2)
	}
	var rows [][]string
	for i, ex := range l.Exercises {
		for j, line := range strings.Split(Wrap(s.literal(ex.Title), room), "\n") {
			if j == 0 {
				rows = append(rows, []string{strconv.Itoa(i + 1), line, ex.Stub})
			} else {
				rows = append(rows, []string{"", line, ""})
			}
		}
	}
	s.Table(header, rows)
}
