//go:build linux

// Command build times `unbox build` against `podman build` on one
// Dockerfile, side by side, in one run:
//
//	go run -exec sudo ./bench/build             # 5 rounds
//	go run -exec sudo ./bench/build -rounds 10
//
// The Dockerfile has 20 steps (FROM, then a mix of RUN, COPY, ENV, ARG,
// WORKDIR, LABEL, USER, EXPOSE, ENTRYPOINT, CMD), with seven RUNs, on the
// same base image: unbox's built-in unbox/busybox, saved from unbox's store
// and loaded into podman's (the same image ID in both). Two measures, each
// a wall-clock time from this process: the cold build (--no-cache, on a
// store holding only the base) and the fully cached rebuild right after it,
// which must report every step as cached (the bench checks the output, so
// a cache that stopped working shows as an error, not as a fast time). The
// engines take turns, in an order that alternates from round to round;
// between rounds, untimed, each removes what it built, so every cold build
// starts from the same store. The bench prints the medians and the ratios.
//
// Each engine keeps its images and state in the bench's directory (unbox
// --root/--state, podman --root/--runroot), so nothing of the machine's is
// touched, and RUN has no network in either (--network none). Root here
// cannot raise hard limits (no CAP_SYS_RESOURCE), so podman is told the
// limits to ask for (--ulimit nofile=1024:1024 --ulimit nproc=4096:4096).
// On a hybrid cgroup host both run in a private mount namespace without
// /sys/fs/cgroup/unified, where crun, podman's runtime, accepts the layout
// (bench/engine does the same).
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/unboxlab/unbox/bench/internal/benchutil"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// The base image in unbox's store, and the same image's name in podman's
// once loaded.
const (
	baseImage   = "unbox/busybox:latest"
	podmanImage = "localhost/unbox-bench-busybox:latest"
)

// podmanCgroup is the cgroup parent of podman build's RUN containers,
// removed at the end.
const podmanCgroup = "/unbox-bench-build-podman"

// dockerfile is the build: 20 steps, seven of them RUN. BASE is the base
// image under each engine's name for it.
const dockerfile = `FROM BASE
LABEL org.opencontainers.image.title=unbox-bench-build
ENV APP=/srv/app MODE=bench
ARG VERSION=1.0
WORKDIR /srv/app
COPY package.json ./
RUN mkdir -p node_modules && for i in $(seq 1 200); do echo "module.exports = $i" > node_modules/m$i.js; done
COPY src/ ./src/
RUN cat src/*.js > bundle.js && wc -c bundle.js > bundle.size
ENV PATH=/srv/app/bin:$PATH
RUN mkdir -p bin && printf '#!/bin/sh\necho hello from $MODE\n' > bin/hello && chmod 0755 bin/hello
COPY data.bin /srv/data/
RUN sha256sum /srv/data/data.bin > /srv/data/data.sum
WORKDIR /srv/app/logs
RUN touch app.log && chown 1000:1000 . app.log
USER 1000:1000
RUN echo "$VERSION" > /srv/app/logs/version
EXPOSE 8080
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["hello"]
`

// steps is the Dockerfile's count of instructions.
const steps = 20

// engine is one builder under test.
type engine struct {
	name   string
	base   []string // the command and its global flags
	build  []string // "build" and its flags, before the context
	cached string   // what the build prints for a step it found in its cache
	tag    string
	before int // images in the store before the first build
	cold   []time.Duration
	warm   []time.Duration
}

