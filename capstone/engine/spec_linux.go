package engine

import (
	"fmt"
	"os"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/unboxlab/unbox/capstone/specconv"
	"github.com/unboxlab/unbox/internal/mount"
)

// defaultCaps are the capabilities Docker gives a container that is not
// privileged (moby oci/caps/defaults.go).
var defaultCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// Docker's masked and read-only paths (moby oci/defaults.go).
var (
	maskedPaths = []string{
		"/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
		"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
		"/sys/firmware", "/sys/devices/virtual/powercap",
	}
	readonlyPaths = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
)

// startSpec is what a start adds to the record: the console size, the
// network's decision, the reaper for --init.
type startSpec struct {
	Rows, Cols uint16
	Net        NetworkSetup
	InitBinary string // the host's copy of the reaper, with --init
}

// spec is the container's config.json for one start: Docker's defaults
// (moby oci/defaults.go, daemon/oci_linux.go) with the record's flags.
// The root file system is mounted: the user and the working directory are
// looked up in it.
func (e *Engine) spec(c *Container, s startSpec) (*specs.Spec, error) {
	root := e.rootfs(c.ID)
	user, err := resolveUser(root, c.Config.User)
	if err != nil {
		return nil, err
	}
	cwd := c.Config.WorkingDir
	if cwd == "" {
		cwd = "/"
	}
	if err := mkdirInRoot(root, cwd); err != nil {
		return nil, err
	}
	args := append(slices.Clone(c.Config.Entrypoint), c.Config.Cmd...)
	if len(args) == 0 {
		return nil, &ExitCodeError{Code: 125, Err: fmt.Errorf("no command specified")}
	}
	if c.HostConfig.Init {
		args = append([]string{InitPath, "--"}, args...)
	}
	caps, err := capabilities(c.HostConfig)
	if err != nil {
		return nil, err
	}
	sp := &specs.Spec{
		Version: specs.Version,
		Root:    &specs.Root{Path: root, Readonly: c.HostConfig.ReadonlyRootfs},
		Process: &specs.Process{
			Terminal: c.Config.Tty,
			User:     user,
			Args:     args,
			Env:      containerEnv(c),
			Cwd:      cwd,
			Capabilities: &specs.LinuxCapabilities{
				Bounding: caps, Effective: caps, Permitted: caps,
			},
		},
		Hostname: c.Config.Hostname,
		Mounts:   defaultMounts(c.HostConfig.Privileged),
		Linux: &specs.Linux{
			CgroupsPath: path.Join(c.HostConfig.CgroupParent, c.ID),
			Resources:   resources(c.HostConfig),
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace}, {Type: specs.IPCNamespace}, {Type: specs.UTSNamespace},
				{Type: specs.MountNamespace}, {Type: specs.CgroupNamespace},
			},
		},
	}
	if c.Config.Tty {
		sp.Process.ConsoleSize = &specs.Box{Height: uint(s.Rows), Width: uint(s.Cols)}
	}
	if !c.HostConfig.Privileged {
		sp.Linux.MaskedPaths, sp.Linux.ReadonlyPaths = maskedPaths, readonlyPaths
	}
	switch {
	case s.Net.Host:
	case s.Net.NetNS != "":
		sp.Linux.Namespaces = append(sp.Linux.Namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: s.Net.NetNS})
	default:
		sp.Linux.Namespaces = append(sp.Linux.Namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace})
	}
	for _, m := range c.Mounts {
		sp.Mounts = append(sp.Mounts, specMount(m))
	}
	if c.HostConfig.Init {
		sp.Mounts = append(sp.Mounts, specs.Mount{Destination: InitPath, Type: "bind", Source: s.InitBinary, Options: []string{"bind", "ro", "nosuid", "nodev"}})
	}
	if err := applySecurity(sp, c.HostConfig); err != nil {
		return nil, err
	}
	// Parents before what is mounted on them, as Docker sorts them.
	sort.SliceStable(sp.Mounts, func(i, j int) bool {
		return strings.Count(path.Clean(sp.Mounts[i].Destination), "/") < strings.Count(path.Clean(sp.Mounts[j].Destination), "/")
	})
	return sp, nil
}

// defaultMounts are Docker's: /proc, a /dev tmpfs with its devpts, shm and
// mqueue, a read-only /sys and its cgroups (read-write when privileged).
func defaultMounts(privileged bool) []specs.Mount {
	ro := "ro"
	if privileged {
		ro = "rw"
	}
	return []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", ro}},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", ro}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=67108864"}},
	}
}

