package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// bootLog is what one boot reported over the serial port, parsed.
type bootLog struct {
	Mode     string
	Booted   bool // the kernel started /init
	Ready    bool // /init set up and was about to run the tests
	Done     bool // /init ran every binary and said so
	Fatal    []string
	Info     map[string]string
	Dmesg    []string
	Packages []*packageRun
	Lines    []string // every line, for the tail of a crash

	Start, BootedAt, ReadyAt, End time.Time
	Attempts                      int
	HostErr                       error // qemu failed, or a timeout
}

// packageRun is one test binary's run in one boot.
type packageRun struct {
	Pkg        string
	Exited     bool
	ExitCode   int
	Results    []testResult
	Output     map[string][]string // lines per test name ("" before any)
	Lines      []string
	Running    string // the last test that started
	Start, End time.Time
}

type testResult struct {
	Name, Status, Elapsed string // Status: PASS, FAIL or SKIP
}

func (p *packageRun) result(name string) (testResult, bool) {
	for _, r := range p.Results {
		if r.Name == name {
			return r, true
		}
	}
	return testResult{}, false
}

// serialParser turns the guest's console output into a bootLog, line by
// line, as it arrives. Lines starting with ^V are the test binary's own
// framing (-test.v=test2json: the test2json(1) protocol, which marks
// "=== RUN", "--- PASS" and the like so that printed text cannot pass for
// them); lines with our token are the init's markers; anything else is
// output, attributed to the test that was running.
type serialParser struct {
	token  string
	log    *bootLog
	cur    *packageRun
	test   string
	now    func() time.Time
	onLine func(p *packageRun, r testResult) // a test finished (for progress)
}

const framing = "\x16"

func (sp *serialParser) feed(line string) {
	line = strings.TrimRight(line, "\r\n")
	line = strings.ReplaceAll(line, "\r", "")
	sp.log.Lines = append(sp.log.Lines, line)
	marker := "@@vmtest " + sp.token + " "
	if i := strings.Index(line, marker); i >= 0 {
		if i > 0 {
			sp.output(line[:i])
		}
		sp.marker(line[i+len(marker):])
		return
	}
	if f, ok := strings.CutPrefix(line, framing); ok && sp.cur != nil {
		sp.frame(f)
		return
	}
	sp.output(line)
}

func (sp *serialParser) output(line string) {
	if sp.cur == nil {
		return
	}
	sp.cur.Lines = append(sp.cur.Lines, line)
	sp.cur.Output[sp.test] = append(sp.cur.Output[sp.test], line)
}

func (sp *serialParser) marker(m string) {
	kind, rest, _ := strings.Cut(m, " ")
	now := sp.now()
	switch kind {
	case "booted":
		sp.log.Booted, sp.log.BootedAt = true, now
	case "ready":
		sp.log.Ready, sp.log.ReadyAt = true, now
	case "info":
		key, val, _ := strings.Cut(rest, " ")
		sp.log.Info[key] = val
	case "fatal":
		sp.log.Fatal = append(sp.log.Fatal, rest)
	case "dmesg":
		sp.log.Dmesg = append(sp.log.Dmesg, rest)
	case "start":
		sp.cur = &packageRun{Pkg: rest, Output: map[string][]string{}, Start: now}
		sp.test = ""
		sp.log.Packages = append(sp.log.Packages, sp.cur)
	case "exit":
		pkg, code, _ := strings.Cut(rest, " ")
		if sp.cur != nil && sp.cur.Pkg == pkg {
			sp.cur.Exited, sp.cur.End = true, now
			sp.cur.ExitCode, _ = strconv.Atoi(code)
		}
		sp.cur = nil
	case "done":
		sp.log.Done = true
	}
}

// frame handles one test2json framing line.
func (sp *serialParser) frame(f string) {
	switch {
	case strings.HasPrefix(f, "=== "):
		// === RUN   TestX, === CONT  TestX, === NAME  TestX (or nothing:
		// back to the package), === PAUSE TestX
		kind, name, _ := strings.Cut(f[len("=== "):], " ")
		name = strings.TrimSpace(name)
		switch kind {
		case "RUN":
			sp.cur.Running = name
			sp.test = name
		case "CONT", "NAME":
			sp.test = name
		}
	case strings.HasPrefix(f, "--- "):
		// --- PASS: TestX (0.01s)
		status, rest, ok := strings.Cut(f[len("--- "):], ": ")
		if !ok {
			return
		}
		name, elapsed, _ := strings.Cut(rest, " ")
		r := testResult{Name: name, Status: status, Elapsed: strings.Trim(elapsed, "()")}
		sp.cur.Results = append(sp.cur.Results, r)
		if sp.onLine != nil {
			sp.onLine(sp.cur, r)
		}
	}
}

// verdict is the outcome for one package in one mode.
type verdict struct {
	Mode, Pkg                 string
	Passed, Skipped, Failed   int
	Excluded                  int
	NotInMode                 bool     // limited to other modes (exclusions.go)
	Problems                  []string // why this package failed, beyond test results
	Elapsed                   time.Duration
	FailedTests, SkippedTests []string
}

// judge compares what ran with what should have: every TestPriv test of the
// package that is not excluded must report PASS (subtests too: a skipped
// subtest is a skip), the binary must exit 0, and its markers must be there.
func judge(b *bootLog, p *testPackage) verdict {
	v := verdict{Mode: b.Mode, Pkg: p.Rel, Excluded: len(p.Excluded)}
	if p.BuildErr != nil {
		v.Problems = append(v.Problems, "did not build: "+firstLine(p.BuildErr.Error()))
		return v
	}
	if !p.runsIn(b.Mode) {
		v.NotInMode = true
		for _, r := range b.Packages {
			if r.Pkg == p.Rel {
				v.Problems = append(v.Problems, "ran in a mode it is limited out of")
			}
		}
		return v
	}
	var run *packageRun
	for _, r := range b.Packages {
		if r.Pkg == p.Rel {
			run = r
		}
	}
	if run == nil {
		v.Problems = append(v.Problems, "never started in the VM")
		return v
	}
	if !run.End.IsZero() {
		v.Elapsed = run.End.Sub(run.Start)
	}
	for _, r := range run.Results {
		switch r.Status {
		case "PASS":
			v.Passed++
		case "SKIP":
			v.Skipped++
			v.SkippedTests = append(v.SkippedTests, r.Name)
		default:
			v.Failed++
			v.FailedTests = append(v.FailedTests, r.Name)
		}
	}
	for _, t := range p.Tests {
		if slices.ContainsFunc(p.Excluded, func(e exclusion) bool { return e.Test == t }) {
			if _, ran := run.result(t); ran {
				v.Problems = append(v.Problems, t+" is excluded but ran")
			}
			continue
		}
		if _, ok := run.result(t); !ok {
			v.Problems = append(v.Problems, t+" reported no result")
		}
	}
	switch {
	case !run.Exited:
		msg := "the test binary never finished"
		if run.Running != "" {
			msg += " (last test started: " + run.Running + ")"
		}
		v.Problems = append(v.Problems, msg)
	case run.ExitCode != 0 && v.Failed == 0:
		v.Problems = append(v.Problems, fmt.Sprintf("the test binary exited with status %d", run.ExitCode))
	}
	return v
}

func (v verdict) ok() bool {
	return v.Failed == 0 && v.Skipped == 0 && len(v.Problems) == 0
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}
