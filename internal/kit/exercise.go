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
		s.Title("unbox lesson %s: exercises", s.literal(l.Title))
		listExercises(s, l)
		fmt.Fprintln(s.Writer())
		s.Say("Check one with: go run -exec sudo ./lessons/%s check N", l.Name)
		return nil
	}
	if c.NArg() > 1 {
		// Flags go before check: `--lang zh check 2`, not `check 2 --lang zh`.
		return fmt.Errorf("check %s: one exercise number, then nothing (flags such as --lang go before check)",
			strings.Join(c.Args().Slice(), " "))
	}
	n, convErr := strconv.Atoi(c.Args().First())
	if convErr != nil || n < 1 || n > len(l.Exercises) {
		return fmt.Errorf("check %s: this lesson has exercises 1 to %d (run check alone to list them)",
			c.Args().First(), len(l.Exercises))
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
	s.Title("unbox lesson %s: exercise %d · %s", s.literal(l.Title), n, s.literal(ex.Title))
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

// reason is why a check failed, as the verdict prints it. A stub not
// filled in yet is the kit's to say, so it is said in the narration's
// language, behind what the check wrapped it in (the function's name, the
// child it ran in); it is matched as text because a check may run the stub
// in a child process, which reports it as text. Any other reason is the
// check's own.
func (n *Narrator) reason(err error) string {
	m := todoText.FindStringSubmatch(err.Error())
	if m == nil {
		return err.Error()
	}
	num, _ := strconv.Atoi(m[2])
	if m[1] == "" {
		return n.T("not written yet: the function still returns kit.TODO(%d)", num)
	}
	return n.T("%s: not written yet: the function still returns kit.TODO(%d)", m[1], num)
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

func listExercises(s *Session, l *Lesson) {
	rows := make([][]string, len(l.Exercises))
	for i, ex := range l.Exercises {
		rows[i] = []string{strconv.Itoa(i + 1), s.literal(ex.Title), ex.Stub}
	}
	s.Table([]string{"exercise", "what to build", "your code"}, rows)
}
