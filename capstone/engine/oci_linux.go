package engine

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ociRuntime is a runc-compatible binary, driven over its command line as
// podman and Docker drive runc: `--root DIR create --bundle B --pid-file P
// [--console-socket S] ID`, then start, kill, delete, exec. Its errors are
// read from the JSON log it writes with --log (what conmon reads), so that
// they do not reach the container's own stderr alone.
type ociRuntime struct {
	name string // as given: --runtime runc
	path string
	root string
}

func (r *ociRuntime) Name() string { return r.name }

// run runs one command of the runtime, its stdio as given.
func (r *ociRuntime) run(ctx context.Context, stdio [3]*os.File, args ...string) error {
	if err := os.MkdirAll(r.root, 0o700); err != nil {
		return err
	}
	// Which binary keeps its state here, for a repair that finds a
	// container the engine no longer knows.
	if _, err := os.Stat(filepath.Join(r.root, ".path")); err != nil {
		os.WriteFile(filepath.Join(r.root, ".path"), []byte(r.path), 0o600)
	}
	logPath := filepath.Join(r.root, "log.json")
	os.Remove(logPath)
	cmd := exec.CommandContext(ctx, r.path, append([]string{"--root", r.root, "--log", logPath, "--log-format", "json"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdio[0], stdio[1], &stderr
	if stdio[2] != nil {
		cmd.Stderr = stdio[2]
	}
	if err := cmd.Run(); err != nil {
		msg := lastLogError(logPath)
		if msg == "" {
			msg = strings.TrimSpace(stderr.String())
		}
		if msg == "" {
			msg = err.Error()
		}
		return fmt.Errorf("%s %s: %s", filepath.Base(r.path), args[0], msg)
	}
	return nil
}

// lastLogError is the message of the last error line of a runtime's JSON
// log ({"level":"error","msg":"...","time":"..."}).
func lastLogError(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	var msg string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l struct{ Level, Msg string }
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Level == "error" {
			msg = l.Msg
		}
	}
	return msg
}

func (r *ociRuntime) Create(ctx context.Context, id, bundle string, o CreateIO) (int, error) {
	pidFile := filepath.Join(bundle, "init.pid")
	args := []string{"create", "--bundle", bundle, "--pid-file", pidFile}
	if o.ConsoleSocket != "" {
		args = append(args, "--console-socket", o.ConsoleSocket)
	}
	if err := r.run(ctx, [3]*os.File{o.Stdin, o.Stdout, o.Stderr}, append(args, id)...); err != nil {
		return 0, err
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return 0, fmt.Errorf("%s create: no PID file: %w", r.name, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("%s create: PID file %q: %w", r.name, b, err)
	}
	return pid, nil
}

func (r *ociRuntime) Start(ctx context.Context, id string) error {
	return r.run(ctx, [3]*os.File{}, "start", id)
}

func (r *ociRuntime) Kill(ctx context.Context, id string, sig unix.Signal, all bool) error {
	args := []string{"kill"}
	if all {
		args = append(args, "--all")
	}
	return r.run(ctx, [3]*os.File{}, append(args, id, strconv.Itoa(int(sig)))...)
}

func (r *ociRuntime) Delete(ctx context.Context, id string, force bool) error {
	args := []string{"delete"}
	if force {
		args = append(args, "--force")
	}
	err := r.run(ctx, [3]*os.File{}, append(args, id)...)
	// The files of execs whose caller was killed (a monitor's
	// healthcheck when rm -f killed the monitor) go with the container.
	if dirs, _ := filepath.Glob(filepath.Join(r.root, "exec-"+id+"-*")); len(dirs) > 0 {
		for _, d := range dirs {
			os.RemoveAll(d)
		}
	}
	if err != nil && strings.Contains(err.Error(), "does not exist") {
		return nil
	}
	return err
}

func (r *ociRuntime) Pause(ctx context.Context, id string) error {
	return r.run(ctx, [3]*os.File{}, "pause", id)
}

func (r *ociRuntime) Resume(ctx context.Context, id string) error {
	return r.run(ctx, [3]*os.File{}, "resume", id)
}

// Update is `runtime update --resources FILE ID`, the limits as the
// runtime-spec's JSON.
func (r *ociRuntime) Update(ctx context.Context, id string, lr *specs.LinuxResources) error {
	b, err := json.Marshal(lr)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(r.root, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(r.root, "update-"+id+"-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return r.run(ctx, [3]*os.File{}, "update", "--resources", f.Name(), id)
}

// Exec runs `runtime exec --process FILE ID` in the foreground: the
// runtime waits for the process and exits with its status. A terminal
// comes over a console socket this process listens on.
func (r *ociRuntime) Exec(ctx context.Context, id string, p *specs.Process, o ExecIO) (int, error) {
	dir, err := os.MkdirTemp(r.root, "exec-"+id+"-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	b, err := json.Marshal(p)
	if err != nil {
		return 0, err
	}
	procFile := filepath.Join(dir, "process.json")
	if err := os.WriteFile(procFile, b, 0o600); err != nil {
		return 0, err
	}
	logPath := filepath.Join(dir, "log.json")
	pidFile := filepath.Join(dir, "pid")
	args := []string{"--root", r.root, "--log", logPath, "--log-format", "json", "exec", "--process", procFile, "--pid-file", pidFile}
	var cs *consoleSocket
	if p.Terminal {
		if cs, err = listenConsole(dir); err != nil {
			return 0, err
		}
		defer cs.Close()
		args = append(args, "--tty", "--console-socket", cs.path)
	}
	cmd := exec.CommandContext(ctx, r.path, append(args, id)...)
	// A cancelled ctx (a healthcheck's timeout) kills the process in the
	// container, and its process group if it leads one, not the runtime
	// alone: `runc exec` passes no SIGKILL on.
	// The runtime is left to reap it and exit (killed itself, it would
	// leave the process a zombie under the container's init), within
	// WaitDelay; before the process is there, the runtime is killed.
	cmd.Cancel = func() error {
		if b, err := os.ReadFile(pidFile); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
				if pg, err := unix.Getpgid(pid); err == nil && pg == pid {
					unix.Kill(-pid, unix.SIGKILL)
				}
				return unix.Kill(pid, unix.SIGKILL)
			}
		}
		return cmd.Process.Kill()
	}
	cmd.WaitDelay = 5 * time.Second
	cmd.Stdin, cmd.Stdout = o.Stdin, o.Stdout
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if o.Stderr != nil && !p.Terminal {
		cmd.Stderr = o.Stderr
	}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	if cs != nil {
		go func() {
			if m, err := cs.Receive(ctx); err == nil && o.Console != nil {
				o.Console(m)
			}
		}()
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		// A runtime that could not start the process says why in its log
		// (runc then exits 255, unbox-runtime 1); otherwise the status is
		// the process's.
		if msg := lastLogError(logPath); msg != "" {
			return 0, startFailure(errors.New(msg))
		}
		return ee.ExitCode(), nil
	}
	return 0, err
}
