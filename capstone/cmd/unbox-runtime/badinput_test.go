//go:build linux

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestPrivBadInput: each mistake fails with exit status 1 and a message
// that says what is wrong, and leaves nothing behind: no state directory,
// and (the leak check) no cgroup, mount or process.
func TestPrivBadInput(t *testing.T) {
	privileged(t)
	r := newRT(t)
	good := bundle(t, nil, "sleep", "300")
	empty := t.TempDir()
	malformed := t.TempDir()
	if err := os.WriteFile(filepath.Join(malformed, "config.json"), []byte("{\n  \"ociVersion\": \"1.0.0\",\n  \"process\": {\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	unknownNS := bundle(t, func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "bogus"})
	}, "true")
	missingProgram := bundle(t, nil, "no-such-program")
	badMount := bundle(t, func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Source: "/nonexistent/unbox-source", Options: []string{"rbind"}})
	}, "true")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"missing config.json", []string{"create", "--bundle", empty, "ubx-bad"}, "an OCI bundle"},
		{"malformed config.json", []string{"create", "--bundle", malformed, "ubx-bad"}, "unexpected EOF"},
		{"unknown namespace type", []string{"create", "--bundle", unknownNS, "ubx-bad"}, `unknown namespace type "bogus"`},
		{"program not in the container", []string{"create", "--bundle", missingProgram, "ubx-bad"}, `"no-such-program": executable file not found`},
		{"bind source missing", []string{"create", "--bundle", badMount, "ubx-bad"}, "/nonexistent/unbox-source"},
		{"invalid id", []string{"create", "--bundle", good, "../escape"}, "invalid container id"},
		{"start of nothing", []string{"start", "ubx-bad"}, "container does not exist"},
		{"delete of nothing", []string{"delete", "ubx-bad"}, "container does not exist"},
		{"unknown signal", []string{"kill", "ubx-bad", "SIGWHAT"}, "unknown signal"},
		{"checkpoint", []string{"checkpoint", "ubx-bad"}, "checkpoint/restore is not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := r.run(tc.args...)
			if res.code != 1 || !strings.Contains(res.msg(), tc.want) {
				t.Errorf("unbox-runtime %s = %s; want exit 1 and %q", strings.Join(tc.args, " "), res, tc.want)
			}
			if exists(r.stateDir("ubx-bad")) || exists(filepath.Join(r.root, "..", "escape")) {
				t.Errorf("a failed %s left its state directory", tc.args[0])
			}
		})
	}
	// A malformed config.json says where.
	if res := r.run("create", "--bundle", malformed, "ubx-bad"); !strings.Contains(res.msg(), "config.json") {
		t.Errorf("malformed config: %s; want the file named", res)
	}
}

// TestPrivLifecycleMistakes: a duplicate id, start of a container that is
// not created, delete of a running one without --force: refused, and the
// container is as it was.
func TestPrivLifecycleMistakes(t *testing.T) {
	privileged(t)
	r := newRT(t)
	b := bundle(t, nil, "sleep", "300")
	first := r.create("ubx-dup", b)
	res := r.run("create", "--bundle", b, "ubx-dup")
	if res.code != 1 || !strings.Contains(res.msg(), "container with given ID already exists") {
		t.Errorf("create of a duplicate id = %s; want runc's \"container with given ID already exists\"", res)
	}
	if st := r.state("ubx-dup"); st.Pid != first.Pid || st.Status != "created" {
		t.Errorf("the first container after a duplicate create = %+v; want it untouched", st)
	}
	r.ok("start", "ubx-dup")
	if res := r.run("start", "ubx-dup"); res.code != 1 || !strings.Contains(res.msg(), "cannot start an already running container") {
		t.Errorf("start of a running container = %s", res)
	}
	if res := r.run("delete", "ubx-dup"); res.code != 1 || !strings.Contains(res.msg(), "cannot delete container ubx-dup that is not stopped: running") {
		t.Errorf("delete of a running container = %s", res)
	}
	if st := r.state("ubx-dup"); st.Status != "running" {
		t.Errorf("after the refused delete the container is %s; want running", st.Status)
	}
	r.ok("kill", "ubx-dup", "9")
	r.waitStatus("ubx-dup", "stopped")
	if res := r.run("start", "ubx-dup"); res.code != 1 || !strings.Contains(res.msg(), "cannot start a container that has stopped") {
		t.Errorf("start of a stopped container = %s", res)
	}
	if res := r.run("exec", "ubx-dup", "true"); res.code != 1 || !strings.Contains(res.msg(), "cannot exec in a stopped container") {
		t.Errorf("exec in a stopped container = %s", res)
	}
	r.ok("delete", "--force", "ubx-dup")
	if res := r.run("delete", "--force", "ubx-dup"); res.code != 0 {
		t.Errorf("delete --force of a container that is gone = %s; want success, as runc", res)
	}
}

// TestPrivInterruptedCreate: a create killed halfway (SIGKILL, while a
// prestart hook runs) leaves a container that state reports as stopped and
// that delete removes entirely; a create that is interrupted politely
// (SIGTERM) undoes itself.
func TestPrivInterruptedCreate(t *testing.T) {
	privileged(t)
	r := newRT(t)
	marker := filepath.Join(t.TempDir(), "hook-started")
	b := bundle(t, func(s *specs.Spec) {
		//lint:ignore SA1019 prestart hooks are deprecated, and still run
		s.Hooks = &specs.Hooks{Prestart: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "touch " + marker + "; exec sleep 60"}}}}
	}, "true")
	for _, sig := range []os.Signal{os.Kill, os.Interrupt} {
		t.Run(sig.String(), func(t *testing.T) {
			os.Remove(marker)
			cmd := r.cmd("create", "--bundle", b, "ubx-interrupted")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			waitFile(t, marker)
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			cmd.Wait()
			if sig == os.Interrupt {
				if exists(r.stateDir("ubx-interrupted")) {
					t.Errorf("an interrupted create left %s", r.stateDir("ubx-interrupted"))
				}
				return
			}
			if st := r.waitStatus("ubx-interrupted", "stopped"); st.ID != "ubx-interrupted" {
				t.Errorf("state of a create killed halfway = %+v; want stopped", st)
			}
			r.ok("delete", "ubx-interrupted")
			if exists(r.stateDir("ubx-interrupted")) {
				t.Errorf("delete left %s", r.stateDir("ubx-interrupted"))
			}
		})
	}
}
