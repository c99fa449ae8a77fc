//go:build linux

// Command engine times unbox against podman, side by side, in one run:
//
//	go run -exec sudo ./bench/engine            # 20 rounds, 5 idle containers each
//	go run -exec sudo ./bench/engine -rounds 50
//
// Two measures. Time: `run --rm IMAGE true`, a wall-clock time from this
// process, for unbox (built-in runtime) and podman (its default runtime,
// conmon), on the same image: the built-in unbox/busybox, exported by unbox
// and imported into podman. The engines take turns, in an order that
// alternates from round to round, and the bench prints the medians and
// their ratio. Memory: what one idle container costs beside its process,
// the resident size of unbox's monitor and of podman's conmon, each over
// `run -d IMAGE sleep` containers left a moment to settle: RSS (VmRSS) and
// PSS (the shared pages divided among their users, from smaps_rollup).
//
// Each engine keeps its images and state in the bench's directory (unbox
// --root/--state, podman --root/--runroot), so nothing of the machine's is
// touched, and both get no network (--network none for each; unbox's
// default, a bridge, adds a veth and nftables work this bench does not
// time): neither makes an interface. Root here cannot raise hard limits
// (no CAP_SYS_RESOURCE), so podman is told the limits to
// ask for (--ulimit nofile=1024:1024 --ulimit nproc=4096:4096). On a hybrid
// cgroup host both run in a private mount namespace without
// /sys/fs/cgroup/unified, where crun, podman's runtime, accepts the layout
// (bench/runtime does the same).
//
// unbox is built as the README says to install it: static, without
// urfave/cli's documentation generator (CGO_ENABLED=0 -tags
// urfave_cli_no_docs).
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
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

// The image podman runs: unbox's built-in one, imported.
const podmanImage = "localhost/unbox-bench-busybox:latest"

// podmanCgroup is the cgroup parent of podman's containers (and of
// conmon's cgroup), removed at the end.
const podmanCgroup = "/unbox-bench-podman"

// engine is one engine under test.
type engine struct {
	name  string
	base  []string // the command and its global flags
	state string   // unbox's --state
	run   []string // "run" and its flags, before the image
	image string
	times []time.Duration
	rss   []int64 // KiB, of the monitor (conmon)
	pss   []int64
	ids   []string // idle containers to remove
}

func run(args []string, stdout io.Writer) error {
	fl := flag.NewFlagSet("bench", flag.ContinueOnError)
	rounds := fl.Int("rounds", 20, "rounds; each runs a container with each engine once")
	idle := fl.Int("idle", 5, "idle containers per engine for the monitor's memory")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return errors.New("containers need root: go run -exec sudo ./bench/engine")
	}
	for _, p := range []string{"podman", "conmon"} {
		if _, err := exec.LookPath(p); err != nil {
			return fmt.Errorf("%s: %w (apt-get install podman)", p, err)
		}
	}
	// Every command is started from this thread, whose mount namespace
	// may be a private one.
	u, err := benchutil.StartUnbox(stdout, "engine")
	if err != nil {
		return err
	}
	work, bin := u.Work, u.Bin
	defer os.RemoveAll(work)
	state := filepath.Join(work, "unbox-state")
	unbox := &engine{
		name: "unbox", base: []string{bin, "--root", filepath.Join(work, "unbox-root"), "--state", state}, state: state,
		run: []string{"run", "--network", "none"}, image: "unbox/busybox",
	}
	podman := &engine{
		name: "podman", base: []string{"podman", "--root", filepath.Join(work, "podman-root"), "--runroot", filepath.Join(work, "podman-run"),
			"--storage-driver", "overlay", "--cgroup-manager", "cgroupfs", "--events-backend", "none"},
		run: []string{"run", "--network", "none", "--cgroup-parent", podmanCgroup,
			"--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096"},
		image: podmanImage,
	}
	engines := []*engine{unbox, podman}
	defer cleanup(engines)

	// The image: unbox makes its built-in one on first use, exports a
	// container of it, and podman imports that.
	fmt.Fprintln(stdout, "making the image (unbox/busybox, exported into podman)...")
	if _, err := unbox.cmd("run", "--rm", unbox.image, "true"); err != nil {
		return err
	}
	tarball := filepath.Join(work, "busybox.tar")
	if _, err := unbox.cmd("create", "--name", "ubx-bench-export", unbox.image, "true"); err != nil {
		return err
	}
	if _, err := unbox.cmd("export", "-o", tarball, "ubx-bench-export"); err != nil {
		return err
	}
	if _, err := unbox.cmd("rm", "ubx-bench-export"); err != nil {
		return err
	}
	if _, err := podman.cmd("import", tarball, podmanImage); err != nil {
		return err
	}
	if _, err := podman.cmd(podman.runArgs([]string{"--rm"}, "true")...); err != nil { // first run: podman's own setup
		return err
	}

	printMachine(stdout, u.Cgroups, bin)

	for r := 0; r < *rounds; r++ {
		for i := range engines {
			e := engines[(i+r)%len(engines)]
			start := time.Now()
			if _, err := e.cmd(e.runArgs([]string{"--rm"}, "true")...); err != nil {
				return err
			}
			e.times = append(e.times, time.Since(start))
		}
		if (r+1)%10 == 0 {
			fmt.Fprintf(stdout, "  %d rounds done\n", r+1)
		}
	}

	for _, e := range engines {
		for i := 0; i < *idle; i++ {
			out, err := e.cmd(e.runArgs([]string{"-d"}, "sleep", "600")...)
			if err != nil {
				return err
			}
			e.ids = append(e.ids, strings.TrimSpace(out))
		}
	}
	// Let the monitors finish starting (Go's runtime returns memory it
	// no longer uses in the background), then read them.
	time.Sleep(3 * time.Second)
	for _, e := range engines {
		for _, id := range e.ids {
			pid, err := e.monitorPid(id)
			if err != nil {
				return err
			}
			rss, pss, err := memoryOf(pid)
			if err != nil {
				return err
			}
			e.rss, e.pss = append(e.rss, rss), append(e.pss, pss)
		}
	}
	report(stdout, unbox, podman, *rounds)
	return nil
}

