//go:build linux

package rootfs

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestUsrPath(t *testing.T) {
	for in, want := range map[string]string{
		"/lib/x86_64-linux-gnu/libc.so.6":     "usr/lib/x86_64-linux-gnu/libc.so.6",
		"/lib64/ld-linux-x86-64.so.2":         "usr/lib64/ld-linux-x86-64.so.2",
		"/usr/lib/x86_64-linux-gnu/libz.so.1": "usr/lib/x86_64-linux-gnu/libz.so.1",
		"/bin/dash":                           "usr/bin/dash",
		"/opt/lib/libfoo.so":                  "opt/lib/libfoo.so",
	} {
		if got := usrPath(in); got != want {
			t.Errorf("usrPath(%q) = %q; want %q", in, got, want)
		}
	}
}

func TestParseLdSoConf(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("ld.so.conf", "# comment\ninclude ld.so.conf.d/*.conf\n/opt/lib # trailing\n")
	write("ld.so.conf.d/a.conf", "/usr/lib/x86_64-linux-gnu\n/lib/x86_64-linux-gnu\n")
	write("ld.so.conf.d/b.conf", "include ../ld.so.conf\n/usr/local/lib\n") // a loop: read once
	got := parseLdSoConf(filepath.Join(dir, "ld.so.conf"), map[string]bool{})
	want := []string{"/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/local/lib", "/opt/lib"}
	if !slices.Equal(got, want) {
		t.Errorf("parseLdSoConf = %v; want %v", got, want)
	}
}

// TestElfDepsOfShell reads what the host's /bin/sh loads, as ldd would.

func TestElfDepsOfShell(t *testing.T) {
	sh, err := hostProgram("sh")
	if err != nil {
		t.Fatal(err)
	}
	static, err := isStaticELF(sh)
	if err != nil {
		t.Fatal(err)
	}
	deps, err := elfDeps(sh, librarySearchDirs("/etc/ld.so.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if static {
		if len(deps) != 0 {
			t.Errorf("static %s has dependencies %v", sh, deps)
		}
		return
	}
	var libc, interp bool
	for _, d := range deps {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("dependency %s does not exist", d)
		}
		libc = libc || strings.HasPrefix(filepath.Base(d), "libc.so")
		interp = interp || strings.HasPrefix(filepath.Base(d), "ld-")
	}
	if !libc || !interp {
		t.Errorf("elfDeps(%s) = %v; want the C library and the program interpreter", sh, deps)
	}
}

func TestPlanHostIsStable(t *testing.T) {
	p1, err := planFor(context.Background(), Host)
	if err != nil {
		t.Fatal(err)
	}
	p2, _ := planFor(context.Background(), Host)
	k1, err := p1.key()
	if err != nil {
		t.Fatal(err)
	}
	if k2, _ := p2.key(); k1 != k2 {
		t.Errorf("two plans of the same host have keys %s and %s", k1, k2)
	}
	var paths []string
	for _, e := range p1.entries {
		paths = append(paths, e.path)
	}
	for _, want := range []string{"usr/bin/sh", "usr/bin/ls", "bin", "tmp", "etc/passwd"} {
		if !slices.Contains(paths, want) {
			t.Errorf("host plan lacks %s", want)
		}
	}
}
