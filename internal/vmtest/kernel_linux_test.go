package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/kit/kittest"
	"github.com/unboxlab/unbox/internal/network"
	"github.com/unboxlab/unbox/internal/overlay"
)

// The lane's own privileged test: the kernel it boots has what the lessons
// and the capstone build on, proven by using each piece once, so that a
// module missing from kernelModules fails here, by name, before a lesson
// fails somewhere in its middle. It runs on the host too (.ci/run's test
// command), where it checks the host's kernel the same way.

// kernelChildEnv makes the test binary the child that does the work, in a
// network and mount namespace of its own (see kernelChild).
const kernelChildEnv = "_UNBOX_VMTEST_KERNEL_CHILD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(kernelChildEnv); dir != "" {
		os.Exit(kernelChild(dir))
	}
	kittest.Main(m, nil)
}

// kernelFeature is one thing the kernel must be able to do, found out
// by doing it once, and the modules (kernelModules) that do it in Debian's
// kernel.
type kernelFeature struct {
	Name    string
	Modules string
	Try     func(dir string) error
}

// kernelFeatures are the probes of the packages that use each feature, so
// that this test asks the kernel for what the code really does (and
// follows it when the code changes), plus a TAP device for the capstone.
func kernelFeatures() []kernelFeature {
	f := []kernelFeature{
		{"overlayfs", "overlay", overlay.Probe},
		{"TAP device", "tun", func(string) error { return tryTAP("ubxsmktap") }},
	}
	modules := map[string]string{"veth": "veth", "bridge": "bridge",
		"nf_tables": "nf_tables nft_chain_nat nft_nat nft_masq nft_ct nft_fib_inet (the error names the missing one)"}
	for _, r := range network.Requirements {
		f = append(f, kernelFeature{r.Name, modules[r.Name], func(string) error { return r.Check() }})
	}
	return f
}

// TestPrivKernelHasWhatTheLessonsNeed runs kernelChild in new network and
// mount namespaces, which die with it: the host never sees its links,
// tables or mounts. Each feature is a subtest, so a failure names it.
func TestPrivKernelHasWhatTheLessonsNeed(t *testing.T) {
	kittest.Privileged(t)
	dir := t.TempDir()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), kernelChildEnv+"="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWNET | unix.CLONE_NEWNS, Pdeathsig: syscall.SIGKILL}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("the child in new namespaces: %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr.Bytes())
	}
	results := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		name, result, _ := strings.Cut(sc.Text(), "\t")
		results[name] = result
	}
	features := kernelFeatures()
	if len(features) < 5 {
		t.Errorf("%d features to check; want overlayfs, TAP and network.Requirements (veth, bridge, nf_tables)", len(features))
	}
	for _, f := range features {
		t.Run(f.Name, func(t *testing.T) {
			switch r, ok := results[f.Name]; {
			case !ok:
				t.Errorf("the child did not report on %s", f.Name)
			case r != "ok":
				t.Errorf("%s: %s\n(in Debian's kernel this takes the modules %s: the VM loads those in kernelModules, internal/vmtest/kernel.go)",
					f.Name, r, f.Modules)
			}
		})
	}
}

// kernelChild tries every feature and prints "name<TAB>ok" or
// "name<TAB>error" for each; it returns the exit status.
func kernelChild(dir string) int {
	// The new mount namespace is a copy of one whose "/" may be shared
	// (systemd makes it so): stop our mounts from propagating back first
	// (mount_namespaces(7)).
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		fmt.Fprintln(os.Stderr, "mount --make-rprivate /:", err)
		return 1
	}
	for _, f := range kernelFeatures() {
		result := "ok"
		if err := f.Try(dir); err != nil {
			result = strings.ReplaceAll(err.Error(), "\n", " ")
		}
		fmt.Printf("%s\t%s\n", f.Name, result)
	}
	return 0
}

// tryTAP makes a TAP device as slirp4netns and pasta do: TUNSETIFF on
// /dev/net/tun (Documentation/networking/tuntap.rst); the device lives as
// long as the file is open.
func tryTAP(name string) error {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open /dev/net/tun: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return err
	}
	ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		return fmt.Errorf("ioctl(/dev/net/tun, TUNSETIFF, %s, IFF_TAP|IFF_NO_PI): %w", name, err)
	}
	if _, err := net.InterfaceByName(name); err != nil {
		return fmt.Errorf("after TUNSETIFF: %w", err)
	}
	return nil
}
