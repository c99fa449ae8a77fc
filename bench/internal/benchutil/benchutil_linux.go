// Package benchutil is what the bench scripts share: the go command, a
// cgroup layout every peer accepts, medians, and the machine line each
// report starts with. Plumbing only; the measures are each script's own.
package benchutil

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/cgroups"
	"github.com/unboxlab/unbox/internal/procfs"
)

// GoTool is the go command: on the PATH, or the toolchain's that built this
// program (sudo's PATH often lacks it).
func GoTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	// sudo's secure_path usually lacks Go; this is where go.dev's archive
	// (and the Vagrant lab) installs it.
	return "/usr/local/go/bin/go"
}

// Build builds the package pkg (./capstone/cmd/...) into out as the
// capstone's README says to build it: static (CGO_ENABLED=0), without
// urfave/cli's documentation generator (-tags urfave_cli_no_docs).
func Build(out, pkg string) error {
	build := exec.Command(GoTool(), "build", "-tags", "urfave_cli_no_docs", "-trimpath", "-o", out, pkg)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
	}
	return nil
}

// RemoveCgroup removes the cgroup at path (and its child named child, if
// not ""), in every v1 hierarchy and the v2 tree, wherever it is: what a
// bench made under its own name. Errors are ignored: most hierarchies
// never had it.
func RemoveCgroup(path, child string) {
	for _, ctl := range []string{"cpu", "cpuacct", "cpuset", "memory", "pids", "freezer", "devices", "blkio", "systemd", "net_cls",
		"net_prio", "perf_event", "hugetlb", "misc", "rdma", "unified", ""} {
		dir := filepath.Join(cgroups.DefaultRoot, ctl, path)
		if child != "" {
			_ = unix.Rmdir(filepath.Join(dir, child))
		}
		_ = unix.Rmdir(dir)
	}
}

// HideUnified makes a hybrid cgroup host look like a v1 one, for the
// calling thread (which must be locked, and start every command): crun 1.8
// refuses the hybrid layout ("cgroups in hybrid mode not supported, drop
// all controllers from cgroupv2"). It unshares the thread's mount namespace
// and unmounts /sys/fs/cgroup/unified there: the same v1 hierarchies,
// without the empty cgroup2 tree. It returns the host's mode and whether it
// did so.
func HideUnified() (mode cgroups.Mode, hidden bool, err error) {
	mode, err = cgroups.DetectMode(cgroups.DefaultRoot)
	if err != nil || mode != cgroups.Hybrid {
		return mode, false, err
	}
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return mode, false, fmt.Errorf("unshare CLONE_NEWNS: %w", err)
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return mode, false, fmt.Errorf("mount --make-rprivate /: %w", err)
	}
	if err := unix.Unmount(cgroups.DefaultRoot+"/unified", unix.MNT_DETACH); err != nil {
		return mode, false, fmt.Errorf("umount -l /sys/fs/cgroup/unified: %w", err)
	}
	return mode, true, nil
}

// Unbox is the start of a bench of the unbox engine beside a peer: a
// temporary directory, the engine built into it, and the cgroup layout
// both ran in.
type Unbox struct {
	Work    string // the bench's directory; the caller removes it
	Bin     string // unbox, built into Work
	Cgroups string // the line the report gives the cgroup layout
}

// StartUnbox locks the calling thread, which must then start every
// command, and hides a hybrid host's unified tree from it (HideUnified:
// for crun, podman's runtime), then makes a directory unbox-bench-NAME-*
// and builds unbox into it, saying so on w.
func StartUnbox(w io.Writer, name string) (*Unbox, error) {
	runtime.LockOSThread()
	mode, hidden, err := HideUnified()
	if err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp("", "unbox-bench-"+name+"-")
	if err != nil {
		return nil, err
	}
	fmt.Fprintln(w, "building unbox (CGO_ENABLED=0 -tags urfave_cli_no_docs)...")
	u := &Unbox{Work: work, Bin: filepath.Join(work, "unbox"), Cgroups: mode.String()}
	if err := Build(u.Bin, "./capstone/cmd/unbox"); err != nil {
		os.RemoveAll(work)
		return nil, err
	}
	if hidden {
		u.Cgroups += " host; both engines ran in a private mount namespace without /sys/fs/cgroup/unified (cgroup v1, the same hierarchies), because crun 1.8 refuses the hybrid layout"
	}
	return u, nil
}

// Version is the first line a command prints (its --version), or "" if
// it fails.
func Version(args ...string) string {
	out, _ := exec.Command(args[0], args[1:]...).Output()
	return strings.SplitN(strings.TrimSpace(string(out)), "\n", 2)[0]
}

// UnmountUnder detaches every mount at or below dir in the calling
// thread's mount namespace, the last mounted first: what a peer left in
// the bench's directory (containers/storage bind-mounts its overlay
// directory on itself and leaves it there), before the directory is
// removed. Errors are ignored: a mount may go with the one below it.
func UnmountUnder(dir string) {
	// thread-self: the calling thread's namespace may be a private one
	// (HideUnified), which /proc/self, the main thread's, is not.
	ms, err := procfs.ReadMountinfo("thread-self")
	if err != nil {
		return
	}
	for i := len(ms) - 1; i >= 0; i-- {
		if p := ms[i].Point; p == dir || strings.HasPrefix(p, dir+"/") {
			_ = unix.Unmount(p, unix.MNT_DETACH)
		}
	}
}

// Median is the middle of xs, sorted (the upper one of an even count).
func Median[T ~int64 | ~float64](xs []T) T {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// PrintMachine writes the line every report starts with: the kernel, the
// CPUs, Go, the load.
func PrintMachine(w io.Writer) {
	var u unix.Utsname
	_ = unix.Uname(&u)
	load, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(load))
	if len(f) > 3 {
		f = f[:3]
	}
	fmt.Fprintf(w, "machine: Linux %s, %d CPUs, %s, load %s\n", unix.ByteSliceToString(u.Release[:]), runtime.NumCPU(), runtime.Version(),
		strings.Join(f, " "))
}
