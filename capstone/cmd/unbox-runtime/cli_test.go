//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"

	"github.com/unboxlab/unbox/capstone/specconv"
)

// inproc runs the CLI in this process, with buffers.
func inproc(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(append([]string{"unbox-runtime", "--root", t.TempDir()}, args...), strings.NewReader(""), &o, &e)
	return o.String(), e.String(), code
}

func TestSpecWritesAConfigThatConverts(t *testing.T) {
	dir := t.TempDir()
	if _, e, code := inproc(t, "spec", "--bundle", dir); code != 0 {
		t.Fatalf("spec = %d: %s", code, e)
	}
	s, err := specconv.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := specconv.Convert(s, specconv.Options{ID: "x", Bundle: dir}); err != nil {
		t.Errorf("the written config.json does not convert: %v", err)
	}
	if _, e, code := inproc(t, "spec", "--bundle", dir); code != 1 || !strings.Contains(e, "exists already") {
		t.Errorf("spec over an existing config.json = %d %q; want it refused", code, e)
	}
}

func TestFeatures(t *testing.T) {
	out, e, code := inproc(t, "features")
	var f features.Features
	if code != 0 || json.Unmarshal([]byte(out), &f) != nil {
		t.Fatalf("features = %d %q %q", code, out, e)
	}
	if f.OCIVersionMax != specs.Version || f.Linux == nil || len(f.Linux.Namespaces) == 0 || !*f.Linux.Seccomp.Enabled {
		t.Errorf("features = %+v; want the spec version, namespaces and seccomp", f)
	}
}

// TestErrorsAsRunc: errors go to stderr as runc's logfmt line, or with
// --log to that file (a JSON line with --log-format json, which
// containerd's shim and conmon read) and the bare message to stderr; the
// exit status is 1.
func TestErrorsAsRunc(t *testing.T) {
	_, e, code := inproc(t, "state", "nope")
	if code != 1 || !regexp.MustCompile(`^time="[^"]+" level=error msg="container does not exist"\n$`).MatchString(e) {
		t.Errorf("state of nothing: %d %q; want exit 1 and runc's logfmt line", code, e)
	}
	log := filepath.Join(t.TempDir(), "log.json")
	_, e, code = inproc(t, "--log", log, "--log-format", "json", "state", "nope")
	if code != 1 || e != "container does not exist\n" {
		t.Errorf("with --log: %d %q; want the bare message on stderr", code, e)
	}
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	var entry struct{ Level, Msg, Time string }
	if err := json.Unmarshal(b, &entry); err != nil || entry.Level != "error" || entry.Msg != "container does not exist" {
		t.Errorf("--log-format json wrote %q (%v); want {level: error, msg: ...}", b, err)
	}
	if _, err := time.Parse(time.RFC3339, entry.Time); err != nil {
		t.Errorf("log time %q: %v", entry.Time, err)
	}
	if _, e, code := inproc(t, "--log-format", "xml", "state", "nope"); code != 1 || !strings.Contains(e, "want text or json") {
		t.Errorf("--log-format xml = %d %q", code, e)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"state"}, {"start"}, {"delete"}, {"kill"}, {"kill", "a", "b", "c"}, {"create"}, {"exec"}} {
		if _, e, code := inproc(t, args...); code != 1 || !strings.Contains(e, "usage: unbox-runtime "+args[0]) {
			t.Errorf("unbox-runtime %s = %d %q; want exit 1 and the usage", strings.Join(args, " "), code, e)
		}
	}
	if out, _, code := inproc(t, "--version"); code != 0 || !strings.Contains(out, "unbox-runtime version "+version) {
		t.Errorf("--version = %d %q", code, out)
	}
}

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]int{"KILL": 9, "SIGTERM": 15, "9": 9, "hup": 1, "SIGRTMIN": 34, "RTMIN+2": 36, "SIGRTMAX-1": 63} {
		if got, err := parseSignal(in); err != nil || int(got) != want {
			t.Errorf("parseSignal(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "SIGNOPE", "0", "65"} {
		if _, err := parseSignal(bad); err == nil {
			t.Errorf("parseSignal(%q) = nil error; want one", bad)
		}
	}
}
