//go:build linux

package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/kit/kittest"
	"github.com/unboxlab/unbox/internal/reexec"
)

// quickStart is the README's first capstone command, as a person types
// it on a fresh clone: nothing built, the default cgo settings of go run
// (a dynamically linked binary, since archive/tar links os/user), the
// engine's default directories.
var quickStart = []string{"go", "run", "-exec", "sudo", "./capstone/cmd/unbox", "run", "--rm", "unbox/busybox", "echo", "hello"}

func init() { reexec.Register("quickstart", quickStartStage) }

// quickStartStage runs the quick start in a mount namespace of its own in
// which /var/lib and /run are empty tmpfs mounts: the engine's default
// directories there are the test's, made from nothing, and the machine's
// own /var/lib/unbox is never touched.
func quickStartStage(c *reexec.Conn) error {
	if err := unix.Mount("", "/", "", unix.MS_PRIVATE|unix.MS_REC, ""); err != nil {
		return err
	}
	for _, d := range []string{"/var/lib", "/run"} {
		if err := unix.Mount("tmpfs", d, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=755"); err != nil {
			return err
		}
	}
	return c.Exec(c.Args, os.Environ())
}

var needGo = kit.Need{
	Name:  "the go command",
	Check: func() error { _, err := exec.LookPath(goTool()); return err },
	Fix:   "install Go (the VM lane has none: this test runs on the host lane)",
}

var needSudo = kit.Need{
	Name:  "sudo",
	Check: func() error { _, err := exec.LookPath("sudo"); return err },
	Fix:   "apt-get install sudo (.ci/run installs it)",
}

// TestPrivQuickStart runs exactly the quick start's command, from the
// repository's root, and checks it prints hello and leaves nothing.
func TestPrivQuickStart(t *testing.T) {
	newEnv(t)
	kittest.Require(t, needGo, needSudo)
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{goTool()}, quickStart[1:]...)
	child := reexec.NewChild("quickstart", args...)
	child.Cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWNS, Pdeathsig: syscall.SIGKILL}
	child.Cmd.Dir = root
	child.Cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(goTool())+":"+os.Getenv("PATH"))
	var out, errb bytes.Buffer
	child.Cmd.Stdout, child.Cmd.Stderr = &out, &errb
	if err := child.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	err = child.Wait()
	if err != nil || out.String() != "hello\n" {
		t.Fatalf("%s: %v\nstdout: %s\nstderr: %s", strings.Join(quickStart, " "), err, out.String(), errb.String())
	}
}

// TestQuickStartInREADMEs: the command TestPrivQuickStart types is the one
// both READMEs give, as it stands.
func TestQuickStartInREADMEs(t *testing.T) {
	want := strings.Join(quickStart, " ")
	for _, readme := range []string{"../../../README.md", "../../README.md"} {
		b, err := os.ReadFile(readme)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), "```sh\n"+want+"\n```") {
			t.Errorf("%s has no sh block with the quick start:\n%s", readme, want)
		}
	}
}
