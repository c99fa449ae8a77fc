//go:build linux

// Command cri times pod start through Kubernetes' CRI: containerd's CRI
// plugin with the unbox runtime handler against the same containerd with
// runc, on one node (capstone/k8s's StartNode: Debian's containerd in a
// private directory and namespaces), in one run:
//
//	go run -exec sudo ./bench/cri              # 20 rounds
//	go run -exec sudo ./bench/cri -rounds 50
//
// One measure: the wall-clock time of `crictl run` (RunPodSandbox, then
// CreateContainer and StartContainer: a pod from nothing to a running
// container, what a kubelet does for a new pod), from this process. The
// handlers take turns within each round, in an order that rotates from
// round to round; each pod is removed, untimed, before the next. It
// prints the medians, the ratio, and the median of `crictl version` (one
// crictl start and one call, the client's share of every measure).
//
// unbox-runtime is built as the capstone README says (static, without
// urfave/cli's documentation generator); crictl from cri-tools, pinned
// (capstone/k8s BuildCRITools).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/unboxlab/unbox/capstone/k8s"
	"github.com/unboxlab/unbox/internal/reexec"
)

func main() {
	// The node's containerd and the crictl runs are this program again,
	// in the node's namespaces (capstone/k8s).
	reexec.Init()
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fl := flag.NewFlagSet("bench", flag.ContinueOnError)
	rounds := fl.Int("rounds", 20, "rounds; each starts one pod per handler")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return errors.New("containerd needs root: go run -exec sudo ./bench/cri")
	}
	ctx := context.Background()
	work, err := os.MkdirTemp("", "unbox-bench-cri-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	fmt.Fprintln(stdout, "building unbox-runtime (CGO_ENABLED=0 -tags urfave_cli_no_docs) and crictl "+k8s.CRIToolsVersion+"...")
	ours := filepath.Join(work, "unbox-runtime")
	build := exec.Command(goTool(), "build", "-tags", "urfave_cli_no_docs", "-trimpath", "-o", ours, "./capstone/cmd/unbox-runtime")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	crictlBin, _, err := k8s.BuildCRITools(ctx, k8s.DefaultToolsDir)
	if err != nil {
		return err
	}
	node, err := k8s.StartNode(ctx, k8s.NodeConfig{
		Dir: filepath.Join(work, "node"), Runtime: ours, SandboxImage: k8s.PauseImage.Names[0],
		CNIBinDir: "/usr/lib/cni", RestrictOOMScoreAdj: !k8s.CanLowerOOMScoreAdj(),
	}, "10.214.1.0/24")
	if node != nil {
		defer func() {
			if err := node.Stop(); err != nil {
				fmt.Fprintln(os.Stderr, "bench:", err)
			}
		}()
	}
	if err != nil {
		return err
	}
	if err := node.ImportImages(ctx, k8s.PauseImage, k8s.BusyboxImage); err != nil {
		return err
	}
	crictl, err := node.Crictl(crictlBin)
	if err != nil {
		return err
	}
	cgroupParent := fmt.Sprintf("/unbox-bench-cri-%d", os.Getpid())
	defer func() {
		if err := k8s.RemoveCgroupTree(cgroupParent); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
		}
	}()

	handlers := []string{k8s.Handler, "runc"}
	samples := map[string][]time.Duration{}
	var client []time.Duration
	printMachine(stdout, *rounds)
	for r := 0; r < *rounds; r++ {
		for i := range handlers {
			h := handlers[(i+r)%len(handlers)]
			d, err := startPod(ctx, crictl, node.Dir, cgroupParent, h, fmt.Sprintf("ubx-bench-%s-%d", h, r))
			if err != nil {
				return err
			}
			samples[h] = append(samples[h], d)
		}
		start := time.Now()
		if _, err := crictl.Run(ctx, "version"); err != nil {
			return err
		}
		client = append(client, time.Since(start))
		if (r+1)%10 == 0 {
			fmt.Fprintf(stdout, "  %d rounds done\n", r+1)
		}
	}
	ratio := float64(median(samples[k8s.Handler])) / float64(median(samples["runc"]))
	fmt.Fprintf(stdout, "\npod start (crictl run: RunPodSandbox, CreateContainer, StartContainer), median of %d\n", *rounds)
	for _, h := range handlers {
		fmt.Fprintf(stdout, "  %-6s %8.1f ms\n", h, ms(median(samples[h])))
	}
	fmt.Fprintf(stdout, "  crictl version (the client's own share) %.1f ms\n", ms(median(client)))
	fmt.Fprintf(stdout, "ratio unbox / runc: %.2f (below 1 is faster)\n", ratio)
	return nil
}

// startPod times `crictl run` of a pod with one container, checks the
// container runs, and removes the pod (untimed).
func startPod(ctx context.Context, c *k8s.Crictl, dir, cgroupParent, handler, name string) (time.Duration, error) {
	podCfg := k8s.PodConfig(name, filepath.Join(dir, "logs"), cgroupParent)
	ctr := k8s.ContainerConfig("sleeper", k8s.BusyboxImage.Names[0], "sleep 3600", nil)
	start := time.Now()
	id, err := c.RunJSON(ctx, dir, []string{"run", "--runtime", handler, "--no-pull"}, ctr, podCfg)
	d := time.Since(start)
	if err != nil {
		return 0, err
	}
	state, err := c.Inspect(ctx, "inspect", id)
	if err != nil {
		return 0, err
	}
	if s := k8s.Field(state, "status", "state"); s != "CONTAINER_RUNNING" {
		return 0, fmt.Errorf("%s: the container is %v after crictl run; want CONTAINER_RUNNING", handler, s)
	}
	pod := fmt.Sprint(k8s.Field(state, "info", "sandboxID"))
	if _, err := c.Run(ctx, "rmp", "--force", pod); err != nil {
		return 0, err
	}
	return d, nil
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func printMachine(w io.Writer, rounds int) {
	var uts [3]string
	for i, f := range []string{"/proc/sys/kernel/osrelease", "/proc/loadavg"} {
		b, _ := os.ReadFile(f)
		uts[i] = strings.TrimSpace(string(b))
	}
	out, _ := exec.Command("containerd", "--version").Output()
	fmt.Fprintf(w, "machine: %d CPUs, Linux %s, load %s; %s; %s; %d rounds\n",
		runtime.NumCPU(), uts[0], uts[1], strings.TrimSpace(string(out)), runtime.Version(), rounds)
}

// goTool is the go command: on the PATH, or where go.dev's archive (and
// the Vagrant lab) installs it, since sudo's secure_path usually lacks it.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "/usr/local/go/bin/go"
}
