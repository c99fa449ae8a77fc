//go:build linux

// Command runtime times unbox-runtime against runc and crun, side by side,
// on the same bundle, in one run:
//
//	go run -exec sudo ./bench/runtime            # 30 rounds
//	go run -exec sudo ./bench/runtime -rounds 100
//
// Two measures, each a wall-clock time from this process: `run` of
// /bin/true (create, start, wait, delete in one command), and
// create+start+delete as three commands (the container's own run time, the
// wait for /bin/true to exit, is left out). The runtimes take turns within
// each round, in an order that rotates from round to round, so that a noisy
// neighbour or a warming cache is spread over all three. It prints the
// medians, the ratios to runc and crun, and the median peak RSS of each
// runtime's processes (the largest of the runtime and the children it
// reaped: its init before the exec, for run), taken by busybox's time in a
// run of its own.
//
// crun 1.8 refuses a host with the hybrid cgroup layout ("cgroups in
// hybrid mode not supported, drop all controllers from cgroupv2"). On such
// a host the bench runs everything, all three runtimes alike, in a private
// mount namespace where /sys/fs/cgroup/unified is unmounted: the same v1
// hierarchies, without the empty cgroup2 tree. It says so in its output.
//
// unbox-runtime is built here as the README says to build it: static, with
// urfave/cli's documentation generator left out (CGO_ENABLED=0 -tags
// urfave_cli_no_docs).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/bench/internal/benchutil"
	"github.com/unboxlab/unbox/capstone/specconv"
	"github.com/unboxlab/unbox/internal/rootfs"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// peer is one runtime under test.
type peer struct {
	name string
	bin  string
	root string
	// samples
	run, csd []time.Duration
	rss      []int64 // KiB
}

func run(args []string, stdout io.Writer) error {
	fl := flag.NewFlagSet("bench", flag.ContinueOnError)
	rounds := fl.Int("rounds", 30, "rounds; each runs every runtime once per measure")
	only := fl.String("runtimes", "unbox-runtime,runc,crun", "the runtimes to compare")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return errors.New("containers need root: go run -exec sudo ./bench/runtime")
	}
	// Every command this process starts is started from this thread,
	// whose mount namespace may be a private one (below).
	runtime.LockOSThread()
	work, err := os.MkdirTemp("", "unbox-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	note, err := cgroupSetting()
	if err != nil {
		return err
	}
	// The bench reaps the inits that create leaves, as a shim would.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return err
	}

	fmt.Fprintln(stdout, "building unbox-runtime (CGO_ENABLED=0 -tags urfave_cli_no_docs) and the bundle...")
	ours := filepath.Join(work, "unbox-runtime")
	if err := benchutil.Build(ours, "./capstone/cmd/unbox-runtime"); err != nil {
		return err
	}
	bundle := filepath.Join(work, "bundle")
	if err := makeBundle(bundle); err != nil {
		return err
	}
	var peers []*peer
	for _, name := range strings.Split(*only, ",") {
		bin := ours
		if name != "unbox-runtime" {
			if bin, err = exec.LookPath(name); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		}
		peers = append(peers, &peer{name: name, bin: bin, root: filepath.Join(work, "state-"+name)})
	}
	printMachine(stdout, peers, note)
	defer removeCgroups()

	for r := 0; r < *rounds; r++ {
		for i := range peers {
			p := peers[(i+r)%len(peers)]
			id := fmt.Sprintf("ubx-bench-%d", r)
			d, rss, err := p.timeRun(bundle, id+"-run")
			if err != nil {
				return err
			}
			p.run, p.rss = append(p.run, d), append(p.rss, rss)
			d, err = p.timeCreateStartDelete(bundle, id+"-csd")
			if err != nil {
				return err
			}
			p.csd = append(p.csd, d)
		}
		if (r+1)%10 == 0 {
			fmt.Fprintf(stdout, "  %d rounds done\n", r+1)
		}
	}
	report(stdout, peers, *rounds)
	return nil
}

// cgroupSetting makes a hybrid host look like a v1 one to crun (see the
// package doc), in this thread's own mount namespace.
func cgroupSetting() (string, error) {
	mode, hidden, err := benchutil.HideUnified()
	if err != nil || !hidden {
		return mode.String(), err
	}
	return mode.String() + " host; all three runtimes ran in a private mount namespace without /sys/fs/cgroup/unified " +
		"(cgroup v1, the same hierarchies), because crun 1.8 refuses the hybrid layout", nil
}

// makeBundle writes the bundle all runtimes run: the fixture, runc's
// default spec (with a cgroup namespace), /bin/true, no terminal.
func makeBundle(dir string) error {
	if _, err := rootfs.Build(context.Background(), filepath.Join(dir, "rootfs"), rootfs.Options{}); err != nil {
		return err
	}
	s := specconv.Example()
	// crun 1.8 knows spec versions up to 1.0; nothing here is newer.
	s.Version = "1.0.2"
	s.Process.Terminal = false
	s.Process.Args = []string{"/bin/true"}
	b, err := json.MarshalIndent(s, "", "\t")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644)
}

