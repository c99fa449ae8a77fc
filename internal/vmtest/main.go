// Command vmtest is the VM test lane: it runs the privileged tests
// (TestPriv…) of every package that has them inside throw-away VMs, one per
// cgroup setup, and fails when any test fails or skips.
//
//	go run ./internal/vmtest            # every package, the default modes
//	go run ./internal/vmtest -v -modes hybrid ./lessons/02-cgroups
//
// Learners run pure cgroup v2 kernels, with or without systemd, and older
// distributions cgroup v1; a CI machine has one of these, and the other
// code paths would go untested. So the lane boots a pinned Debian kernel
// (kernelpin.go, kernel.go) under QEMU with an initramfs holding static
// busybox, the kernel modules the lessons need, and each package's static
// test binary with its testdata/ and README.md (initramfs.go). Its /init
// (init.sh) sets up the cgroup mode, runs each binary from its package
// directory with -test.run '^TestPriv' and UNBOX_REQUIRE_PRIVILEGED=1, and
// reports over the serial port with a marker per binary; this side parses
// that (report.go) and prints per-test results. No network device, no disk.
//
// The modes (modes.go): "bare" (cgroup v2, no controller enabled at the
// root, as on a machine without systemd: the tests must cope), "systemd"
// (cgroup v2, controllers delegated down to a login session, nsdelegate, a
// shared "/", as in the Vagrant lab's Ubuntu) and "hybrid" (cgroup v1 as
// systemd lays it out, cpu,cpuacct mounted together, with cgroup2 beside
// it) by default; "legacy" (cgroup v1 alone) on request. Each boot reports
// the layout it saw, and a boot that is not the layout of its mode fails. A
// few tests cannot run in a VM by their nature; exclusions.go lists them
// with the reason, and every report prints that list.
//
// Software emulation (TCG) is used unless -kvm or UNBOX_VM_KVM=1 asks for
// KVM. It needs qemu-system-x86, busybox-static, xz-utils, and apt (for the
// kernel package); `.ci/run` installs them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	var usage usageError
	switch {
	case err == nil:
	case errors.As(err, &usage):
		fmt.Fprintln(os.Stderr, "vmtest:", err)
		os.Exit(2)
	case errors.Is(err, errTestsFailed):
		os.Exit(1)
	default:
		fmt.Fprintln(os.Stderr, "vmtest:", err)
		os.Exit(1)
	}
}

type usageError struct{ error }

var errTestsFailed = errors.New("tests failed")

