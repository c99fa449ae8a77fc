//go:build linux

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/unboxlab/unbox/capstone/container"
)

// TestPrivHooks: every hook runs at its point of the lifecycle with the
// state on its standard input, in the namespaces the spec says: the
// runtime's for prestart, createRuntime, poststart and poststop; the
// container's for createContainer and startContainer.
func TestPrivHooks(t *testing.T) {
	privileged(t)
	r := newRT(t)
	out := t.TempDir()
	// Each hook appends "<name> <its mount namespace> <state JSON>". The
	// container's hooks run inside, where out is not: they report through
	// a volume at /hooks.
	hook := func(name, dir string) specs.Hook {
		return specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c",
			`echo "` + name + ` $(readlink /proc/self/ns/mnt) $(cat)" >> ` + dir + `/hooks.log`}}
	}
	b := bundle(t, func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/hooks", Source: out, Options: []string{"rbind"}})
		s.Hooks = &specs.Hooks{
			//lint:ignore SA1019 prestart hooks are deprecated, and still run
			Prestart:        []specs.Hook{hook("prestart", out)},
			CreateRuntime:   []specs.Hook{hook("createRuntime", out)},
			CreateContainer: []specs.Hook{hook("createContainer", out)},
			StartContainer:  []specs.Hook{hook("startContainer", "/hooks")},
			Poststart:       []specs.Hook{hook("poststart", out)},
			Poststop:        []specs.Hook{hook("poststop", out)},
		}
	}, "sleep", "300")
	st := r.create("ubx-hooks", b)
	r.ok("start", "ubx-hooks")
	waitFileContains(t, filepath.Join(out, "hooks.log"), "poststart")
	r.ok("delete", "--force", "ubx-hooks")
	reap(st.Pid)

	b2, _ := os.ReadFile(filepath.Join(out, "hooks.log"))
	lines := strings.Split(strings.TrimSpace(string(b2)), "\n")
	var order []string
	ours, _ := os.Readlink("/proc/self/ns/mnt")
	want := map[string]container.Status{
		"prestart": container.Creating, "createRuntime": container.Creating, "createContainer": container.Creating,
		"startContainer": container.Created, "poststart": container.Running, "poststop": container.Stopped,
	}
	for _, l := range lines {
		f := strings.SplitN(l, " ", 3)
		if len(f) != 3 {
			t.Fatalf("hooks.log line %q", l)
		}
		name, ns := f[0], f[1]
		order = append(order, name)
		var s container.State
		if err := json.Unmarshal([]byte(f[2]), &s); err != nil {
			t.Errorf("%s hook's stdin is not the state: %q (%v)", name, f[2], err)
			continue
		}
		if s.ID != "ubx-hooks" || s.Status != want[name] || s.Bundle != b {
			t.Errorf("%s hook got state %+v; want id ubx-hooks, status %s, the bundle", name, s, want[name])
		}
		if name != "poststop" && s.Pid != st.Pid {
			t.Errorf("%s hook got pid %d; want the init's, %d", name, s.Pid, st.Pid)
		}
		inContainer := name == "createContainer" || name == "startContainer"
		if (ns != ours) != inContainer {
			t.Errorf("%s hook ran in mount namespace %s (ours %s); want the container's: %v", name, ns, ours, inContainer)
		}
	}
	if got := strings.Join(order, " "); got != "prestart createRuntime createContainer startContainer poststart poststop" {
		t.Errorf("hooks ran in the order %q", got)
	}
}

// TestPrivHookFailure: a failing createRuntime hook fails create and leaves
// nothing; one past its timeout is killed and fails create too; a failing
// poststart is a warning, and the container runs.
func TestPrivHookFailure(t *testing.T) {
	privileged(t)
	r := newRT(t)
	one := 1
	for _, tc := range []struct {
		name string
		h    specs.Hooks
		want string
	}{
		{"exits 3", specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "echo no way >&2; exit 3"}}}}, "createRuntime hook #0 (/bin/sh): exit status 3: no way"},
		//lint:ignore SA1019 prestart hooks are deprecated, and still run
		{"times out", specs.Hooks{Prestart: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "exec sleep 30"}, Timeout: &one}}}, "prestart hook #0 (/bin/sh): timed out after 1s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.h
			b := bundle(t, func(s *specs.Spec) { s.Hooks = &h }, "true")
			res := r.run("create", "--bundle", b, "ubx-hookfail")
			if res.code != 1 || !strings.Contains(res.msg(), tc.want) {
				t.Errorf("create with a hook that %s = %s; want %q", tc.name, res, tc.want)
			}
			if exists(r.stateDir("ubx-hookfail")) {
				t.Errorf("a failed create left its state")
			}
		})
	}
	b := bundle(t, func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{Poststart: []specs.Hook{{Path: "/bin/false"}}}
	}, "sleep", "300")
	r.create("ubx-poststart", b)
	res := r.run("start", "ubx-poststart")
	if res.code != 0 || !strings.Contains(res.stderr, "level=warning") || !strings.Contains(res.msg(), "poststart hook #0") {
		t.Errorf("start with a failing poststart hook = %s; want success and a warning", res)
	}
	if st := r.state("ubx-poststart"); st.Status != container.Running {
		t.Errorf("after a failing poststart hook the container is %s; want running", st.Status)
	}
}

func waitFileContains(t *testing.T, path, want string) {
	t.Helper()
	waitFile(t, path)
	for i := 0; i < 3000; i++ {
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), want) {
			return
		}
		sleepMs(10)
	}
	b, _ := os.ReadFile(path)
	t.Fatalf("%s has no %q:\n%s", path, want, b)
}