// specMount is a volume, bind or tmpfs of the record as a spec mount.
func specMount(m MountPoint) specs.Mount {
	if m.Type == "tmpfs" {
		opts := []string{}
		if m.Mode != "" {
			opts = strings.Split(m.Mode, ",")
		}
		return specs.Mount{Destination: m.Destination, Type: "tmpfs", Source: "tmpfs", Options: opts}
	}
	opts := []string{"rbind"}
	if !m.RW {
		opts = append(opts, "ro")
	}
	if m.Propagation != "" {
		opts = append(opts, m.Propagation)
	} else {
		opts = append(opts, "rprivate")
	}
	return specs.Mount{Destination: m.Destination, Type: "bind", Source: m.Source, Options: opts}
}

// capabilities are Docker's defaults with --cap-add and --cap-drop
// ("ALL" in either), or every capability the kernel has with
// --privileged.
func capabilities(h HostConfig) ([]string, error) {
	all := kernelCaps()
	if h.Privileged {
		return all, nil
	}
	norm := func(names []string) ([]string, error) {
		var out []string
		for _, n := range names {
			n = strings.ToUpper(n)
			if n == "ALL" {
				out = append(out, "ALL")
				continue
			}
			if !strings.HasPrefix(n, "CAP_") {
				n = "CAP_" + n
			}
			if !slices.Contains(specconv.CapabilityNames(), n) {
				return nil, fmt.Errorf("unknown capability: %q", n)
			}
			out = append(out, n)
		}
		return out, nil
	}
	add, err := norm(h.CapAdd)
	if err != nil {
		return nil, err
	}
	drop, err := norm(h.CapDrop)
	if err != nil {
		return nil, err
	}
	caps := slices.Clone(defaultCaps)
	if slices.Contains(add, "ALL") {
		caps = slices.Clone(all)
	}
	for _, a := range add {
		if a != "ALL" && !slices.Contains(caps, a) {
			caps = append(caps, a)
		}
	}
	if slices.Contains(drop, "ALL") {
		caps = nil
		for _, a := range add {
			if a != "ALL" {
				caps = append(caps, a)
			}
		}
	}
	caps = slices.DeleteFunc(caps, func(c string) bool { return slices.Contains(drop, c) && !slices.Contains(add, c) })
	sort.Strings(caps)
	return caps, nil
}

// kernelCaps are the capabilities this kernel knows
// (/proc/sys/kernel/cap_last_cap).
func kernelCaps() []string {
	all := specconv.CapabilityNames()
	if b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && n+1 < len(all) {
			all = all[:n+1]
		}
	}
	return all
}

// resources are the cgroup limits of --memory, --cpus, --cpu-period,
// --cpu-quota and --pids-limit.
func resources(h HostConfig) *specs.LinuxResources {
	r := &specs.LinuxResources{}
	if h.Memory > 0 {
		m := h.Memory
		r.Memory = &specs.LinuxMemory{Limit: &m}
	}
	period, quota := uint64(h.CPUPeriod), h.CPUQuota
	if h.NanoCPUs > 0 {
		// --cpus: a quota over Docker's 100 ms period.
		period = 100000
		quota = h.NanoCPUs * int64(period) / 1e9
	}
	if period > 0 || quota > 0 {
		r.CPU = &specs.LinuxCPU{}
		if period > 0 {
			r.CPU.Period = &period
		}
		if quota > 0 {
			r.CPU.Quota = &quota
		}
	}
	if h.PidsLimit != 0 {
		l := h.PidsLimit
		r.Pids = &specs.LinuxPids{Limit: &l}
	}
	return r
}

// containerEnv is the process's environment: the image's and the flags'
// (already merged in the record), PATH if neither sets it, HOSTNAME, and
// TERM with a terminal, as Docker gives them.
func containerEnv(c *Container) []string {
	env := []string{}
	has := func(k string) bool {
		return slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, k+"=") })
	}
	env = append(env, c.Config.Env...)
	if !has("PATH") {
		env = append(env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	}
	env = append([]string{"HOSTNAME=" + c.Config.Hostname}, env...)
	if c.Config.Tty && !has("TERM") {
		env = append(env, "TERM=xterm")
	}
	return env
}

// tmpfsMount checks a --tmpfs flag and records it.
func tmpfsMount(spec string) (MountPoint, error) {
	m, err := mount.ParseTmpfs(spec)
	if err != nil {
		return MountPoint{}, err
	}
	_, opts, _ := strings.Cut(spec, ":")
	mode := "nosuid,nodev,noexec"
	if opts != "" {
		mode += "," + opts
	}
	return MountPoint{Type: "tmpfs", Destination: m.Target, Mode: mode, RW: !strings.Contains(","+opts+",", ",ro,")}, nil
}
