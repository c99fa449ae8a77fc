//go:build linux

package main

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/kit/kittest"
)

var needPodman = kit.Need{
	Name:  "podman",
	Check: func() error { _, err := exec.LookPath("podman"); return err },
	Fix:   "sudo apt-get install podman (.ci/run installs it)",
}

// diffDockerfile exercises what both builders must agree on; BASE is the
// same image under each one's name for it.
const diffDockerfile = `FROM BASE
ENV GREETING=hi
WORKDIR /app
COPY files/ ./files/
COPY top.txt /app/top.txt
COPY files/a.txt files/b.sh /app/both/
RUN mkdir -p /app/made && echo "$GREETING" > /app/made/by-run && chmod 0640 /app/made/by-run && ln -s by-run /app/made/link && rm /app/files/gone
USER 1000
CMD ["cat", "/app/top.txt"]
`

// TestPrivPeerBuildPodman builds one Dockerfile with unbox build and with
// podman build (buildah inside podman) on the same base image, unbox's
// built-in one, and compares the file systems the two images hold (names,
// types, modes, owners, sizes, contents, link targets; not times) and
// their configs. The base reaches podman through the OCI layout of
// unbox's store (the oci: transport), which proves podman reads it too.
// Then the image unbox built goes the other way, through unbox save and
// podman load, and runs in podman.
func TestPrivPeerBuildPodman(t *testing.T) {
	e := newEnv(t)
	kittest.Require(t, needPodman)
	ctx := writeContext(t, map[string]string{
		"top.txt": "top\n", "files/a.txt": "a\n", "files/b.sh": "#!/bin/sh\necho b\n", "files/sub/c": "c\n", "files/gone": "x\n",
	})
	os.Chmod(filepath.Join(ctx, "files/b.sh"), 0o755)
	os.Symlink("a.txt", filepath.Join(ctx, "files/link"))
	e.ok("images", "unbox/busybox") // made on first use
	e.ok("run", "--rm", "unbox/busybox", "true")
	dir := t.TempDir()
	podman := func(args ...string) string {
		t.Helper()
		base := []string{"--root", filepath.Join(dir, "storage"), "--runroot", filepath.Join(dir, "run"), "--storage-driver", "vfs",
			"--cgroup-manager", "cgroupfs", "--events-backend", "none", "--runtime", "runc"} // crun 1.8 refuses cgroup v1 hybrid hosts
		out, code := peerCommand(t, "podman", append(base, args...)...)
		if code != 0 {
			t.Fatalf("podman %s: exit %d\n%s", strings.Join(args, " "), code, out)
		}
		return out
	}
	t.Cleanup(func() {
		base := []string{"--root", filepath.Join(dir, "storage"), "--runroot", filepath.Join(dir, "run"), "--storage-driver", "vfs", "--events-backend", "none"}
		peerCommand(t, "podman", append(base, "rm", "--all", "--force")...)
		peerCommand(t, "podman", append(base, "rmi", "--all", "--force")...)
	})
	// podman names an image pulled from a layout after the layout's path,
	// which must then be a valid, lower-case, reference.
	layout, err := os.MkdirTemp("", "unbox-peer-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(layout) })
	if err := os.Symlink(filepath.Join(e.root, "images"), filepath.Join(layout, "images")); err != nil {
		t.Fatal(err)
	}
	podman("pull", "oci:"+filepath.Join(layout, "images")+":unbox/busybox:latest")
	id := strings.TrimSpace(podman("images", "-q", "--no-trunc"))
	podman("tag", id, "localhost/ubxbase:latest")

	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte(strings.Replace(diffDockerfile, "BASE", "unbox/busybox", 1)), 0o644)
	e.ok("build", "-t", "difftest", ctx)
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte(strings.Replace(diffDockerfile, "BASE", "localhost/ubxbase", 1)), 0o644)
	podman("build", "--pull=never", "--network", "none", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096",
		"--cgroup-manager", "cgroupfs", "-t", "localhost/difftest", ctx)

	ours := filepath.Join(dir, "ours.tar")
	e.ok("create", "--name", "difftest", "difftest")
	e.ok("export", "-o", ours, "difftest")
	e.ok("rm", "difftest")
	theirs := filepath.Join(dir, "theirs.tar")
	cid := strings.TrimSpace(podman("create", "localhost/difftest"))
	podman("export", "-o", theirs, cid)
	a, b := tarListing(t, ours), tarListing(t, theirs)
	var diffs []string
	for name, x := range a {
		if y, ok := b[name]; !ok {
			diffs = append(diffs, "only unbox build: "+x)
		} else if x != y {
			diffs = append(diffs, fmt.Sprintf("differs:\n  unbox  %s\n  podman %s", x, y))
		}
	}
	for name, y := range b {
		if _, ok := a[name]; !ok {
			diffs = append(diffs, "only podman build: "+y)
		}
	}
	sort.Strings(diffs)
	if len(diffs) > 0 {
		t.Errorf("the two images' file systems differ:\n%s", strings.Join(diffs, "\n"))
	}
	if _, ok := a["app/made/by-run"]; !ok {
		t.Errorf("the listing lacks the RUN's file: the comparison compared nothing (%d entries)", len(a))
	}
	type config struct {
		Config struct {
			User, WorkingDir string
			Cmd, Env         []string
		}
	}
	var ourCfg, theirCfg []config
	if err := json.Unmarshal([]byte(e.ok("inspect", "--type", "image", "difftest").stdout), &ourCfg); err != nil || len(ourCfg) != 1 {
		t.Fatalf("inspect difftest: %v", err)
	}
	if err := json.Unmarshal([]byte(podman("image", "inspect", "localhost/difftest")), &theirCfg); err != nil || len(theirCfg) != 1 {
		t.Fatalf("podman image inspect: %v", err)
	}
	if a, b := fmt.Sprintf("%+v", ourCfg[0].Config), fmt.Sprintf("%+v", theirCfg[0].Config); a != b {
		t.Errorf("configs differ:\n  unbox  %s\n  podman %s", a, b)
	}

	// The image unbox built, saved, loads into podman and runs there as
	// it was built: its CMD, its USER, its WORKDIR, its ENV, RUN's file.
	// Under a name of its own, not podman's build's.
	e.ok("tag", "difftest", "localhost/ubxbuilt:latest")
	saved := filepath.Join(dir, "built.tar")
	e.ok("save", "-o", saved, "localhost/ubxbuilt:latest")
	if out := podman("load", "-i", saved); !strings.Contains(out, "ubxbuilt") {
		t.Errorf("podman load of our build: %s; want its name", out)
	}
	var ourImg []struct {
		ID string `json:"Id"`
	}
	if err := json.Unmarshal([]byte(e.ok("inspect", "--type", "image", "difftest").stdout), &ourImg); err != nil || len(ourImg) != 1 {
		t.Fatalf("inspect difftest: %v", err)
	}
	if id := strings.TrimSpace(podman("image", "inspect", "--format", "{{.Id}}", "localhost/ubxbuilt")); id != strings.TrimPrefix(ourImg[0].ID, "sha256:") {
		t.Errorf("podman's ID of our build = %s; want ours, %s", id, ourImg[0].ID)
	}
	// Root here cannot raise hard limits: podman's defaults would. conmon
	// makes a cgroup of its own under the parent, removed at the end,
	// once conmon, which outlives `podman run --rm` by a moment, is gone.
	parent := "/unbox-test-build-podman"
	t.Cleanup(func() {
		roots, _ := filepath.Glob("/sys/fs/cgroup/*")
		roots = append(roots, "/sys/fs/cgroup")
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			left := false
			for _, r := range roots {
				os.Remove(filepath.Join(r, parent, "conmon"))
				os.Remove(filepath.Join(r, parent))
				if _, err := os.Stat(filepath.Join(r, parent)); err == nil {
					left = true
				}
			}
			if !left || time.Now().After(deadline) {
				return
			}
		}
	})
	run := []string{"run", "--rm", "--network", "none", "--cgroup-parent", parent, "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096",
		"localhost/ubxbuilt"}
	if out := podman(run...); out != "top\n" {
		t.Errorf("podman run of our build (its CMD) = %q; want %q", out, "top\n")
	}
	want := "1000 /app hi hi\n"
	if out := podman(append(run, "sh", "-c", `echo $(id -u) $(pwd) $GREETING $(cat made/by-run)`)...); out != want {
		t.Errorf("podman run of our build = %q; want %q (USER, WORKDIR, ENV, RUN's file)", out, want)
	}
}