type options struct {
	modes       []string
	kvm         bool
	cpus, mem   int
	parallel    int
	testTimeout time.Duration
	bootTimeout time.Duration
	timeout     time.Duration
	kernelDebs  []string
	cacheDir    string
	qemu        string
	keep        bool
	bumpKernel  bool
	verbose     bool
	patterns    []string
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fl := flag.NewFlagSet("vmtest", flag.ContinueOnError)
	fl.SetOutput(stderr)
	fl.Usage = func() {
		fmt.Fprintln(stderr, "usage: go run ./internal/vmtest [flags] [packages] (default ./...)")
		fl.PrintDefaults()
		fmt.Fprintln(stderr, "\nmodes (see init.sh):")
		for _, m := range bootModes {
			fmt.Fprintf(stderr, "  %-8s %s\n", m.Name, m.About)
		}
	}
	modes := fl.String("modes", strings.Join(defaultModes, ","), "cgroup setups to boot, comma-separated: "+modeNames())
	fl.BoolVar(&o.kvm, "kvm", os.Getenv("UNBOX_VM_KVM") == "1", "use KVM instead of software emulation (default from UNBOX_VM_KVM=1)")
	fl.IntVar(&o.cpus, "cpus", 0, "virtual CPUs per VM (default: the host's CPUs shared among the VMs at once, 1 to 4)")
	fl.IntVar(&o.mem, "memory", 1024, "memory per VM, MiB")
	fl.IntVar(&o.parallel, "parallel", 0, "VMs at once (default: every mode at once)")
	fl.DurationVar(&o.testTimeout, "test-timeout", 20*time.Minute, "limit for each test binary, inside the VM (-test.timeout); the engine's, capstone/cmd/unbox, took over 10 minutes in CI under TCG with 1 CPU")
	fl.DurationVar(&o.bootTimeout, "boot-timeout", 60*time.Second, "limit for the kernel to start /init; past it, boot again once")
	fl.DurationVar(&o.timeout, "timeout", 40*time.Minute, "limit for each whole boot")
	kernelDebs := fl.String("kernel-deb", "", "kernel packages (.deb, comma-separated: the image, and the modules where they come apart) to boot instead of the pinned one (kernelpin.go)")
	fl.BoolVar(&o.bumpKernel, "bump-kernel", false, "print the kernel pin for apt's current linux-image-amd64, for kernelpin.go, and exit")
	fl.StringVar(&o.cacheDir, "cache", "", "where the kernel package and the kernel unpacked from it are kept (default: the user's cache directory)/unbox/vmtest")
	fl.StringVar(&o.qemu, "qemu", "qemu-system-x86_64", "the QEMU binary")
	fl.BoolVar(&o.keep, "keep", false, "keep the work directory (initramfs, serial logs) even when all passes")
	fl.BoolVar(&o.verbose, "v", false, "print the VM's serial output as it comes")
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, usageError{err}
	}
	for _, m := range strings.Split(*modes, ",") {
		m = strings.TrimSpace(m)
		if _, ok := findMode(m); !ok {
			return nil, usageError{fmt.Errorf("-modes: unknown mode %q (want %s)", m, modeNames())}
		}
		if !slices.Contains(o.modes, m) {
			o.modes = append(o.modes, m)
		}
	}
	o.parallel, o.cpus = vmShape(o.parallel, o.cpus, len(o.modes), runtime.NumCPU())
	if *kernelDebs != "" {
		o.kernelDebs = strings.Split(*kernelDebs, ",")
	}
	o.patterns = fl.Args()
	if len(o.patterns) == 0 {
		o.patterns = []string{"./..."}
	}
	if o.cacheDir == "" {
		d, err := os.UserCacheDir()
		if err != nil {
			return nil, fmt.Errorf("no cache directory: %w (use -cache DIR)", err)
		}
		o.cacheDir = filepath.Join(d, "unbox", "vmtest")
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if o.bumpKernel {
		return bumpKernel(ctx, stdout)
	}
	start := time.Now()
	logf := func(format string, a ...any) { fmt.Fprintf(stdout, "vmtest: "+format+"\n", a...) }
	accel := "software emulation (TCG)"
	if o.kvm {
		accel = "KVM"
	}
	logf("privileged tests in a VM per cgroup mode: %s; %s, %d at once, %d CPUs and %d MiB each", strings.Join(o.modes, ", "), accel, o.parallel, o.cpus, o.mem)

	busybox, err := findStaticBusybox()
	if err != nil {
		return err
	}
	pkgs, err := discover(ctx, o.patterns)
	if err != nil {
		return err
	}
	if len(pkgs) == 0 {
		return fmt.Errorf("no package in %s has TestPriv tests", strings.Join(o.patterns, " "))
	}
	if err := applyExclusions(pkgs, exclusions); err != nil {
		return err
	}
	if err := applyModeLimits(pkgs, modeLimits, slices.Equal(o.patterns, []string{"./..."})); err != nil {
		return err
	}
	if err := os.MkdirAll(o.cacheDir, 0o755); err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "unbox-vmtest-")
	if err != nil {
		return err
	}
	keep := o.keep
	defer func() {
		if !keep {
			os.RemoveAll(work)
		}
	}()

	// The kernel (download, unpack, decompress) and the test binaries are
	// prepared at the same time.
	t := time.Now()
	var k *kernel
	var kernelErr error
	var kernelTime time.Duration
	done := make(chan struct{})
	go func() {
		defer close(done)
		kt := time.Now()
		k, kernelErr = prepareKernel(ctx, o.cacheDir, o.kernelDebs, logf)
		kernelTime = time.Since(kt)
	}()
	build(ctx, pkgs, work)
	buildTime := time.Since(t)
	<-done
	if kernelErr != nil {
		return kernelErr
	}
	logf("kernel %s from %s, %s boot, ready in %.1fs; %d test binaries built in %.1fs",
		k.Release, k.Source, map[bool]string{true: "PVH", false: "bzImage"}[k.PVH], kernelTime.Seconds(), countBuilt(pkgs), buildTime.Seconds())

	initramfs := filepath.Join(work, "initramfs.cpio")
	if err := buildInitramfs(initramfs, busybox, k, pkgs); err != nil {
		return err
	}
	if fi, err := os.Stat(initramfs); err == nil {
		logf("initramfs: %.1f MiB, %d kernel modules", float64(fi.Size())/(1<<20), len(k.Modules))
	}

	var mu sync.Mutex
	progress := func(mode string, p *packageRun, r testResult) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(stdout, "  %-8s %-28s %-4s %s (%s)\n", mode, p.Pkg, r.Status, r.Name, r.Elapsed)
	}
	var echo io.Writer
	if o.verbose {
		echo = &lockedWriter{w: stdout, mu: &mu}
	}
	boots := make([]*bootLog, len(o.modes))
	sem := make(chan struct{}, o.parallel)
	var wg sync.WaitGroup
	bootsStart := time.Now()
	for i, mode := range o.modes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			boots[i] = boot(ctx, vmConfig{
				QEMU: o.qemu, Kernel: k, Initramfs: initramfs, Mode: mode, KVM: o.kvm,
				CPUs: o.cpus, MemoryMiB: o.mem, TestTimeout: o.testTimeout,
				BootTimeout: o.bootTimeout, Timeout: o.timeout,
				LogPath: filepath.Join(work, "serial-"+mode+".log"), Echo: echo, Progress: progress,
			}, logf)
		}()
	}
	wg.Wait()
	bootsTime := time.Since(bootsStart)

	ok := report(stdout, pkgs, boots, o.modes)
	fmt.Fprintf(stdout, "\ntimings: kernel %.1fs, build %.1fs (together %.1fs), VMs %.1fs (%d at once), whole lane %.1fs\n",
		kernelTime.Seconds(), buildTime.Seconds(), max(kernelTime, buildTime).Seconds(), bootsTime.Seconds(), o.parallel, time.Since(start).Seconds())
	if !ok {
		keep = true
		fmt.Fprintf(stdout, "serial logs kept in %s\n", work)
		return errTestsFailed
	}
	if o.keep {
		fmt.Fprintf(stdout, "work directory kept: %s\n", work)
	}
	return ctx.Err()
}

