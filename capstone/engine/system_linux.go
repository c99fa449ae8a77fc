package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/capstone/image"
	"github.com/unboxlab/unbox/internal/cgroups"
	"github.com/unboxlab/unbox/internal/overlay"
	"github.com/unboxlab/unbox/internal/rootfs"
)

// PruneContainers removes every container that is not running (`unbox
// container prune`, the first part of `system prune`): created, exited and
// dead ones, after sweeping what interrupted commands left. It returns
// their IDs.
func (e *Engine) PruneContainers(ctx context.Context) ([]string, error) {
	cs, err := e.Containers(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	var errs []error
	for _, c := range cs {
		if c.State.Running {
			continue
		}
		x, unlock, err := e.lock(c.ID)
		if err != nil {
			continue
		}
		if !x.State.Running && !e.monitorAlive(x.ID) {
			if err := e.removeLocked(x, false); err != nil {
				errs = append(errs, err)
			} else {
				out = append(out, x.ID)
			}
		}
		unlock()
	}
	return out, errors.Join(errs...)
}

// PruneImages removes the images no container uses: those without a name,
// or all with all.
func (e *Engine) PruneImages(all bool) ([]image.Removal, int64, error) {
	return e.Images.Prune(all, e.imageUsers)
}

// RemoveImage is `unbox rmi`: see image.Store.Remove.
func (e *Engine) RemoveImage(ref string, force bool) ([]image.Removal, error) {
	return e.Images.Remove(ref, force, e.imageUsers)
}

// Usage is one row of `unbox system df`.
type Usage struct {
	Type              string
	Total, Active     int
	Size, Reclaimable int64
}

// DiskUsage measures images, containers (their upper dirs and logs) and
// volumes.
func (e *Engine) DiskUsage(ctx context.Context) ([]Usage, error) {
	iu, err := e.Images.DiskUsage(e.imageUsers)
	if err != nil {
		return nil, err
	}
	out := []Usage{{Type: "Images", Total: iu.Images, Active: iu.Active, Size: iu.Size, Reclaimable: iu.Reclaimable}}
	cs, err := e.List()
	if err != nil {
		return nil, err
	}
	cu := Usage{Type: "Containers", Total: len(cs)}
	for _, c := range cs {
		n := duBytes(e.dir(c.ID))
		cu.Size += n
		if c.State.Running {
			cu.Active++
		} else {
			cu.Reclaimable += n
		}
	}
	out = append(out, cu)
	vs, err := e.Volumes.List()
	if err != nil {
		return nil, err
	}
	vu := Usage{Type: "Local Volumes", Total: len(vs)}
	for _, v := range vs {
		n := duBytes(v.Mountpoint)
		vu.Size += n
		if v.Dangling() {
			vu.Reclaimable += n
		} else {
			vu.Active++
		}
	}
	return append(out, vu), nil
}

// duBytes is the bytes of the regular files under dir, on its own file
// system (a mounted overlay is not counted twice).
func duBytes(dir string) int64 {
	var n int64
	var root unix.Stat_t
	if unix.Lstat(dir, &root) != nil {
		return 0
	}
	var walk func(string)
	walk = func(d string) {
		ents, err := os.ReadDir(d)
		if err != nil {
			return
		}
		for _, en := range ents {
			p := filepath.Join(d, en.Name())
			var st unix.Stat_t
			if unix.Lstat(p, &st) != nil || st.Dev != root.Dev {
				continue
			}
			switch st.Mode & unix.S_IFMT {
			case unix.S_IFREG:
				n += st.Size
			case unix.S_IFDIR:
				walk(p)
			}
		}
	}
	walk(dir)
	return n
}

// Info is what `unbox info` reports.
type Info struct {
	Containers, Running, Stopped, Images int
	Version                              string
	StorageDriver                        string
	Root, State                          string
	CgroupVersion, CgroupDriver          string
	DefaultRuntime                       string
	Runtimes                             []string
	Kernel, OS, Arch                     string
	CPUs                                 int
	Memory                               uint64
}

// Info gathers `unbox info`.
func (e *Engine) Info(ctx context.Context) (Info, error) {
	in := Info{StorageDriver: "overlay", Root: e.Root, State: e.State, DefaultRuntime: e.Runtime,
		CgroupDriver: "cgroupfs", Arch: runtime.GOARCH, CPUs: runtime.NumCPU(), Memory: hostMemory(), OS: osName()}
	cs, err := e.Containers(ctx)
	if err != nil {
		return in, err
	}
	for _, c := range cs {
		in.Containers++
		if c.State.Running {
			in.Running++
		} else {
			in.Stopped++
		}
	}
	imgs, err := e.Images.List()
	if err != nil {
		return in, err
	}
	in.Images = len(imgs)
	if m, err := cgroups.DetectMode(cgroups.DefaultRoot); err == nil {
		in.CgroupVersion = m.String()
	}
	in.Runtimes = []string{BuiltinRuntime + " (built in)"}
	for _, r := range []string{"runc", "crun"} {
		if _, err := e.runtimeFor(r); err == nil {
			in.Runtimes = append(in.Runtimes, r)
		}
	}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		in.Kernel = unix.ByteSliceToString(u.Release[:])
	}
	return in, nil
}