// tarListing is a container export as name → "name type mode uid:gid
// size sha256 link", leaving out what a runtime or a builder puts in a
// container and not in an image (/dev, /proc, /sys, /run, the files the
// engine writes in /etc).
func tarListing(t *testing.T, path string) map[string]string {
	t.Helper()
	out := map[string]string{}
	eachTarEntry(t, path, func(h *tar.Header, r io.Reader) {
		name := strings.TrimSuffix(strings.TrimPrefix(h.Name, "./"), "/")
		top, _, _ := strings.Cut(name, "/")
		switch {
		case name == "" || top == "dev" || top == "proc" || top == "sys" || top == "run",
			name == "etc/hosts" || name == "etc/hostname" || name == "etc/resolv.conf":
			return
		}
		sum := sha256.New()
		io.Copy(sum, r)
		out[name] = fmt.Sprintf("%s %c %o %d:%d %d %x %s", name, h.Typeflag, h.Mode&0o7777, h.Uid, h.Gid, h.Size, sum.Sum(nil)[:6], h.Linkname)
	})
	return out
}

// peerCommand runs a peer's command (three minutes at most) and returns
// its combined output and exit status.
func peerCommand(t *testing.T, name string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
	}
	code := 0
	if ee != nil {
		code = ee.ExitCode()
	}
	return string(out), code
}
