package kittest

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/unboxlab/unbox/internal/kit"
)

// LessonCommand returns a command that runs this test binary as the lesson
// itself, with args, exactly as `go run ./lessons/<name> args...` would
// (kittest.Main hands it to the lesson's run). Tests use it for what only a
// real process shows: exit statuses, signals, standard input, another user.
func LessonCommand(t testing.TB, name string, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Args[0] = name
	// English, whatever the locale of whoever runs the tests (--lang in
	// args still wins).
	cmd.Env = append(os.Environ(), asLessonEnv+"=1", kit.LangEnv+"="+kit.English)
	return cmd
}

// AsUser makes cmd run as uid:gid, from a copy of the binary that user can
// read (go test's build directory is private to the user who built it).
func AsUser(t testing.TB, cmd *exec.Cmd, uid, gid uint32) {
	t.Helper()
	dir, err := os.MkdirTemp("", "unbox-test-bin-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	copyPath := filepath.Join(dir, filepath.Base(cmd.Path))
	if err := copyExecutable(cmd.Path, copyPath); err != nil {
		t.Fatal(err)
	}
	cmd.Path = copyPath
	cmd.Dir = dir
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uid, Gid: gid, NoSetGroups: true}
}

func copyExecutable(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// CheckNeedsTable runs the whole lesson as the unprivileged user nobody and
// fails the test unless it stops before its first step, with exit status 2,
// a needs table that says root is missing and how to run it as root, plus
// each of want, and no stack trace. The caller must be root (to switch user).
func CheckNeedsTable(t testing.TB, l *kit.Lesson, want ...string) {
	t.Helper()
	cmd := LessonCommand(t, l.Name)
	AsUser(t, cmd, 65534, 65534)
	out, errs, status := RunProcess(t, cmd)
	if status != 2 {
		t.Fatalf("exit status as nobody = %d; want 2\nstdout:\n%s\nstderr:\n%s", status, out, errs)
	}
	want = append([]string{"root", "running as uid 65534", "go run -exec sudo ./lessons/" + l.Name}, want...)
	for _, w := range want {
		if !strings.Contains(errs, w) {
			t.Errorf("stderr lacks %q:\n%s", w, errs)
		}
	}
	for _, bad := range []string{"goroutine ", "panic", ".go:"} {
		if strings.Contains(errs, bad) {
			t.Errorf("stderr has %q, a stack trace:\n%s", bad, errs)
		}
	}
	if strings.Contains(out, "Step 1/") {
		t.Errorf("a step ran before the needs were checked:\n%s", out)
	}
}