func osName() string {
	b, _ := os.ReadFile("/etc/os-release")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return "Linux"
}

// Check is one line of `unbox doctor`: something the engine needs, and
// whether this machine has it.
type Check struct {
	Name string
	// Err says why not (nil: it has it); Fix what to do.
	Err    error
	Detail string
	Fix    string
	// Optional checks fail without failing the doctor.
	Optional bool
}

// Doctor checks what the engine needs from this machine, as the lessons'
// preflight does for each lesson: root, the namespaces, cgroups and their
// controllers, overlayfs on the engine's root, the directories, the
// runtimes, the built-in image's source, and the kernel calls the runtime
// relies on for CVE-2019-5736 and for waiting on processes it did not
// start.
func (e *Engine) Doctor(ctx context.Context) []Check {
	var out []Check
	add := func(name string, err error, detail, fix string, optional bool) {
		out = append(out, Check{Name: name, Err: err, Detail: detail, Fix: fix, Optional: optional})
	}
	var rootErr error
	if os.Geteuid() != 0 {
		rootErr = errors.New("not root")
	}
	add("root", rootErr, fmt.Sprintf("uid %d", os.Geteuid()), "run unbox with sudo", false)
	var missing []string
	for _, ns := range []string{"mnt", "pid", "uts", "ipc", "net", "cgroup"} {
		if _, err := os.Stat("/proc/self/ns/" + ns); err != nil {
			missing = append(missing, ns)
		}
	}
	var nsErr error
	if len(missing) > 0 {
		nsErr = fmt.Errorf("missing: %s", strings.Join(missing, ", "))
	}
	add("namespaces", nsErr, "mnt pid uts ipc net cgroup", "a kernel built with CONFIG_NAMESPACES and each kind", false)
	host, err := cgroups.OpenHost(cgroups.DefaultRoot)
	if err == nil {
		add("cgroups", nil, host.Mode.String()+" at "+host.Root, "", false)
		for _, ctl := range []string{"cpu", "memory", "pids"} {
			add("cgroup controller "+ctl, host.Check(ctl), "for --cpus, --memory, --pids-limit and stats", "enable it (cgroup_enable= on the kernel command line, or systemd's delegation)", false)
		}
	} else {
		add("cgroups", err, "", "mount the cgroup file system at /sys/fs/cgroup", false)
	}
	probe := filepath.Join(e.Root, "containers")
	add("overlayfs", overlay.Probe(probe), "a union mounted under "+probe, "load the overlay module (modprobe overlay); the root must not be on NFS or overlayfs", false)
	for _, d := range []string{e.Root, e.State} {
		f, err := os.CreateTemp(d, ".doctor-")
		if err == nil {
			f.Close()
			os.Remove(f.Name())
		}
		add("writable "+d, err, "", "check its owner and mount options", false)
	}
	_, rtErr := e.runtimeFor(e.Runtime)
	add("default runtime", rtErr, e.Runtime, "install it, or pass --runtime", false)
	_, runcErr := e.runtimeFor("runc")
	add("runc (optional)", runcErr, "for --runtime runc", "apt-get install runc", true)
	src := "a static busybox (" + func() string { p, _ := rootfs.FindStaticBusybox(); return p }() + ")"
	var bbErr error
	if _, err := rootfs.FindStaticBusybox(); err != nil {
		src, bbErr = "the host's own tools (no static busybox: "+err.Error()+")", nil
	}
	add("built-in image source", bbErr, src, "apt-get install busybox-static", true)
	fd, err := unix.OpenTree(unix.AT_FDCWD, "/proc/self/exe", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err == nil {
		unix.Close(fd)
	}
	add("open_tree(2)", err, "the runtime re-executes itself read-only (CVE-2019-5736); without it, a sealed memfd copy", "Linux 5.12 or later", true)
	pfd, err := unix.PidfdOpen(os.Getpid(), 0)
	if err == nil {
		unix.Close(pfd)
	}
	add("pidfd_open(2)", err, "stop waits on a monitor it did not start", "Linux 5.3 or later", true)
	return out
}
