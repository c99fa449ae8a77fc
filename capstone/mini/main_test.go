//go:build linux

package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/kit/kittest"
	"github.com/unboxlab/unbox/internal/rootfs"
)

func TestMain(m *testing.M) { kittest.Main(m, run) }

// TestPrivMini runs the mini container and checks a fact from each lesson:
// its own hostname and PID 1 (01), its cgroup (02), its root (03), and a
// write that lands in its layer, not in the image (04).
func TestPrivMini(t *testing.T) {
	kittest.Privileged(t, kit.NeedNamespaces("mnt", "pid", "uts", "ipc", "net")...)
	var out, errs bytes.Buffer
	script := "hostname; echo pid=$$; grep -c unbox-mini- /proc/self/cgroup; ls /bin/busybox; echo written > /etc/mini-was-here; cat /etc/mini-was-here; exit 3"
	err := run(context.Background(), []string{"mini", "sh", "-c", script}, nil, &out, &errs)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Errorf("mini = %v (stderr %q); want the container's exit status 3", err, errs.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	want := []string{"mini", "pid=1", "", "/bin/busybox", "written"}
	if len(lines) != len(want) {
		t.Fatalf("mini printed %q; want %d lines", out.String(), len(want))
	}
	for i, w := range want {
		if w != "" && lines[i] != w {
			t.Errorf("line %d = %q; want %q", i+1, lines[i], w)
		}
	}
	if lines[2] == "0" {
		t.Errorf("the container's /proc/self/cgroup names no unbox-mini- cgroup: it was not placed in its cgroup")
	}
	image, _, err := rootfs.Cached(context.Background(), rootfs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(image, "etc/mini-was-here")); err == nil {
		t.Errorf("the container wrote into the image %s: the write belongs in its own layer", image)
	}
}