func run(args []string, stdout io.Writer) error {
	fl := flag.NewFlagSet("bench", flag.ContinueOnError)
	rounds := fl.Int("rounds", 5, "rounds; each builds cold then cached with each engine")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return errors.New("builds need root: go run -exec sudo ./bench/build")
	}
	if _, err := exec.LookPath("podman"); err != nil {
		return fmt.Errorf("podman: %w (apt-get install podman)", err)
	}
	if n := strings.Count(dockerfile, "\n"); n != steps {
		return fmt.Errorf("the Dockerfile has %d steps, not %d", n, steps)
	}
	// Every command is started from this thread, whose mount namespace
	// may be a private one.
	u, err := benchutil.StartUnbox(stdout, "build")
	if err != nil {
		return err
	}
	work, bin := u.Work, u.Bin
	defer os.RemoveAll(work)
	unbox := &engine{
		name: "unbox", base: []string{bin, "--root", filepath.Join(work, "unbox-root"), "--state", filepath.Join(work, "unbox-state")},
		build: []string{"build", "--network", "none"}, cached: "--> CACHED", tag: "unbox-bench-build:latest",
	}
	podman := &engine{
		name: "podman", base: []string{"podman", "--root", filepath.Join(work, "podman-root"), "--runroot", filepath.Join(work, "podman-run"),
			"--storage-driver", "overlay", "--cgroup-manager", "cgroupfs", "--events-backend", "none"},
		build: []string{"build", "--pull=never", "--network", "none", "--cgroup-parent", podmanCgroup,
			"--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096"},
		cached: "--> Using cache", tag: "localhost/unbox-bench-build:latest",
	}
	engines := []*engine{unbox, podman}
	defer cleanup(unbox, podman, work)

	// The base: unbox makes its built-in one on first use, saves it, and
	// podman loads that.
	fmt.Fprintln(stdout, "making the base image (unbox/busybox, saved by unbox, loaded into podman)...")
	if _, err := unbox.cmd("images", baseImage); err != nil {
		return err
	}
	tarball := filepath.Join(work, "busybox.tar")
	if _, err := unbox.cmd("tag", baseImage, podmanImage); err != nil {
		return err
	}
	if _, err := unbox.cmd("save", "-o", tarball, podmanImage); err != nil {
		return err
	}
	if _, err := unbox.cmd("rmi", podmanImage); err != nil {
		return err
	}
	if _, err := podman.cmd("load", "-i", tarball); err != nil {
		return err
	}
	contexts := map[*engine]string{}
	for _, e := range engines {
		base := map[*engine]string{unbox: baseImage, podman: podmanImage}[e]
		if contexts[e], err = writeContext(filepath.Join(work, "context-"+e.name), base); err != nil {
			return err
		}
	}

	for _, e := range engines {
		if e.before, err = e.images(); err != nil {
			return err
		}
	}

	printMachine(stdout, u.Cgroups, bin)

	for r := 0; r < *rounds; r++ {
		for _, cold := range []bool{true, false} {
			for i := range engines {
				e := engines[(i+r)%len(engines)]
				d, err := e.time(contexts[e], cold)
				if err != nil {
					return err
				}
				if cold {
					e.cold = append(e.cold, d)
				} else {
					e.warm = append(e.warm, d)
				}
			}
		}
		for _, e := range engines {
			if err := e.reset(e.before); err != nil {
				return err
			}
		}
		fmt.Fprintf(stdout, "  round %d: unbox %s / %s, podman %s / %s (cold / cached)\n", r+1,
			ms(unbox.cold[r]), ms(unbox.warm[r]), ms(podman.cold[r]), ms(podman.warm[r]))
	}
	report(stdout, unbox, podman, *rounds)
	return nil
}

