// Package kittest is the test side of the lesson kit: the three tiers of
// tests and the checks that keep them honest.
//
//   - Pure tests run anywhere and need nothing from this package.
//   - Privileged tests start with [Privileged] (or [Require]): they skip with
//     the reason when the host lacks root or a feature, and
//     UNBOX_REQUIRE_PRIVILEGED=1 turns every such skip into a failure, so a
//     green CI run cannot mean "everything skipped". Their names start with
//     TestPriv, so `go test -run '^TestPriv'` selects them (the VM lane does).
//   - Every privileged test gets a leak check: what it leaves on the host
//     (mounts, network links, cgroups, namespaces, processes) fails it.
//
// Transcripts are checked against golden files ([Golden], with -update), and
// a lesson's README against its golden ([READMETranscript]).
//
// A lesson's tests start with
//
//	func TestMain(m *testing.M) { kittest.Main(m, run) }
//
// which serves the re-exec'd children of the test binary and lets tests run
// the binary as the lesson itself ([LessonCommand]).
package kittest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/reexec"
)

// RequireEnv is the switch that turns privileged skips into failures.
const RequireEnv = "UNBOX_REQUIRE_PRIVILEGED"

// asLessonEnv makes the test binary behave as the lesson's own main.
const asLessonEnv = "_UNBOX_TEST_AS_LESSON"

// missingEnv names the file where the test binary, run as the lesson,
// writes the keys its narration found no translation for (a JSON list), for
// a test that runs it in another language as its own process.
const missingEnv = "_UNBOX_TEST_MISSING"

// recordMissing is run with a recorder, which writes what it missed to
// path before the lesson exits.
func recordMissing(run kit.RunFunc, path string) kit.RunFunc {
	return func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
		rec := &kit.Recorder{}
		err := run(kit.WithRecorder(ctx, rec), args, stdin, stdout, stderr)
		b, jerr := json.Marshal(append([]string{}, rec.Missing()...))
		if jerr == nil {
			jerr = os.WriteFile(path, b, 0o644)
		}
		if jerr != nil {
			fmt.Fprintln(stderr, "kittest: record the missing translations:", jerr)
		}
		return err
	}
}

// readMissing reads what [recordMissing] wrote.
func readMissing(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("the lesson did not say which translations it missed: %w", err)
	}
	var missing []string
	return missing, json.Unmarshal(b, &missing)
}

// Main is a lesson package's TestMain. run is the lesson's run function, or
// nil for a package that is not a lesson.
func Main(m *testing.M, run kit.RunFunc) {
	reexec.Init()
	if os.Getenv(asLessonEnv) == "1" && run != nil {
		if path := os.Getenv(missingEnv); path != "" {
			run = recordMissing(run, path)
		}
		kit.Main(run)
	}
	unlock, err := lockHost()
	if err != nil {
		fmt.Fprintln(os.Stderr, "kittest:", err)
		os.Exit(1)
	}
	code := m.Run()
	unlock()
	os.Exit(code)
}

// RequirePrivileged reports whether skips of privileged tests must fail.
// It is read through sudo too, since `go test -exec sudo` drops it.
func RequirePrivileged() bool {
	v, _ := kit.UserEnv(RequireEnv)
	return v == "1"
}

// Require skips the test when a need is missing, with the reason and how to
// get it, or fails it when UNBOX_REQUIRE_PRIVILEGED=1.
func Require(t testing.TB, needs ...kit.Need) {
	t.Helper()
	missing := kit.MissingNeeds(needs)
	if len(missing) == 0 {
		return
	}
	msg := "privileged test needs"
	for _, m := range missing {
		msg += fmt.Sprintf("\n  %s: %v (%s)", m.Name, m.Reason, m.Fix)
	}
	if RequirePrivileged() {
		t.Fatalf("%s\n%s=1: this skip is a failure", msg, RequireEnv)
	}
	t.Skip(msg)
}

// Privileged is how a privileged test starts: root and the other needs
// (skip or fail, as [Require]), then a leak check that fails the test if it
// leaves anything of ours on the host.
func Privileged(t *testing.T, needs ...kit.Need) {
	t.Helper()
	Require(t, append([]kit.Need{kit.NeedRoot}, needs...)...)
	NoLeaks(t)
}

// NoLeaksOf is a leak check for host objects that [NoLeaks] cannot list
// itself (a concept package's, such as nftables tables): list runs now and
// again when the test ends, after its own cleanups, and anything new in the
// second list fails the test, with kind in the message.
func NoLeaksOf(t *testing.T, kind string, list func() ([]string, error)) {
	t.Helper()
	before, err := list()
	if err != nil {
		t.Fatalf("leak check of %s: %v", kind, err)
	}
	t.Cleanup(func() {
		var leaked []string
		for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			now, err := list()
			if err != nil {
				t.Errorf("leak check of %s: %v", kind, err)
				return
			}
			leaked = slices.DeleteFunc(now, func(x string) bool { return slices.Contains(before, x) })
			if len(leaked) == 0 || time.Now().After(deadline) {
				break
			}
		}
		if len(leaked) > 0 {
			t.Errorf("leak check: left on the host after the test (%s):\n  %s", kind, strings.Join(leaked, "\n  "))
		}
	})
}