// withCgroup writes the bundle's cgroupsPath for one container: every
// runtime's cgroups go under /unbox-bench, removed at the end.
func withCgroup(bundle, id string) error {
	path := filepath.Join(bundle, "config.json")
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	s, err := specconv.Parse(path, b)
	if err != nil {
		return err
	}
	s.Linux.CgroupsPath = "/unbox-bench/" + id
	b, err = json.MarshalIndent(s, "", "\t")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

func (p *peer) cmd(args ...string) *exec.Cmd {
	return exec.Command(p.bin, append([]string{"--root", p.root}, args...)...)
}

// runCmd runs cmd with its output in a file, not a pipe: the container's
// init inherits create's stdio and holds it open, so a pipe would not see
// its end when create exits.
func runCmd(cmd *exec.Cmd) (string, error) {
	f, err := os.CreateTemp("", "unbox-bench-out-")
	if err != nil {
		return "", err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	cmd.Stdout, cmd.Stderr = f, f
	err = cmd.Run()
	out, _ := os.ReadFile(f.Name())
	return string(out), err
}

// timeRun times `run`, then runs it again to take the peak RSS of its
// processes.
func (p *peer) timeRun(bundle, id string) (time.Duration, int64, error) {
	if err := withCgroup(bundle, id); err != nil {
		return 0, 0, err
	}
	cmd := p.cmd("run", "--bundle", bundle, id)
	start := time.Now()
	out, err := runCmd(cmd)
	d := time.Since(start)
	if err != nil {
		return 0, 0, fmt.Errorf("%s run: %v\n%s", p.name, err, out)
	}
	rss, err := p.peakRSS(bundle, id+"-rss")
	return d, rss, err
}

// peakRSS runs `run` under GNU time (/usr/bin/time), which reports the
// largest RSS of the process and the children it reaped (getrusage(2)
// ru_maxrss). Not from this process: a child forked from a Go program
// starts with the parent's memory counted in its ru_maxrss (exec keeps the
// high-water mark); time is a small C program (its own ~1 MiB is the floor
// of every figure). busybox's time would do, but it counts ru_maxrss in
// pages, four times too much.
func (p *peer) peakRSS(bundle, id string) (int64, error) {
	if err := withCgroup(bundle, id); err != nil {
		return 0, err
	}
	report := filepath.Join(filepath.Dir(bundle), "rss")
	cmd := exec.Command("/usr/bin/time", append([]string{"-f", "%M", "-o", report, p.bin, "--root", p.root, "run", "--bundle", bundle}, id)...)
	if out, err := runCmd(cmd); err != nil {
		return 0, fmt.Errorf("%s run under /usr/bin/time: %v\n%s", p.name, err, out)
	}
	b, err := os.ReadFile(report)
	if err != nil {
		return 0, err
	}
	var kib int64
	_, err = fmt.Sscan(string(b), &kib)
	return kib, err
}

// timeCreateStartDelete times the three commands, not the wait between
// start and delete for /bin/true to end.
func (p *peer) timeCreateStartDelete(bundle, id string) (time.Duration, error) {
	if err := withCgroup(bundle, id); err != nil {
		return 0, err
	}
	pidFile := filepath.Join(filepath.Dir(bundle), "pid")
	var total time.Duration
	step := func(args ...string) error {
		start := time.Now()
		out, err := runCmd(p.cmd(args...))
		total += time.Since(start)
		if err != nil {
			return fmt.Errorf("%s %s: %v\n%s", p.name, strings.Join(args, " "), err, out)
		}
		return nil
	}
	if err := step("create", "--bundle", bundle, "--pid-file", pidFile, id); err != nil {
		return 0, err
	}
	var pid int
	if b, err := os.ReadFile(pidFile); err != nil {
		return 0, err
	} else if _, err := fmt.Sscan(string(b), &pid); err != nil || pid <= 0 {
		return 0, fmt.Errorf("%s: --pid-file holds %q", p.name, b)
	}
	if err := step("start", id); err != nil {
		return 0, err
	}
	// The init is ours to reap (subreaper); its end is the container's.
	var ws unix.WaitStatus
	if _, err := unix.Wait4(pid, &ws, 0, nil); err != nil {
		return 0, fmt.Errorf("%s: wait for the init %d: %w", p.name, pid, err)
	}
	if err := step("delete", id); err != nil {
		return 0, err
	}
	return total, nil
}

func removeCgroups() { benchutil.RemoveCgroup("unbox-bench", "") }

func printMachine(w io.Writer, peers []*peer, note string) {
	benchutil.PrintMachine(w)
	fmt.Fprintf(w, "cgroups: %s\n", note)
	for _, p := range peers {
		out, _ := exec.Command(p.bin, "--version").Output()
		fmt.Fprintf(w, "%-14s %s\n", p.name+":", strings.SplitN(strings.TrimSpace(string(out)), "\n", 2)[0])
	}
}

func report(w io.Writer, peers []*peer, rounds int) {
	byName := map[string]*peer{}
	for _, p := range peers {
		byName[p.name] = p
	}
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
	ratio := func(a, b time.Duration) string { return fmt.Sprintf("%.2f", float64(a)/float64(b)) }
	fmt.Fprintf(w, "\nmedians of %d rounds (runtimes alternating):\n", rounds)
	fmt.Fprintf(w, "%-14s %12s %22s %16s\n", "runtime", "run /bin/true", "create+start+delete", "peak RSS")
	for _, p := range peers {
		fmt.Fprintf(w, "%-14s %12s %22s %13d KiB\n", p.name, ms(benchutil.Median(p.run)), ms(benchutil.Median(p.csd)), benchutil.Median(p.rss))
	}
	u := byName["unbox-runtime"]
	if u == nil {
		return
	}
	fmt.Fprintln(w, "\nratios (unbox-runtime / peer; below 1 is faster or smaller):")
	for _, name := range []string{"runc", "crun"} {
		p := byName[name]
		if p == nil {
			continue
		}
		fmt.Fprintf(w, "  vs %-5s run %s, create+start+delete %s, peak RSS %.2f\n", name,
			ratio(benchutil.Median(u.run), benchutil.Median(p.run)), ratio(benchutil.Median(u.csd), benchutil.Median(p.csd)), float64(benchutil.Median(u.rss))/float64(benchutil.Median(p.rss)))
	}
}
