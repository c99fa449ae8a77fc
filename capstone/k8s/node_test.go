//go:build linux

package k8s

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/kit/kittest"
)

// The CRI tests are host-lane tests: the VM lane has no containerd, CNI
// plugins, runc or Go toolchain (internal/vmtest/exclusions.go lists them).

func TestMain(m *testing.M) { kittest.Main(m, nil) }

// needNode is what a node needs from the host: Debian's containerd, runc
// and CNI plugins, and the go command to build unbox-runtime and the
// cri-tools.
var needNode = kit.Need{
	Name: "containerd, runc, CNI plugins, go",
	Check: func() error {
		for _, p := range []string{"containerd", "ctr", "containerd-shim-runc-v2", "runc"} {
			if _, err := exec.LookPath(p); err != nil {
				return err
			}
		}
		for _, p := range []string{"bridge", "host-local", "loopback"} {
			if _, err := os.Stat(filepath.Join(cniBinDir, p)); err != nil {
				return err
			}
		}
		return needGo.Check()
	},
	Fix: "sudo apt-get install containerd runc containernetworking-plugins (.ci/run installs them), and Go",
}

// needGo is the go command, which builds unbox-runtime and the cri-tools.
var needGo = kit.Need{
	Name: "go",
	Check: func() error {
		_, err := os.Stat(goCommand(context.Background(), "").Path)
		return err
	},
	Fix: "install Go (https://go.dev/doc/install) or put it on sudo's PATH",
}

const cniBinDir = "/usr/lib/cni"

// testNode is a started node with the images imported, crictl for it, and
// the cgroup every pod of the test goes under.
type testNode struct {
	*Node
	crictl  *Crictl
	critest string
	// cgroupRoot is the parent of the pods' cgroups, /unbox-cri-<pid>:
	// removed, with whatever a runtime left in it, when the test ends.
	cgroupRoot string
}

// startTestNode builds unbox-runtime (static, as the README says) and the
// cri-tools, starts a node in a directory of the test, imports the pause
// and busybox images, and stops and cleans everything when the test ends:
// the pods, containerd, its shims, the bridge, the pods' cgroups.
func startTestNode(t *testing.T) *testNode {
	t.Helper()
	kittest.Privileged(t, needNode)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	dir := t.TempDir()
	runtime := filepath.Join(dir, "unbox-runtime")
	build := goCommand(ctx, "", "build", "-tags", "urfave_cli_no_docs", "-o", runtime, "github.com/unboxlab/unbox/capstone/cmd/unbox-runtime")
	build.Env = append(build.Env, "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build unbox-runtime: %v\n%s", err, out)
	}
	crictl, critest, err := BuildCRITools(ctx, DefaultToolsDir)
	if err != nil {
		t.Fatal(err)
	}
	cfg := NodeConfig{
		Dir: filepath.Join(dir, "node"), Runtime: runtime, SandboxImage: PauseImage.Names[0],
		CNIBinDir: cniBinDir, RestrictOOMScoreAdj: !CanLowerOOMScoreAdj(),
	}
	tn := &testNode{critest: critest, cgroupRoot: fmt.Sprintf("/unbox-cri-%d", os.Getpid())}
	t.Cleanup(func() { removeCgroupTree(t, tn.cgroupRoot) })
	n, err := StartNode(ctx, cfg, testSubnet)
	if n != nil {
		t.Cleanup(func() {
			if tn.crictl != nil {
				cctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				defer cancel()
				if out, err := tn.crictl.Run(cctx, "rmp", "--force", "--all"); err != nil {
					t.Errorf("crictl rmp --force --all: %v\n%s", err, out)
				}
			}
			if err := n.Stop(); err != nil {
				t.Error(err)
			}
			if left := n.processes(); len(left) > 0 {
				t.Errorf("processes of the node left after Stop: %v", left)
			}
		})
	}
	if err != nil {
		t.Fatal(err)
	}
	tn.Node = n
	if err := n.ImportImages(ctx, PauseImage, BusyboxImage); err != nil {
		t.Fatal(err)
	}
	if tn.crictl, err = n.Crictl(crictl); err != nil {
		t.Fatal(err)
	}
	return tn
}

// testSubnet is the pods' addresses: a private /24 no other part of unbox
// uses (the engine's networks are in 10.89.0.0/16).
const testSubnet = "10.214.0.0/24"

// TestPrivCRITools builds crictl and critest at CRIToolsVersion (or finds
// them built) and checks that each says it is of that version: .ci/run
// runs it first, on its own, so that the build (a few minutes with a cold
// Go build cache) is its own stage and the CRI tests find them built.
func TestPrivCRITools(t *testing.T) {
	kittest.Privileged(t, needGo)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	crictl, critest, err := BuildCRITools(ctx, DefaultToolsDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, tool := range []string{crictl, critest} {
		out, err := exec.CommandContext(ctx, tool, "--version").Output()
		if err != nil {
			t.Fatalf("%s --version: %v", tool, err)
		}
		first, _, _ := strings.Cut(string(out), "\n")
		t.Logf("%s", first)
		if !strings.HasSuffix(first, " "+CRIToolsVersion) {
			t.Errorf("%s --version: %q; want %s", tool, first, CRIToolsVersion)
		}
	}
}

// removeCgroupTree is RemoveCgroupTree, failing the test for what it found
// still running or could not remove.
func removeCgroupTree(t *testing.T, name string) {
	if err := RemoveCgroupTree(name); err != nil {
		t.Error(err)
	}
}
