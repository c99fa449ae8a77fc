//go:build linux

package main

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/kit/kittest"
	"github.com/unboxlab/unbox/internal/rootfs"
	"github.com/unboxlab/unbox/internal/rootfs/layer"
)

// The client tests: podman and containerd drive unbox-runtime as they
// drive runc. Host-lane tests, like the differential ones: the VM lane has
// neither (internal/vmtest/exclusions.go lists them).

func needPrograms(names ...string) kit.Need {
	return kit.Need{
		Name: strings.Join(names, ", "),
		Check: func() error {
			for _, n := range names {
				if _, err := exec.LookPath(n); err != nil {
					return err
				}
			}
			return nil
		},
		Fix: "sudo apt-get install podman containerd (.ci/run installs them)",
	}
}

// rootfsTar is the root filesystem fixture as a layer: an uncompressed tar.
func rootfsTar(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := layer.Tar(context.Background(), &buf, rootfs.Options{}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// command runs a peer's command, with a time limit, and returns its
// combined output and exit status.
func command(t *testing.T, name string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	out := tempFile(t)
	cmd.Stdout, cmd.Stderr = out, out
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
	}
	return readBack(t, out), cmd.ProcessState.ExitCode()
}

// TestPrivPeerPodman: podman --runtime unbox-runtime runs a container from
// an image imported from the fixture (no network): its output, its exit
// status, then a detached container with exec, stop and rm. Podman keeps
// its storage and state in the test's directory.
func TestPrivPeerPodman(t *testing.T) {
	privileged(t)
	kittest.Require(t, needPrograms("podman", "conmon"))
	dir := t.TempDir()
	image := filepath.Join(dir, "rootfs.tar")
	if err := os.WriteFile(image, rootfsTar(t), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := runtimeBin(t)
	podman := func(args ...string) (string, int) {
		t.Helper()
		base := []string{"--root", filepath.Join(dir, "storage"), "--runroot", filepath.Join(dir, "run"), "--storage-driver", "vfs",
			"--cgroup-manager", "cgroupfs", "--events-backend", "none", "--runtime", bin}
		return command(t, "podman", append(base, args...)...)
	}
	t.Cleanup(func() {
		podman("rm", "--all", "--force")
		podman("rmi", "--all", "--force")
		// conmon has a cgroup of its own below the parent.
		rmdirCgroup("/unbox-test-podman/conmon")
	})
	if out, code := podman("import", image, "localhost/unbox-test:latest"); code != 0 {
		t.Fatalf("podman import: %s", out)
	}
	// Root here cannot raise hard limits (no CAP_SYS_RESOURCE): podman
	// must be told to ask for what is there.
	run := []string{"run", "--network", "none", "--cgroup-parent", "/unbox-test-podman", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096"}
	out, code := podman(append(run, "--rm", "localhost/unbox-test:latest", "sh", "-c", "echo hello from podman; exit 3")...)
	if code != 3 || !strings.Contains(out, "hello from podman") {
		t.Errorf("podman run --rm = exit %d:\n%s\nwant exit 3 and the greeting", code, out)
	}
	out, code = podman(append(run, "-d", "localhost/unbox-test:latest", "sleep", "300")...)
	if code != 0 {
		t.Fatalf("podman run -d: %s", out)
	}
	id := strings.TrimSpace(out)
	if out, code := podman("exec", id, "sh", "-c", "echo exec sees $(cat /proc/1/cmdline | tr '\\0' ' ')"); code != 0 || !strings.Contains(out, "exec sees sleep 300") {
		t.Errorf("podman exec = %d: %s", code, out)
	}
	if out, code := podman("stop", "-t", "1", id); code != 0 {
		t.Errorf("podman stop = %d: %s", code, out)
	}
	if out, code := podman("rm", id); code != 0 {
		t.Errorf("podman rm = %d: %s", code, out)
	}
}

// TestPrivPeerCtr: containerd, in a private state directory and socket,
// runs containers through its runc shim v2 with --runc-binary pointing at
// unbox-runtime: ctr run --rm, then run -d, task exec, pause, resume, kill
// and delete.
func TestPrivPeerCtr(t *testing.T) {
	privileged(t)
	kittest.Require(t, needPrograms("containerd", "ctr", "containerd-shim-runc-v2"))
	dir := t.TempDir()
	ns := fmt.Sprintf("unbox-test-%d", os.Getpid())
	sock := filepath.Join(dir, "containerd.sock")
	config := fmt.Sprintf("version = 2\nroot = %q\nstate = %q\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n[grpc]\n  address = %q\n",
		filepath.Join(dir, "root"), filepath.Join(dir, "state"), sock)
	if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	daemon := exec.Command("containerd", "--config", filepath.Join(dir, "config.toml"))
	daemon.Stdout, daemon.Stderr = tempFile(t), tempFile(t)
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		daemon.Process.Signal(os.Interrupt)
		daemon.Wait()
		// The shim keeps runc's state under a fixed root; ours is
		// named for this test.
		os.RemoveAll("/run/containerd/runc/" + ns)
		rmdirCgroup("/" + ns + "/ubx-ctr2")
	})
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("containerd did not listen on %s within a minute", sock)
		}
	}
	ctr := func(args ...string) (string, int) {
		t.Helper()
		return command(t, "ctr", append([]string{"--address", sock, "--namespace", ns}, args...)...)
	}
	archive := filepath.Join(dir, "image.tar")
	if err := os.WriteFile(archive, ociArchive(t, "localhost/unbox-test:latest"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := ctr("images", "import", archive); code != 0 {
		t.Fatalf("ctr images import: %s", out)
	}
	t.Cleanup(func() { ctr("images", "rm", "localhost/unbox-test:latest") })
	bin := runtimeBin(t)
	out, code := ctr("run", "--rm", "--runc-binary", bin, "localhost/unbox-test:latest", "ubx-ctr1", "sh", "-c", "echo hello from ctr; exit 4")
	if code != 4 || !strings.Contains(out, "hello from ctr") {
		t.Errorf("ctr run --rm = exit %d:\n%s\nwant exit 4 and the greeting", code, out)
	}
	if out, code := ctr("run", "-d", "--runc-binary", bin, "localhost/unbox-test:latest", "ubx-ctr2", "sleep", "300"); code != 0 {
		t.Fatalf("ctr run -d: %s", out)
	}
	t.Cleanup(func() {
		ctr("task", "kill", "-s", "SIGKILL", "ubx-ctr2")
		ctr("task", "delete", "--force", "ubx-ctr2")
		ctr("container", "delete", "ubx-ctr2")
	})
	if out, code := ctr("task", "exec", "--exec-id", "e1", "ubx-ctr2", "sh", "-c", "echo exec sees $(cat /proc/1/cmdline | tr '\\0' ' ')"); code != 0 || !strings.Contains(out, "exec sees sleep 300") {
		t.Errorf("ctr task exec = %d: %s", code, out)
	}
	for _, step := range [][]string{{"task", "pause", "ubx-ctr2"}, {"task", "resume", "ubx-ctr2"}, {"task", "kill", "-s", "SIGKILL", "ubx-ctr2"}} {
		if out, code := ctr(step...); code != 0 {
			t.Errorf("ctr %s = %d: %s", strings.Join(step, " "), code, out)
		}
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		if out, _ := ctr("task", "ls"); strings.Contains(out, "STOPPED") || time.Now().After(deadline) {
			break
		}
	}
	for _, step := range [][]string{{"task", "delete", "ubx-ctr2"}, {"container", "delete", "ubx-ctr2"}} {
		if out, code := ctr(step...); code != 0 {
			t.Errorf("ctr %s = %d: %s", strings.Join(step, " "), code, out)
		}
	}
}

// ociArchive is the fixture as an OCI image archive (image-spec's
// image-layout, tarred), named ref for containerd's import.
func ociArchive(t *testing.T, ref string) []byte {
	t.Helper()
	type descriptor struct {
		MediaType   string            `json:"mediaType"`
		Digest      string            `json:"digest"`
		Size        int               `json:"size"`
		Annotations map[string]string `json:"annotations,omitempty"`
	}
	blobs := map[string][]byte{}
	add := func(mediaType string, b []byte) descriptor {
		sum := sha256.Sum256(b)
		d := "sha256:" + hex.EncodeToString(sum[:])
		blobs[d] = b
		return descriptor{MediaType: mediaType, Digest: d, Size: len(b)}
	}
	layerTar := rootfsTar(t)
	layerDesc := add("application/vnd.oci.image.layer.v1.tar", layerTar)
	config, _ := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux",
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{layerDesc.Digest}},
		"config": map[string]any{"Cmd": []string{"sh"}, "Env": []string{"PATH=/bin:/usr/bin:/sbin:/usr/sbin"}},
	})
	configDesc := add("application/vnd.oci.image.config.v1+json", config)
	manifest, _ := json.Marshal(map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": configDesc, "layers": []descriptor{layerDesc},
	})
	manifestDesc := add("application/vnd.oci.image.manifest.v1+json", manifest)
	manifestDesc.Annotations = map[string]string{"io.containerd.image.name": ref, "org.opencontainers.image.ref.name": "latest"}
	index, _ := json.Marshal(map[string]any{"schemaVersion": 2, "manifests": []descriptor{manifestDesc}})

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	write := func(name string, b []byte) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(b)
	}
	write("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`))
	write("index.json", index)
	for d, b := range blobs {
		write("blobs/sha256/"+strings.TrimPrefix(d, "sha256:"), b)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
