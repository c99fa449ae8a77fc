//go:build linux

package specconv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/capstone/container"
	"github.com/unboxlab/unbox/internal/mount"
)

// Options are what `create` knows besides the spec.
type Options struct {
	ID string
	// Bundle is the bundle's directory, absolute: the root and relative
	// bind sources are relative to it.
	Bundle string
	// SystemdCgroup reads linux.cgroupsPath as "slice:prefix:name".
	SystemdCgroup bool
	NoPivot       bool
}

// Convert checks s and turns it into a [container.Config].
func Convert(s *specs.Spec, o Options) (*container.Config, error) {
	if s.Root == nil || s.Root.Path == "" {
		return nil, errors.New("root.path: missing: the spec names no root filesystem")
	}
	if s.Process == nil {
		return nil, errors.New("process: missing: the spec names no process to run")
	}
	l := s.Linux
	if l == nil {
		l = &specs.Linux{}
	}
	c := &container.Config{
		OCIVersion:   s.Version,
		Rootfs:       s.Root.Path,
		ReadonlyRoot: s.Root.Readonly,
		Hostname:     s.Hostname,
		Domainname:   s.Domainname,
		Annotations:  s.Annotations,
		NoPivot:      o.NoPivot,
		MaskedPaths:  l.MaskedPaths,
		// rslave unless told otherwise: the host's mounts below a volume
		// appear in the container, the container's never reach the host.
		RootPropagation: unix.MS_SLAVE | unix.MS_REC,
		ReadonlyPaths:   l.ReadonlyPaths,
		UIDMappings:     convertIDMaps(l.UIDMappings),
		GIDMappings:     convertIDMaps(l.GIDMappings),
	}
	if !filepath.IsAbs(c.Rootfs) {
		c.Rootfs = filepath.Join(o.Bundle, c.Rootfs)
	}
	if fi, err := os.Stat(c.Rootfs); err != nil {
		return nil, fmt.Errorf("root.path: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("root.path: %s is not a directory", c.Rootfs)
	}
	var err error
	if c.Namespaces, err = convertNamespaces(l); err != nil {
		return nil, err
	}
	if l.RootfsPropagation != "" {
		p, ok := propagationOptions[l.RootfsPropagation]
		if !ok {
			return nil, fmt.Errorf("linux.rootfsPropagation: unknown propagation %q", l.RootfsPropagation)
		}
		c.RootPropagation = p
	}
	if (c.Hostname != "" || c.Domainname != "") && !c.HasNamespace("uts") {
		return nil, errors.New("hostname: setting it needs a UTS namespace (linux.namespaces), or it would change the host's")
	}
	if !c.HasNamespace("mount") {
		return nil, errors.New("linux.namespaces: a mount namespace is required: the container's mounts and pivot_root must not touch the host's")
	}
	for _, k := range sortedKeys(l.Sysctl) {
		if err := checkSysctl(k, c.HasNamespace); err != nil {
			return nil, err
		}
	}
	c.Sysctl = l.Sysctl
	if c.Mounts, err = convertMounts(o.Bundle, s.Mounts); err != nil {
		return nil, err
	}
	if c.Devices, err = convertDevices(l.Devices); err != nil {
		return nil, err
	}
	if c.Process, err = convertProcess(s.Process); err != nil {
		return nil, err
	}
	if c.Cgroup, err = CgroupPath(o.ID, l.CgroupsPath, o.SystemdCgroup); err != nil {
		return nil, err
	}
	if c.Cgroup.Resources, err = Resources(l.Resources); err != nil {
		return nil, err
	}
	if c.Cgroup.Resources.Devices, err = DeviceRules(l); err != nil {
		return nil, err
	}
	if c.Seccomp, err = Seccomp(l.Seccomp); err != nil {
		return nil, err
	}
	if l.IntelRdt != nil || l.MemoryPolicy != nil || len(l.NetDevices) > 0 {
		return nil, errors.New("linux.intelRdt, memoryPolicy and netDevices are not supported by unbox-runtime")
	}
	c.Hooks = convertHooks(s.Hooks)
	return c, nil
}

func convertProcess(p *specs.Process) (container.Process, error) {
	out := container.Process{
		Args:            p.Args,
		Env:             p.Env,
		Cwd:             p.Cwd,
		Terminal:        p.Terminal,
		UID:             int(p.User.UID),
		GID:             int(p.User.GID),
		NoNewPrivileges: p.NoNewPrivileges,
		OOMScoreAdj:     p.OOMScoreAdj,
	}
	if len(p.Args) == 0 {
		return out, errors.New("process.args: empty: name the program to run")
	}
	if !filepath.IsAbs(p.Cwd) {
		return out, fmt.Errorf("process.cwd %q: must be an absolute path", p.Cwd)
	}
	if p.ConsoleSize != nil {
		out.ConsoleHeight, out.ConsoleWidth = uint16(p.ConsoleSize.Height), uint16(p.ConsoleSize.Width)
	}
	for _, g := range p.User.AdditionalGids {
		out.AdditionalGids = append(out.AdditionalGids, int(g))
	}
	if p.User.Umask != nil {
		u := int(*p.User.Umask)
		out.Umask = &u
	}
	var err error
	if out.Caps, err = convertCaps(p.Capabilities); err != nil {
		return out, err
	}
	if out.Rlimits, err = convertRlimits(p.Rlimits); err != nil {
		return out, err
	}
	if p.OOMScoreAdj != nil && (*p.OOMScoreAdj < -1000 || *p.OOMScoreAdj > 1000) {
		return out, fmt.Errorf("process.oomScoreAdj %d: want -1000 to 1000", *p.OOMScoreAdj)
	}
	if p.SelinuxLabel != "" || p.Scheduler != nil || p.IOPriority != nil || p.ExecCPUAffinity != nil {
		return out, errors.New("process.selinuxLabel, scheduler, ioPriority and execCPUAffinity are not supported by unbox-runtime")
	}
	return out, nil
}

// Process converts a process.json, as `exec --process` takes it.
func Process(p *specs.Process) (container.Process, error) { return convertProcess(p) }

// convertDevices puts the spec's devices after the default set, which each
// may replace. A device where /dev has one of its standard links
// (mount.DevLinks: /dev/ptmx, /dev/fd, /dev/stdin, ...) gives way to the
// link, as in runc: a privileged pod's spec lists every node of the host's
// /dev, the host's /dev/ptmx among them, and the container's ptmx must be
// its own devpts instance's (pts/ptmx).
func convertDevices(ds []specs.LinuxDevice) ([]mount.Device, error) {
	byPath := map[string]int{}
	out := append([]mount.Device(nil), mount.SafeDevices...)
	for i, d := range out {
		byPath[d.Path] = i
	}
	links := map[string]bool{}
	for _, l := range mount.DevLinks {
		links[l.Path] = true
	}
	for i, d := range ds {
		if !filepath.IsAbs(d.Path) {
			return nil, fmt.Errorf("linux.devices[%d]: path %q is not absolute", i, d.Path)
		}
		if links[filepath.Clean(d.Path)] {
			continue
		}
		md := mount.Device{Path: filepath.Clean(d.Path), Major: uint32(d.Major), Minor: uint32(d.Minor)}
		switch d.Type {
		case "c", "u":
			md.Type = 'c'
		case "b":
			md.Type = 'b'
		case "p":
			md.Type = 'p'
		default:
			return nil, fmt.Errorf("linux.devices[%d] (%s): type %q: want c, u, b or p", i, d.Path, d.Type)
		}
		if d.FileMode != nil {
			md.Mode = uint32(d.FileMode.Perm())
		}
		if d.UID != nil {
			md.UID = *d.UID
		}
		if d.GID != nil {
			md.GID = *d.GID
		}
		if j, ok := byPath[md.Path]; ok {
			out[j] = md
			continue
		}
		byPath[md.Path] = len(out)
		out = append(out, md)
	}
	return out, nil
}

func convertHooks(h *specs.Hooks) container.Hooks {
	if h == nil {
		return container.Hooks{}
	}
	conv := func(hs []specs.Hook) []container.Hook {
		var out []container.Hook
		for _, x := range hs {
			out = append(out, container.Hook{Path: x.Path, Args: x.Args, Env: x.Env, Timeout: x.Timeout})
		}
		return out
	}
	return container.Hooks{
		//lint:ignore SA1019 deprecated in the spec, still sent by older engines; runc runs them too
		Prestart:        conv(h.Prestart),
		CreateRuntime:   conv(h.CreateRuntime),
		CreateContainer: conv(h.CreateContainer),
		StartContainer:  conv(h.StartContainer),
		Poststart:       conv(h.Poststart),
		Poststop:        conv(h.Poststop),
	}
}

func sortedKeys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
