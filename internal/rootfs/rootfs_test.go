//go:build linux

package rootfs_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/kit/kittest"
	"github.com/unboxlab/unbox/internal/rootfs"
)

func TestMain(m *testing.M) { kittest.Main(m, nil) }

// chrootRun runs a shell command inside root with chroot(2).
func chrootRun(t *testing.T, root, script string) string {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root}
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/bin:/usr/bin:/sbin:/usr/sbin"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("chroot %s sh -c %q: %v\n%s", root, script, err, out)
	}
	return string(out)
}

// testRootfs builds a root filesystem from source with a cache of its own,
// so the test really builds one, and checks a shell runs in it under chroot.
func testRootfs(t *testing.T, source rootfs.Source) {
	cache := t.TempDir()
	dst := filepath.Join(t.TempDir(), "rootfs")
	info, err := rootfs.Build(context.Background(), dst, rootfs.Options{Source: source, CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	if info.Source != source {
		t.Errorf("source = %q; want %q", info.Source, source)
	}
	for _, p := range []string{"sh", "ls", "cat", "mkdir"} {
		if _, err := os.Lstat(filepath.Join(dst, "bin", p)); err != nil {
			t.Errorf("no /bin/%s: %v", p, err)
		}
	}
	out := chrootRun(t, dst, "echo hello from $(cat /etc/passwd | head -n 1 | cut -d: -f1); ls /bin | grep -c . >/dev/null && mkdir /tmp/x && ls -d /tmp/x")
	if out != "hello from root\n/tmp/x\n" {
		t.Errorf("shell in the chroot printed %q", out)
	}
	// The copy is private: writing into it leaves the cache alone.
	entries, _ := os.ReadDir(cache)
	if len(entries) != 1 {
		t.Fatalf("cache holds %d entries; want 1", len(entries))
	}
	if _, err := os.Stat(filepath.Join(cache, entries[0].Name(), "tmp", "x")); !os.IsNotExist(err) {
		t.Errorf("a write in the copy reached the cache (err %v)", err)
	}
	// A second root filesystem comes from the cache.
	dst2 := filepath.Join(t.TempDir(), "rootfs2")
	if _, err := rootfs.Build(context.Background(), dst2, rootfs.Options{Source: source, CacheDir: cache}); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadDir(cache); len(again) != 1 {
		t.Errorf("second build added to the cache: %d entries", len(again))
	}
}

func TestPrivRootfsFromBusybox(t *testing.T) {
	kittest.Privileged(t, kit.NeedStaticBusybox)
	testRootfs(t, rootfs.Busybox)
}

func TestPrivRootfsFromHostBinaries(t *testing.T) {
	kittest.Privileged(t)
	testRootfs(t, rootfs.Host)
}

func TestRootfsRefusesNonEmptyDestination(t *testing.T) {
	dst := t.TempDir()
	if err := os.WriteFile(filepath.Join(dst, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := rootfs.Build(context.Background(), dst, rootfs.Options{Source: rootfs.Host, CacheDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("Rootfs into a non-empty directory: %v; want a refusal", err)
	}
}