// writeContext writes the build context into dir: the Dockerfile on base,
// a manifest, sources, and 1 MiB of data.
func writeContext(dir, base string) (string, error) {
	files := map[string][]byte{
		"Dockerfile":   []byte(strings.Replace(dockerfile, "BASE", base, 1)),
		"package.json": []byte(`{"name": "bench", "version": "1.0.0", "dependencies": {}}` + "\n"),
	}
	for i := range 20 {
		files[fmt.Sprintf("src/file%02d.js", i)] = []byte(fmt.Sprintf("exports.n%d = %d;\n", i, i))
	}
	data := make([]byte, 1<<20)
	rng := rand.NewChaCha8([32]byte{'u', 'n', 'b', 'o', 'x'})
	rng.Read(data)
	files["data.bin"] = data
	for name, b := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// time builds the context once, cold (--no-cache) or cached, and checks
// the build did what it was timed for (see ran).
func (e *engine) time(context string, cold bool) (time.Duration, error) {
	args := append(append([]string(nil), e.build...), "-t", e.tag)
	if cold {
		args = append(args, "--no-cache")
	}
	start := time.Now()
	out, err := e.cmd(append(args, context)...)
	d := time.Since(start)
	if err != nil {
		return 0, err
	}
	// Every step that makes an image (all but FROM and, in unbox, ARG)
	// is run, or every one is found in the cache.
	seen, hits, misses := e.ran(out)
	if seen != steps-1 || (cold && hits != 0) || (!cold && (misses != 0 || hits < steps-2)) {
		return 0, fmt.Errorf("%s build (cold %v): %d steps after FROM, %d found in the cache, %d run:\n%s", e.name, cold, seen, hits, misses, out)
	}
	return d, nil
}

// ran reads a build's output, where each step starts "STEP n/20: " and
// a step that makes an image ends "--> " with the image, or with the
// cached marker and the image (both engines print it so): how many steps
// after FROM it saw, how many of those took their image from the cache,
// and how many made it.
func (e *engine) ran(out string) (seen, hits, misses int) {
	step, arrow := 0, false
	for _, line := range strings.Split(out, "\n") {
		if n, _, ok := strings.Cut(strings.TrimPrefix(line, "STEP "), "/"); ok && strings.HasPrefix(line, "STEP ") {
			step, arrow = 0, false
			if _, err := fmt.Sscan(n, &step); err == nil && step > 1 {
				seen++
			}
			continue
		}
		if step > 1 && !arrow && strings.HasPrefix(line, "--> ") {
			arrow = true
			if strings.HasPrefix(line, e.cached) {
				hits++
			} else {
				misses++
			}
		}
	}
	return seen, hits, misses
}

// reset removes the built image and the steps' images (untimed), until
// the store holds as many images as it did before the first build (want):
// the next cold build starts from the same store, and neither engine's
// cache lookup has more images to search than the other's. One prune
// need not remove them all (podman's, here, does not), so it
// is repeated.
func (e *engine) reset(want int) error {
	if _, err := e.cmd("rmi", e.tag); err != nil {
		return err
	}
	n := 0
	for range steps {
		if _, err := e.cmd("image", "prune", "-f"); err != nil {
			return err
		}
		var err error
		if n, err = e.images(); err != nil || n == want {
			return err
		}
	}
	return fmt.Errorf("%s: %d images left after the builds; want %d", e.name, n, want)
}

// images counts the images in the store, the steps' ones too.
func (e *engine) images() (int, error) {
	out, err := e.cmd("images", "-a", "-q")
	return len(strings.Fields(out)), err
}

// cmd runs the engine with args and returns its output, standard error
// after standard output.
func (e *engine) cmd(args ...string) (string, error) {
	all := append(append([]string(nil), e.base...), args...)
	c := exec.Command(all[0], all[1:]...)
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	if err := c.Run(); err != nil {
		return out.String(), fmt.Errorf("%s: %v\n%s", strings.Join(all, " "), err, out.String())
	}
	return out.String(), nil
}

// cleanup removes both engines' images and containers, the cgroups
// podman's RUN steps left under the parent, and the mounts left in work.
func cleanup(unbox, podman *engine, work string) {
	unbox.cmd("rmi", "-f", unbox.tag, baseImage)
	unbox.cmd("image", "prune", "-a", "-f")
	podman.cmd("rm", "--all", "--force")
	podman.cmd("rmi", "--all", "--force")
	benchutil.RemoveCgroup(podmanCgroup, "")
	benchutil.UnmountUnder(work)
}

func printMachine(w io.Writer, note, bin string) {
	benchutil.PrintMachine(w)
	fmt.Fprintf(w, "cgroups: %s\n", note)
	version := benchutil.Version
	fmt.Fprintf(w, "unbox:   %s (built-in runtime)\n", version(bin, "--version"))
	fmt.Fprintf(w, "podman:  %s; buildah %s; runtime %s\n", version("podman", "--version"),
		version("podman", "info", "--format", "{{.Host.BuildahVersion}}"),
		version("podman", "info", "--format", "{{.Host.OCIRuntime.Name}} {{.Host.OCIRuntime.Version}}"))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

func report(w io.Writer, unbox, podman *engine, rounds int) {
	fmt.Fprintf(w, "\nmedians of %d rounds (engines alternating), a %d-step Dockerfile with 7 RUNs:\n", rounds, steps)
	fmt.Fprintf(w, "%-8s %20s %20s\n", "engine", "cold (--no-cache)", "cached rebuild")
	for _, e := range []*engine{unbox, podman} {
		fmt.Fprintf(w, "%-8s %20s %20s\n", e.name, ms(benchutil.Median(e.cold)), ms(benchutil.Median(e.warm)))
	}
	ratio := func(a, b time.Duration) float64 { return float64(a) / float64(b) }
	fmt.Fprintf(w, "\nratios (unbox / podman; below 1 is faster): cold %.2f, cached %.2f\n",
		ratio(benchutil.Median(unbox.cold), benchutil.Median(podman.cold)), ratio(benchutil.Median(unbox.warm), benchutil.Median(podman.warm)))
}
