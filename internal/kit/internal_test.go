//go:build linux

package kit

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestUseColor(t *testing.T) {
	env := func(kv ...string) func(string) (string, bool) {
		return func(k string) (string, bool) {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1], true
				}
			}
			return "", false
		}
	}
	for _, c := range []struct {
		name     string
		terminal bool
		lookup   func(string) (string, bool)
		want     bool
	}{
		{"terminal", true, env(), true},
		{"pipe", false, env(), false},
		{"NO_COLOR", true, env("NO_COLOR", "1"), false},
		{"empty NO_COLOR", true, env("NO_COLOR", ""), true},
		{"dumb terminal", true, env("TERM", "dumb"), false},
	} {
		if got := useColor(c.terminal, c.lookup); got != c.want {
			t.Errorf("useColor(%s) = %v; want %v", c.name, got, c.want)
		}
	}
}

func TestLookupEnviron(t *testing.T) {
	environ := []byte("HOME=/root\x00NO_COLOR=1\x00EMPTY=\x00A=b=c\x00")
	for _, c := range []struct {
		key, want string
		ok        bool
	}{
		{"NO_COLOR", "1", true},
		{"EMPTY", "", true},
		{"A", "b=c", true},
		{"NO", "", false},
	} {
		got, ok := lookupEnviron(environ, c.key)
		if got != c.want || ok != c.ok {
			t.Errorf("lookupEnviron(%q) = %q, %v; want %q, %v", c.key, got, ok, c.want, c.ok)
		}
	}
}

func TestParentOf(t *testing.T) {
	if got := parentOf(os.Getpid()); got != os.Getppid() {
		t.Errorf("parentOf(self) = %d; want %d", got, os.Getppid())
	}
}

func TestSelectSteps(t *testing.T) {
	l := &Lesson{Steps: []Step{{}, {}, {Requires: []int{1}}, {}}}
	for _, c := range []struct {
		stop, only int
		want       []int
		err        bool
	}{
		{0, 0, []int{0, 1, 2, 3}, false},
		{2, 0, []int{0, 1}, false},
		{0, 2, []int{1}, false},
		{0, 3, []int{0, 2}, false},
		{5, 0, nil, true},
		{0, -1, nil, true},
		{1, 1, nil, true},
	} {
		got, err := selectSteps(l, c.stop, c.only)
		if (err != nil) != c.err || !slices.Equal(got, c.want) {
			t.Errorf("selectSteps(--step %d, --only %d) = %v, %v; want %v (error %v)", c.stop, c.only, got, err, c.want, c.err)
		}
	}
}

func TestRenderTable(t *testing.T) {
	got := RenderTable([]string{"need", "found"}, [][]string{{"root", "running as uid 1000"}, {"overlayfs", "ok"}})
	want := "need       found\n" +
		"------------------------------\n" +
		"root       running as uid 1000\n" +
		"overlayfs  ok"
	if got != want {
		t.Errorf("RenderTable = \n%s\nwant\n%s", got, want)
	}
}

func TestFlagNames(t *testing.T) {
	if got, want := CloneFlagNames(unix.CLONE_NEWUTS|unix.CLONE_NEWPID), "CLONE_NEWUTS|CLONE_NEWPID"; got != want {
		t.Errorf("CloneFlagNames = %q; want %q", got, want)
	}
	if got, want := MountFlagNames(unix.MS_BIND|unix.MS_REC|unix.MS_RDONLY), "MS_RDONLY|MS_BIND|MS_REC"; got != want {
		t.Errorf("MountFlagNames = %q; want %q", got, want)
	}
	if got, want := MountFlagNames(0), "0"; got != want {
		t.Errorf("MountFlagNames(0) = %q; want %q", got, want)
	}
}

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
	p1, err := planRootfs(context.Background(), SourceHost)
	if err != nil {
		t.Fatal(err)
	}
	p2, _ := planRootfs(context.Background(), SourceHost)
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
