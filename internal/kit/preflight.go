package kit

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Need is one thing a lesson or a test needs from the host: root, a kind of
// namespace, a cgroup mode, overlayfs... Check says why it is missing (nil
// when present) and Fix tells a person how to get it. The same Need values
// drive a lesson's preflight table and a privileged test's skip message.
type Need struct {
	Name  string
	Check func() error
	// Fix is how to get it. "{run}" is replaced by the command that runs the
	// lesson as root, e.g. `go run -exec sudo ./lessons/01-namespaces`.
	Fix string
}

// Missing is a Need that failed its check, with the reason.
type Missing struct {
	Need
	Reason error
}

// MissingNeeds checks needs in order and returns those that are not met, each
// Need once even when it is listed twice.
func MissingNeeds(needs []Need) []Missing {
	var out []Missing
	seen := map[string]bool{}
	for _, n := range needs {
		if seen[n.Name] {
			continue
		}
		seen[n.Name] = true
		if err := n.Check(); err != nil {
			out = append(out, Missing{Need: n, Reason: err})
		}
	}
	return out
}

// PreflightError is what [Run] returns when a lesson's needs are not met.
// [Main] prints nothing more for it and exits with status 2.
type PreflightError struct{ Missing []Missing }

func (e *PreflightError) Error() string {
	names := make([]string, len(e.Missing))
	for i, m := range e.Missing {
		names[i] = m.Name
	}
	return "missing: " + strings.Join(names, ", ")
}

// ExitCode is 2: the lesson could not start, as opposed to a step failing (1).
func (e *PreflightError) ExitCode() int { return 2 }

// Preflight checks needs before any step runs. When some are missing it
// prints one table of what is missing and how to get it to w and returns a
// *PreflightError.
func Preflight(w io.Writer, lessonName string, needs []Need) error {
	return preflight(NewNarrator(w, false), w, lessonName, needs)
}

// preflight is Preflight in n's language (the table goes to w, not to n's
// writer: it is an error, for standard error).
func preflight(n *Narrator, w io.Writer, lessonName string, needs []Need) error {
	missing := MissingNeeds(needs)
	if len(missing) == 0 {
		return nil
	}
	rows := make([][]string, len(missing))
	for i, m := range missing {
		rows[i] = []string{n.lookupWords(m.Name), m.Reason.Error(), fixText(n.lookupWords(m.Fix), lessonName)}
	}
	header := []string{n.lookupWords("need"), n.lookupWords("found"), n.lookupWords("how to get it")}
	fmt.Fprintln(w, n.T("%s cannot run here yet. It needs:", lessonName))
	fmt.Fprintln(w)
	for _, l := range strings.Split(RenderTable(header, rows), "\n") {
		fmt.Fprintln(w, indent+l)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, n.T("Or use the Vagrant VM, where every lesson runs (see README.md, \"Vagrant lab\")."))
	return &PreflightError{Missing: missing}
}

func fixText(fix, lessonName string) string {
	return strings.ReplaceAll(fix, "{run}", "`go run -exec sudo ./lessons/"+lessonName+"`")
}

// IsPreflight reports whether err says the lesson could not start.
func IsPreflight(err error) bool {
	var p *PreflightError
	return errors.As(err, &p)
}

// NeedRoot is effective uid 0: creating most namespaces, mounting and
// cgroups all need CAP_SYS_ADMIN in the host's user namespace.
var NeedRoot = Need{
	Name: "root",
	Check: func() error {
		if uid := os.Geteuid(); uid != 0 {
			return fmt.Errorf("running as uid %d", uid)
		}
		return nil
	},
	Fix: "run it with {run}",
}
