//go:build linux

// Command pull times `unbox pull` against `skopeo copy` on the same
// many-layer image, from a registry on 127.0.0.1 that it starts itself
// (Debian's docker-registry, its storage in a temporary directory, stopped
// by its PID at the end):
//
//	go run -exec sudo ./bench/pull              # 10 rounds, 16 layers of 4 MiB
//	go run -exec sudo ./bench/pull -rounds 20 -layers 32 -size 1048576
//
// Each round pulls into an empty store (unbox, built here as the README
// builds it) and copies into an empty directory (skopeo copy
// docker://… dir:…), in an order that alternates from round to round. The
// two do not do the same work: skopeo copy to a directory only downloads
// and checks the blobs; unbox pull also unpacks every layer into its
// snapshot (the extraction a container needs), so the ratio is an upper
// bound on the cost of the download itself. The layers are random bytes
// (gzip cannot shrink them), so the network path is what is measured.
// It prints the medians and the ratio.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fl := flag.NewFlagSet("bench", flag.ContinueOnError)
	rounds := fl.Int("rounds", 10, "rounds; each pulls once with each tool")
	layers := fl.Int("layers", 16, "layers in the image")
	size := fl.Int64("size", 4<<20, "bytes of each layer")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return errors.New("unpacking layers keeps their owners, which needs root: go run -exec sudo ./bench/pull")
	}
	for _, p := range []string{"/usr/bin/docker-registry", "skopeo"} {
		if _, err := exec.LookPath(p); err != nil {
			return fmt.Errorf("%w (sudo apt-get install docker-registry skopeo)", err)
		}
	}
	dir, err := os.MkdirTemp("", "unbox-bench-pull-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	unbox := filepath.Join(dir, "unbox")
	build := exec.Command(goTool(), "build", "-o", unbox, "./capstone/cmd/unbox")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("build unbox: %v\n%s", err, out)
	}
	host, stop, err := startRegistry(dir)
	if err != nil {
		return err
	}
	defer stop()
	// Stopped by its PID on ^C too.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt)
	go func() { <-sig; stop(); os.RemoveAll(dir); os.Exit(130) }()

	img, err := random.Image(*size, int64(*layers))
	if err != nil {
		return err
	}
	ref := host + "/bench/many:1"
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		return err
	}
	if err := remote.Write(r, img); err != nil {
		return fmt.Errorf("push the bench image: %w", err)
	}
	fmt.Fprintf(stdout, "image: %d layers of %d bytes (random, incompressible) on %s; %d rounds, alternating\n", *layers, *size, host, *rounds)

	var ours, theirs []time.Duration
	for i := range *rounds {
		work := filepath.Join(dir, fmt.Sprint("round", i))
		if err := os.MkdirAll(work, 0o700); err != nil {
			return err
		}
		pullUnbox := func() error {
			t, err := timed(unbox, "--root", filepath.Join(work, "unbox"), "--state", filepath.Join(work, "state"), "--config", filepath.Join(work, "etc"), "pull", "-q", ref)
			ours = append(ours, t)
			return err
		}
		copySkopeo := func() error {
			t, err := timed("skopeo", "copy", "-q", "--src-tls-verify=false", "docker://"+ref, "dir:"+filepath.Join(work, "skopeo"))
			theirs = append(theirs, t)
			return err
		}
		steps := []func() error{pullUnbox, copySkopeo}
		if i%2 == 1 {
			slices.Reverse(steps)
		}
		for _, step := range steps {
			if err := step(); err != nil {
				return err
			}
		}
		if err := os.RemoveAll(work); err != nil {
			return err
		}
	}
	mo, mt := median(ours), median(theirs)
	fmt.Fprintf(stdout, "%-34s median %8.1f ms\n", "unbox pull (download+unpack)", ms(mo))
	fmt.Fprintf(stdout, "%-34s median %8.1f ms\n", "skopeo copy docker:// dir:", ms(mt))
	fmt.Fprintf(stdout, "ratio unbox/skopeo: %.2f  (%d CPUs, %s)\n", float64(mo)/float64(mt), runtime.NumCPU(), runtime.Version())
	return nil
}

// goTool is the go command: on the PATH, or the toolchain's that built this
// program (sudo's PATH often lacks it), as bench/runtime finds it.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	//lint:ignore SA1019 under `go run -exec sudo` the toolchain that built this bench is the one to build unbox with, and sudo's PATH lacks it
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// timed runs a command and returns its wall-clock time.
func timed(name string, args ...string) (time.Duration, error) {
	start := time.Now()
	out, err := exec.Command(name, args...).CombinedOutput()
	d := time.Since(start)
	if err != nil {
		return d, fmt.Errorf("%s: %v\n%s", name, err, out)
	}
	return d, nil
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// startRegistry starts docker-registry on a free loopback port, its
// storage under dir; stop ends it by its PID.
func startRegistry(dir string) (host string, stop func(), err error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	host = l.Addr().String()
	l.Close()
	conf := filepath.Join(dir, "registry.yml")
	body := fmt.Sprintf("version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n",
		filepath.Join(dir, "registry"), host)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		return "", nil, err
	}
	cmd := exec.Command("/usr/bin/docker-registry", "serve", conf)
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cmd.Process.Kill()
			cmd.Wait()
		}
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get("http://" + host + "/v2/")
		if err == nil {
			resp.Body.Close()
			return host, stop, nil
		}
		if time.Now().After(deadline) {
			stop()
			return "", nil, fmt.Errorf("docker-registry did not answer on %s: %w", host, err)
		}
	}
}
