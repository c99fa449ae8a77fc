package kittest

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/unboxlab/unbox/internal/kit"
)

var update = flag.Bool("update", false, "rewrite golden files (and README transcripts) from this run")

// Updating reports whether -update was given.
func Updating() bool { return *update }

// Rule rewrites what varies between runs into a placeholder: each match of
// Re becomes Repl (with $1 expansion), or Fn(match) when Fn is set.
type Rule struct {
	Re   *regexp.Regexp
	Repl string
	Fn   func(string) string
}

// Literal replaces every occurrence of s (a temp dir, the host's name).
func Literal(s, repl string) Rule {
	return Rule{Re: regexp.MustCompile(regexp.QuoteMeta(s)), Repl: repl}
}

// Word replaces s where it stands as a whole word.
func Word(s, repl string) Rule {
	return Rule{Re: regexp.MustCompile(`\b` + regexp.QuoteMeta(s) + `\b`), Repl: repl}
}

// DefaultRules normalise what varies in every lesson's output. Lessons print
// host PIDs as "host pid N" and name host objects with kit.UniqueName, so
// these rules find them.
var DefaultRules = []Rule{
	// Namespace inode numbers: proc_alloc_inum starts them at 0xF0000000.
	{Re: regexp.MustCompile(`\b4026\d{6}\b`), Repl: "<inode>"},
	{Re: regexp.MustCompile(`\bhost pid \d+`), Repl: "host pid <pid>"},
	// The same in the Chinese narration.
	{Re: regexp.MustCompile(`宿主机 pid \d+`), Repl: "宿主机 pid <pid>"},
	// t.TempDir(): <tmp>/TestName1234567/001.
	{Re: regexp.MustCompile(regexp.QuoteMeta(os.TempDir()) + `/Test\w*?\d+/\d{3}`), Repl: "<tmpdir>"},
	// kit.UniqueName: unbox-<what>-<pid>.
	{Re: regexp.MustCompile(`\b(unbox|ubx)-([a-z0-9]+)-\d+\b`), Repl: "$1-$2-<pid>"},
	{Re: regexp.MustCompile(`\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)`), Repl: "<time>"},
	{Re: regexp.MustCompile(`\b\d+(\.\d+)?(ns|µs|us|ms)\b|\b\d+\.\d+s\b`), Repl: "<duration>"},
}

// Normalize applies DefaultRules, then rules, in order.
func Normalize(s string, rules ...Rule) string {
	for _, r := range append(append([]Rule{}, rules...), DefaultRules...) {
		if r.Fn != nil {
			s = r.Re.ReplaceAllStringFunc(s, r.Fn)
		} else {
			s = r.Re.ReplaceAllString(s, r.Repl)
		}
	}
	return s
}

// Golden compares got with the golden file at path, or rewrites the file
// with -update. got should already be normalised. Every line must fit in
// kit.Columns terminal columns (a CJK character takes two), whichever way.
func Golden(t testing.TB, path, got string) {
	t.Helper()
	CheckColumns(t, path, got)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatalf("update golden: %v", err)
		}
		t.Logf("updated %s", path)
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		// Printed whole, so that a golden for a host one cannot update on
		// (pure cgroup v2, in the VM lane) can be taken from the output.
		t.Fatalf("read golden: %v (run the test with -update to create it); this run printed:\n%s", err, got)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run with -update if the change is intended):\n%s", path, diff(string(want), got))
	}
}

// CheckColumns fails the test for every line of text (named name in the
// message) wider than kit.Columns terminal columns.
func CheckColumns(t testing.TB, name, text string) {
	t.Helper()
	for i, line := range strings.Split(text, "\n") {
		if w := kit.Width(line); w > kit.Columns {
			t.Errorf("%s:%d is %d columns wide; want %d at most:\n%s", name, i+1, w, kit.Columns, line)
		}
	}
}

// CheckGoldenColumns checks every golden file under testdata/ with
// CheckColumns: a pure test each lesson runs, so that a golden that grew too
// wide fails without root.
func CheckGoldenColumns(t testing.TB) {
	t.Helper()
	CheckFilesColumns(t, "testdata/*.golden")
}

// CheckFilesColumns checks every file that pattern (a filepath.Glob)
// matches with CheckColumns, and fails if none does.
func CheckFilesColumns(t testing.TB, pattern string) {
	t.Helper()
	paths, err := filepath.Glob(pattern)
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatalf("no file matches %s", pattern)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		CheckColumns(t, p, string(b))
	}
}

// SameAs fails the test unless got, already normalised, is the golden file
// at path. Unlike Golden it never rewrites the file: it checks one run
// against a golden another test owns (a translated run, told again in
// English, against the English golden).
func SameAs(t testing.TB, path, got, what string) {
	t.Helper()
	want, err := os.ReadFile(path)
	if err != nil {
		t.Errorf("read golden: %v", err)
		return
	}
	if got != string(want) {
		t.Errorf("%s differs from %s:\n%s", what, path, diff(string(want), got))
	}
}

// Transcript markers in a README: the fenced block between them is the
// golden file's content, verbatim.
const (
	transcriptStart = "<!-- transcript: %s -->"
	transcriptEnd   = "<!-- /transcript -->"
)

// READMETranscript checks that the README's transcript block is the golden
// file at goldenPath, or rewrites the block with -update.
func READMETranscript(t testing.TB, readmePath, goldenPath string) {
	t.Helper()
	readme, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	golden, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatalf("read golden: %v", err)
	}
	start := fmt.Sprintf(transcriptStart, goldenPath)
	text := string(readme)
	i := strings.Index(text, start)
	j := strings.Index(text, transcriptEnd)
	if i < 0 || j < i {
		t.Fatalf("%s has no transcript block: want a line %q, a ``` fence with the transcript, and %q", readmePath, start, transcriptEnd)
	}
	block := "\n```text\n" + string(golden) + "```\n"
	if *update {
		text = text[:i+len(start)] + block + text[j:]
		if err := os.WriteFile(readmePath, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got := text[i+len(start) : j]; got != block {
		t.Errorf("%s transcript differs from %s (run the golden test with -update):\n%s", readmePath, goldenPath, diff(block, got))
	}
}

// diff shows the first differing lines of want and got, enough to see what
// changed without a diff library.
func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl == gl {
			continue
		}
		fmt.Fprintf(&b, "line %d:\n  want: %q\n  got:  %q\n", i+1, wl, gl)
		if shown++; shown == 10 {
			b.WriteString("  ...\n")
			break
		}
	}
	return b.String()
}

// CheckCatalog is a pure test of a lesson's catalog (the text of its PO
// file): it parses, and every translation takes the same arguments with the
// same verbs as its English key, so it prints the same evidence.
func CheckCatalog(t testing.TB, po string) {
	t.Helper()
	c, err := kit.ParsePO(po)
	if err != nil {
		t.Fatal(err)
	}
	if len(c) == 0 {
		t.Fatal("the catalog has no translations")
	}
	for k, v := range c {
		if err := kit.SameVerbs(k, v); err != nil {
			t.Errorf("msgid %q: %v", k, err)
		}
	}
}
