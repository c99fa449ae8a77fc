//go:build linux

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/unboxlab/unbox/capstone/image"
	"github.com/unboxlab/unbox/capstone/image/registrytest"
	"github.com/unboxlab/unbox/internal/kit/kittest"
)

// registryCLI runs unbox's commands in this process, with its root, state
// and configuration in dir: what a person types, and what they see.
func registryCLI(t *testing.T, dir string) func(stdin string, args ...string) (stdout, stderr string, code int) {
	global := []string{"unbox", "--root", filepath.Join(dir, "root"), "--state", filepath.Join(dir, "state"), "--config", filepath.Join(dir, "etc")}
	return func(stdin string, args ...string) (string, string, int) {
		t.Helper()
		var out, errOut bytes.Buffer
		code := run(append(global[:len(global):len(global)], args...), strings.NewReader(stdin), &out, &errOut)
		return out.String(), errOut.String(), code
	}
}

// matchLines fails unless each pattern matches a line of out, in order.
func matchLines(t *testing.T, what, out string, patterns ...string) {
	t.Helper()
	lines := strings.Split(out, "\n")
	i := 0
	for _, p := range patterns {
		re := regexp.MustCompile("^" + p + "$")
		for i < len(lines) && !re.MatchString(lines[i]) {
			i++
		}
		if i == len(lines) {
			t.Errorf("%s: no line matches %q (in order) in:\n%s", what, p, out)
			return
		}
		i++
	}
}

// TestPrivRegistryCommands: tag, push, pull, save, load, login and logout
// as a person types them, against registries the test starts, with
// Docker's output (a pipe: plain lines) and exit statuses.
func TestPrivRegistryCommands(t *testing.T) {
	kittest.Privileged(t)
	reg := registrytest.Start(t, registrytest.Options{})
	dir := t.TempDir()
	unbox := registryCLI(t, dir)
	ok := func(stdin string, args ...string) string {
		t.Helper()
		out, errOut, code := unbox(stdin, args...)
		if code != 0 {
			t.Fatalf("unbox %s = exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
		return out
	}
	name := reg.Host + "/cli/bb:1"
	q := regexp.QuoteMeta
	id := `[0-9a-f]{12}`
	ok("", "tag", image.Builtin, name)
	out := ok("", "push", name)
	matchLines(t, "push", out, q("The push refers to repository ["+reg.Host+"/cli/bb]"), id+": Preparing", id+": Pushed", `1: digest: sha256:[0-9a-f]{64} size: \d+`)
	out = ok("", "push", name)
	matchLines(t, "second push", out, id+": Layer already exists", `1: digest: .*`)

	ok("", "rmi", name, image.Builtin)
	out = ok("", "pull", name)
	matchLines(t, "pull", out, q("1: Pulling from cli/bb"), id+": Waiting", id+": Download complete", id+": Pull complete",
		`Digest: sha256:[0-9a-f]{64}`, q("Status: Downloaded newer image for "+name), q(name))
	if strings.Contains(out, "\x1b") {
		t.Errorf("pull into a pipe drew with escape sequences:\n%q", out)
	}
	out = ok("", "image", "pull", name)
	matchLines(t, "second pull", out, id+": Already exists", q("Status: Image is up to date for "+name))
	if out := ok("", "pull", "-q", name); out != name+"\n" {
		t.Errorf("pull -q = %q; want the name alone", out)
	}

	// save to a file and to stdout; load from a file and from stdin.
	archive := filepath.Join(dir, "bb.tar")
	ok("", "save", "-o", archive, name)
	ok("", "rmi", name)
	matchLines(t, "load -i", ok("", "load", "-i", archive), q("Loaded image: "+name))
	saved := ok("", "save", name)
	ok("", "rmi", name)
	matchLines(t, "load < archive", ok(saved, "load"), q("Loaded image: "+name))

	// Mirrors from the configuration file: a dead one is said, then the
	// registry serves the pull.
	dead := registrytest.FreeAddr(t)
	if err := os.MkdirAll(filepath.Join(dir, "etc"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "etc", image.EngineConfigFile), []byte(`{"mirrors": {"`+reg.Host+`": ["http://`+dead+`"]}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	ok("", "rmi", name)
	matchLines(t, "pull through a dead mirror", ok("", "pull", name), q("Mirror failed: "+dead)+`: .*`, q("Status: Downloaded newer image for "+name))

	// Errors are the engine's (125) and say what is wrong.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"pull", "Bad:Ref"}, "invalid reference format"},
		{[]string{"pull", "--platform", "linux", name}, "invalid platform"},
		{[]string{"push", reg.Host + "/not/here:1"}, "does not exist locally"},
		{[]string{"save", "-o", filepath.Join(dir, "none.tar"), "no/such:image"}, "no such image"},
		{[]string{"load", "-i", filepath.Join(dir, "missing.tar")}, "no such file"},
	} {
		_, errOut, code := unbox("", tc.args...)
		if code != exitEngine || !strings.Contains(errOut, tc.want) {
			t.Errorf("unbox %s = exit %d, %q; want %d and %q", strings.Join(tc.args, " "), code, errOut, exitEngine, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "none.tar")); !os.IsNotExist(err) {
		t.Errorf("a failed save left its output file (%v)", err)
	}
}

// TestPrivLoginLogoutCommands: login with --password-stdin stores the
// credentials at mode 0600 and says Login Succeeded; a wrong password is
// refused with exit 125; logout removes them, and says so twice apart.
func TestPrivLoginLogoutCommands(t *testing.T) {
	kittest.Privileged(t)
	reg := registrytest.Start(t, registrytest.Options{User: "unbox", Password: "pw"})
	dir := t.TempDir()
	unbox := registryCLI(t, dir)
	if out, errOut, code := unbox("wrong\n", "login", "-u", "unbox", "--password-stdin", reg.Host); code != exitEngine || !strings.Contains(errOut, "incorrect username or password") {
		t.Errorf("login with a wrong password = exit %d, %q %q; want 125, incorrect username or password", code, out, errOut)
	}
	out, errOut, code := unbox("pw\n", "login", "-u", "unbox", "--password-stdin", reg.Host)
	if code != 0 || out != "Login Succeeded\n" || !strings.Contains(errOut, "stored unencrypted") {
		t.Fatalf("login = exit %d, %q, %q; want Login Succeeded and the warning", code, out, errOut)
	}
	fi, err := os.Stat(filepath.Join(dir, "etc", image.CredentialsFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("config.json after login: %v, %v; want mode 0600", fi, err)
	}
	if _, errOut, code := unbox("", "login", "-u", "unbox", "--password", "x", "--password-stdin", reg.Host); code != exitEngine || !strings.Contains(errOut, "mutually exclusive") {
		t.Errorf("login --password --password-stdin = %d, %q; want a refusal", code, errOut)
	}
	if out, _, code := unbox("", "logout", reg.Host); code != 0 || out != "Removing login credentials for "+reg.Host+"\n" {
		t.Errorf("logout = %d, %q", code, out)
	}
	if out, _, code := unbox("", "logout", reg.Host); code != 0 || out != "Not logged in to "+reg.Host+"\n" {
		t.Errorf("second logout = %d, %q", code, out)
	}
}