// vmShape fills in how many VMs run at once and how many CPUs each has,
// where the flags leave it to us: every boot at once, the host's CPUs
// shared among them, at least one each. Under TCG a VM spends much of its
// time idle (a test waits for a child, a timer, the console), and the
// tests in it run one binary at a time: on two host CPUs, three
// single-CPU VMs at once took the three boots in about two thirds of the
// time that two two-CPU VMs, then the third, did.
// More than 4 CPUs buys nothing for tests that run one binary at a time.
func vmShape(parallel, cpus, boots, hostCPUs int) (int, int) {
	if parallel <= 0 {
		parallel = max(1, boots)
	}
	if cpus <= 0 {
		cpus = min(4, max(1, hostCPUs/min(parallel, boots)))
	}
	return parallel, cpus
}

func countBuilt(pkgs []*testPackage) int {
	n := 0
	for _, p := range pkgs {
		if p.Binary != "" {
			n++
		}
	}
	return n
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// report prints the guest's own account of its cgroup setup, a table per
// package and mode, the exclusions, and the output of everything that
// failed; it returns whether everything passed.
func report(w io.Writer, pkgs []*testPackage, boots []*bootLog, modes []string) bool {
	ok := true
	fmt.Fprintln(w, "\ninside the VM:")
	for _, b := range boots {
		if len(b.Info) > 0 {
			describeBoot(w, b)
		}
	}
	fmt.Fprintln(w, "\nboots:")
	for _, b := range boots {
		fmt.Fprintf(w, "  %-8s %s\n", b.Mode, bootTimings(b))
		var problems []string
		if b.HostErr != nil {
			problems = append(problems, b.HostErr.Error())
		}
		for _, f := range b.Fatal {
			problems = append(problems, "/init: "+f)
		}
		if b.HostErr == nil && len(b.Fatal) == 0 && !b.Done {
			problems = append(problems, "the VM stopped before /init said it was done")
		}
		if b.Ready {
			if lp := layoutProblems(b); len(lp) > 0 {
				problems = append(problems, "not the "+b.Mode+" cgroup layout: "+strings.Join(lp, "; "))
			}
		}
		if len(problems) > 0 {
			ok = false
			fmt.Fprintf(w, "  %-8s FAILED: %s\n", "", strings.Join(problems, "; "))
			fmt.Fprintf(w, "  %-8s last lines of the serial console:\n", "")
			for _, l := range tail(b.Lines, 30) {
				fmt.Fprintf(w, "  %-8s | %s\n", "", l)
			}
		}
	}

	var verdicts []verdict
	fmt.Fprintf(w, "\n  %-8s %-28s %6s %7s %6s %8s %7s\n", "mode", "package", "passed", "skipped", "failed", "excluded", "time")
	var tp, ts, tf int
	for _, b := range boots {
		for _, p := range pkgs {
			v := judge(b, p)
			verdicts = append(verdicts, v)
			if v.NotInMode && v.ok() {
				continue
			}
			status := ""
			if !v.ok() {
				ok = false
				status = "  FAIL"
			}
			fmt.Fprintf(w, "  %-8s %-28s %6d %7d %6d %8d %6.1fs%s\n", v.Mode, v.Pkg, v.Passed, v.Skipped, v.Failed, v.Excluded, v.Elapsed.Seconds(), status)
			tp, ts, tf = tp+v.Passed, ts+v.Skipped, tf+v.Failed
		}
	}

	var excl []string
	for _, p := range pkgs {
		for _, e := range p.Excluded {
			excl = append(excl, fmt.Sprintf("  %s %s: %s", e.Pkg, e.Test, e.Reason))
		}
	}
	if len(excl) > 0 {
		fmt.Fprintf(w, "\nexcluded from the VM (internal/vmtest/exclusions.go), in every mode:\n%s\n", strings.Join(excl, "\n"))
	}
	var limited []string
	for _, p := range pkgs {
		if len(p.Modes) > 0 {
			limited = append(limited, fmt.Sprintf("  %s, in %s only: %s", p.Rel, strings.Join(p.Modes, ", "), modeReason(p.Rel)))
		}
	}
	if len(limited) > 0 {
		fmt.Fprintf(w, "\nrun in some modes only (internal/vmtest/exclusions.go):\n%s\n", strings.Join(limited, "\n"))
	}

	for _, v := range verdicts {
		if v.ok() {
			continue
		}
		fmt.Fprintf(w, "\n--- %s %s\n", v.Mode, v.Pkg)
		for _, p := range v.Problems {
			fmt.Fprintf(w, "    %s\n", p)
		}
		run := findRun(boots, v.Mode, v.Pkg)
		if run == nil {
			continue
		}
		for _, name := range append(slices.Clone(v.FailedTests), v.SkippedTests...) {
			if strings.Contains(name, "/") && slices.Contains(v.FailedTests, name[:strings.Index(name, "/")]) {
				continue // printed with its parent
			}
			fmt.Fprintf(w, "    output of %s:\n", name)
			for _, o := range testOutput(run, name) {
				if o.name != name {
					fmt.Fprintf(w, "    | (%s)\n", o.name)
				}
				for _, l := range o.lines {
					fmt.Fprintf(w, "    | %s\n", l)
				}
			}
		}
		if len(v.Problems) > 0 {
			fmt.Fprintf(w, "    last lines of its output:\n")
			for _, l := range tail(run.Lines, 40) {
				fmt.Fprintf(w, "    | %s\n", l)
			}
		}
	}
	fmt.Fprintf(w, "\nvmtest: %d passed, %d failed, %d skipped\n", tp, tf, ts)
	if ts > 0 {
		fmt.Fprintln(w, "vmtest: a skip is a failure here (UNBOX_REQUIRE_PRIVILEGED=1)")
	}
	return ok && tf == 0 && ts == 0
}

func bootTimings(b *bootLog) string {
	var parts []string
	if !b.BootedAt.IsZero() {
		parts = append(parts, fmt.Sprintf("kernel to /init %.1fs", b.BootedAt.Sub(b.Start).Seconds()))
	}
	if !b.ReadyAt.IsZero() && !b.BootedAt.IsZero() {
		parts = append(parts, fmt.Sprintf("setup %.1fs", b.ReadyAt.Sub(b.BootedAt).Seconds()))
		parts = append(parts, fmt.Sprintf("tests and power-off %.1fs", b.End.Sub(b.ReadyAt).Seconds()))
	}
	parts = append(parts, fmt.Sprintf("total %.1fs", b.End.Sub(b.Start).Seconds()))
	if b.Attempts > 1 {
		parts = append(parts, fmt.Sprintf("(%d boots: the first hung before /init)", b.Attempts))
	}
	return strings.Join(parts, ", ")
}

func findRun(boots []*bootLog, mode, pkg string) *packageRun {
	for _, b := range boots {
		if b.Mode != mode {
			continue
		}
		for _, r := range b.Packages {
			if r.Pkg == pkg {
				return r
			}
		}
	}
	return nil
}

type namedOutput struct {
	name  string
	lines []string
}

// testOutput is what a test and each of its subtests printed, the test
// first.
func testOutput(run *packageRun, name string) []namedOutput {
	var names []string
	for n := range run.Output {
		if n == name || strings.HasPrefix(n, name+"/") {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	out := make([]namedOutput, len(names))
	for i, n := range names {
		out[i] = namedOutput{n, run.Output[n]}
	}
	return out
}

func tail(lines []string, n int) []string {
	if len(lines) > n {
		return lines[len(lines)-n:]
	}
	return lines
}
