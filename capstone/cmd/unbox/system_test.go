//go:build linux

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPrivSystem: system df, system prune, info, version, doctor and
// completion.
func TestPrivSystem(t *testing.T) {
	e := newEnv(t)
	e.ok("run", "--name", "stopped", "-v", "/anon", "unbox/busybox", "sh", "-c", "head -c 100000 /dev/zero > /big")
	e.ok("run", "-d", "--name", "running", "unbox/busybox", "sleep", "1000")
	df := e.out("system", "df")
	for _, want := range []string{"TYPE", "Images          1       1", "Containers      2       1", "Local Volumes   1       1"} {
		if !strings.Contains(df, want) {
			t.Errorf("system df:\n%s\nwant %q", df, want)
		}
	}
	info := e.out("info")
	for _, want := range []string{"Containers: 2\n Running: 1\n Stopped: 1", "Images: 1", "Storage Driver: overlay", "Root Dir: " + e.root, "Cgroup Version: cgroup v", "Default Runtime: unbox-runtime"} {
		if !strings.Contains(info, want) {
			t.Errorf("info:\n%s\nwant %q", info, want)
		}
	}
	pr := e.out("system", "prune", "-f", "--volumes")
	if !strings.Contains(pr, "Deleted Containers:") || !strings.Contains(pr, "Deleted Volumes:") || strings.Contains(pr, "Deleted Images") {
		t.Errorf("system prune --volumes:\n%s\nwant the stopped container and its anonymous volume deleted, the image kept (in use)", pr)
	}
	if ps := e.out("ps", "-a", "--format", "json"); strings.Count(ps, "\n") != 0 || !strings.Contains(ps, `"Names":"running"`) {
		t.Errorf("ps -a after prune: %s; want the running container alone", ps)
	}
	if v := e.out("version"); !strings.Contains(v, "unbox version "+version) || !strings.Contains(v, "OCI runtime-spec") {
		t.Errorf("version: %s", v)
	}
	if d := e.out("doctor"); !strings.Contains(d, "overlayfs") || strings.Contains(d, "missing") {
		t.Errorf("doctor on this machine:\n%s\nwant every check passed", d)
	}
	for _, sh := range []string{"bash", "zsh", "fish"} {
		if c := e.out("completion", sh); !strings.Contains(c, "unbox") {
			t.Errorf("completion %s: %q", sh, c)
		}
	}
	// The words completion asks for: the commands, then a command's flags.
	if words := e.out("--generate-bash-completion"); !strings.Contains(words, "run") || !strings.Contains(words, "volume") {
		t.Errorf("--generate-bash-completion: %q; want the commands", words)
	}
	if words := e.out("run", "-", "--generate-bash-completion"); !strings.Contains(words, "--restart") {
		t.Errorf("run --generate-bash-completion: %q; want run's flags", words)
	}
	// help does not need root, nor an engine.
	if r := e.run("--help"); r.code != 0 || !strings.Contains(r.stdout, "daemonless") && !strings.Contains(r.stdout, "no daemon") {
		t.Errorf("--help: %s", r)
	}
	_ = os.Remove(filepath.Join(e.root, "nothing"))
}
