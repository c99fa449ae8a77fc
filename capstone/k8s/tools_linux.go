package k8s

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// CRIToolsVersion is the cri-tools release crictl and critest are built
// from: the one for Kubernetes 1.37's CRI, which containerd 1.6 serves
// (runtime.v1).
const CRIToolsVersion = "v1.37.0"

const criToolsModule = "sigs.k8s.io/cri-tools"

// DefaultToolsDir is where [BuildCRITools] keeps them.
var DefaultToolsDir = "/var/lib/unbox/cache/cri-tools-" + CRIToolsVersion

// BuildCRITools builds crictl and critest of [CRIToolsVersion] into dir,
// once (a later call finds them), and returns their paths. Through the Go
// module proxy and the checksum database, like any module: crictl with
// `go install module/cmd/crictl@version`, which builds the release's own
// module graph; critest, a test binary (Ginkgo specs), with `go test -c`
// in that release's module directory. The first build downloads and
// compiles a few minutes' worth; the build cache makes later ones quick.
func BuildCRITools(ctx context.Context, dir string) (crictl, critest string, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", "", err
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return "", "", fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	crictl, critest = filepath.Join(dir, "crictl"), filepath.Join(dir, "critest")
	// The release's own builds say their version (the Makefile's
	// -ldflags -X); so do these, and a binary found here that says another
	// (or none: an older build, a broken copy) is built again.
	ldflags := "-X " + criToolsModule + "/pkg/version.Version=" + CRIToolsVersion
	if !hasVersion(ctx, crictl) {
		tmp := filepath.Join(dir, ".bin")
		cmd := goCommand(ctx, "", "install", "-ldflags", ldflags, criToolsModule+"/cmd/crictl@"+CRIToolsVersion)
		cmd.Env = append(cmd.Env, "GOBIN="+tmp)
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", "", fmt.Errorf("build crictl %s: %w\n%s", CRIToolsVersion, err, out)
		}
		if err := os.Rename(filepath.Join(tmp, "crictl"), crictl); err != nil {
			return "", "", err
		}
		os.Remove(tmp)
	}
	if !hasVersion(ctx, critest) {
		out, err := goCommand(ctx, "", "mod", "download", "-json", criToolsModule+"@"+CRIToolsVersion).Output()
		if err != nil {
			return "", "", fmt.Errorf("go mod download %s@%s: %w", criToolsModule, CRIToolsVersion, err)
		}
		var mod struct{ Dir string }
		if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
			return "", "", fmt.Errorf("go mod download %s@%s: no module directory in %s", criToolsModule, CRIToolsVersion, out)
		}
		tmp := critest + ".tmp"
		if out, err := goCommand(ctx, mod.Dir, "test", "-c", "-ldflags", ldflags, "-o", tmp, "./cmd/critest").CombinedOutput(); err != nil {
			return "", "", fmt.Errorf("build critest %s: %w\n%s", CRIToolsVersion, err, out)
		}
		if err := os.Rename(tmp, critest); err != nil {
			return "", "", err
		}
	}
	return crictl, critest, nil
}

// goCommand is the go command, run in dir: the one on the PATH, or else
// where go.dev's archive (and the Vagrant lab) installs it, since sudo's
// secure_path usually lacks it.
func goCommand(ctx context.Context, dir string, args ...string) *exec.Cmd {
	tool, err := exec.LookPath("go")
	if err != nil {
		tool = "/usr/local/go/bin/go"
	}
	cmd := exec.CommandContext(ctx, tool, args...)
	cmd.Dir = dir
	cmd.Env = os.Environ()
	return cmd
}

// hasVersion reports whether the tool at path says it is of
// CRIToolsVersion: `crictl --version` prints "crictl version v1.37.0",
// `critest --version` "critest version: v1.37.0".
func hasVersion(ctx context.Context, path string) bool {
	out, err := exec.CommandContext(ctx, path, "--version").Output()
	if err != nil {
		return false
	}
	first, _, _ := strings.Cut(string(out), "\n")
	return strings.HasSuffix(strings.TrimSpace(first), " "+CRIToolsVersion)
}