// runArgs is `run` with the engine's flags and opts, the image, then the
// command.
func (e *engine) runArgs(opts []string, command ...string) []string {
	args := append(append([]string(nil), e.run...), opts...)
	return append(append(args, e.image), command...)
}

// cmd runs the engine with args and returns its standard output.
func (e *engine) cmd(args ...string) (string, error) {
	all := append(append([]string(nil), e.base...), args...)
	c := exec.Command(all[0], all[1:]...)
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	if err := c.Run(); err != nil {
		return out.String(), fmt.Errorf("%s: %v\n%s%s", strings.Join(all, " "), err, out.String(), errb.String())
	}
	return out.String(), nil
}

// monitorPid is the PID of the container's monitor: unbox's from its
// monitor.json, podman's conmon from inspect.
func (e *engine) monitorPid(id string) (int, error) {
	if e.name == "podman" {
		out, err := e.cmd("inspect", "--format", "{{.State.ConmonPid}}", id)
		if err != nil {
			return 0, err
		}
		return strconv.Atoi(strings.TrimSpace(out))
	}
	out, err := e.cmd("inspect", id)
	if err != nil {
		return 0, err
	}
	var recs []struct {
		ID string `json:"Id"`
	}
	if err := json.Unmarshal([]byte(out), &recs); err != nil || len(recs) != 1 {
		return 0, fmt.Errorf("unbox inspect %s: %v\n%s", id, err, out)
	}
	b, err := os.ReadFile(filepath.Join(e.state, "containers", recs[0].ID[:12], "monitor.json"))
	if err != nil {
		return 0, err
	}
	var mi struct{ Pid int }
	if err := json.Unmarshal(b, &mi); err != nil || mi.Pid <= 0 {
		return 0, fmt.Errorf("monitor.json of %s: %q (%v)", id, b, err)
	}
	return mi.Pid, nil
}

// memoryOf reads a process's resident set (VmRSS) and its proportional
// share (Pss, of /proc/<pid>/smaps_rollup), in KiB.
func memoryOf(pid int) (rss, pss int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		n, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "Rss:":
			rss = n
		case "Pss:":
			pss = n
		}
	}
	if rss == 0 {
		return 0, 0, fmt.Errorf("/proc/%d/smaps_rollup: no Rss", pid)
	}
	return rss, pss, nil
}

// cleanup removes the containers and images, then the cgroups podman left
// (conmon's own, under the parent).
func cleanup(engines []*engine) {
	for _, e := range engines {
		if len(e.ids) > 0 {
			e.cmd(append([]string{"rm", "-f"}, e.ids...)...)
		}
		if e.name == "podman" {
			e.cmd("rm", "--all", "--force")
			e.cmd("rmi", "--all", "--force")
		} else {
			e.cmd("rmi", "-f", e.image)
		}
	}
	benchutil.RemoveCgroup(podmanCgroup, "conmon")
}

func printMachine(w io.Writer, note, bin string) {
	benchutil.PrintMachine(w)
	fmt.Fprintf(w, "cgroups: %s\n", note)
	version := benchutil.Version
	fmt.Fprintf(w, "unbox:   %s (built-in runtime)\n", version(bin, "--version"))
	fmt.Fprintf(w, "podman:  %s; %s; runtime %s\n", version("podman", "--version"), version("conmon", "--version"),
		version("podman", "info", "--format", "{{.Host.OCIRuntime.Name}} {{.Host.OCIRuntime.Version}}"))
}

func report(w io.Writer, unbox, podman *engine, rounds int) {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
	fmt.Fprintf(w, "\nmedians of %d rounds (engines alternating); the monitor of %d idle containers each:\n", rounds, len(unbox.ids))
	fmt.Fprintf(w, "%-8s %20s %18s %18s\n", "engine", "run --rm IMAGE true", "monitor RSS", "monitor PSS")
	for _, e := range []*engine{unbox, podman} {
		fmt.Fprintf(w, "%-8s %20s %14d KiB %14d KiB\n", e.name, ms(benchutil.Median(e.times)), benchutil.Median(e.rss), benchutil.Median(e.pss))
	}
	ratio := func(a, b int64) float64 { return float64(a) / float64(b) }
	fmt.Fprintf(w, "\nratios (unbox / podman; below 1 is faster or smaller): run --rm %.2f, monitor RSS %.2f, PSS %.2f\n",
		ratio(int64(benchutil.Median(unbox.times)), int64(benchutil.Median(podman.times))),
		ratio(benchutil.Median(unbox.rss), benchutil.Median(podman.rss)), ratio(benchutil.Median(unbox.pss), benchutil.Median(podman.pss)))
}
