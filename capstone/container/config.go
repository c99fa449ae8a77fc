//go:build linux

package container

import (
	"github.com/unboxlab/unbox/internal/cgroups"
	"github.com/unboxlab/unbox/internal/mount"
)

// Config is a container as plain data: everything the runtime needs from a
// bundle's config.json, checked and converted once by package specconv
// (runc's configs.Config). The parent sends it to the container's init as
// one JSON message; nothing in it is read from the bundle again.
type Config struct {
	// Rootfs is the root filesystem's directory, absolute.
	Rootfs string `json:"rootfs"`
	// ReadonlyRoot remounts / read-only once entered (root.readonly).
	ReadonlyRoot bool   `json:"readonlyRoot,omitempty"`
	Hostname     string `json:"hostname,omitempty"`
	Domainname   string `json:"domainname,omitempty"`
	// Mounts are applied under Rootfs in order, before pivot_root.
	Mounts []Mount `json:"mounts,omitempty"`
	// Devices are the nodes made in /dev: the default set and
	// linux.devices. Made only when /dev is not bound from the host.
	Devices []mount.Device `json:"devices,omitempty"`
	// RootPropagation is applied to / before the mounts (MS_SLAVE|MS_REC
	// unless linux.rootfsPropagation says otherwise), and again after
	// pivot_root when it is shared.
	RootPropagation uintptr  `json:"rootPropagation,omitempty"`
	MaskedPaths     []string `json:"maskedPaths,omitempty"`
	ReadonlyPaths   []string `json:"readonlyPaths,omitempty"`
	// Sysctl are written under /proc/sys once the container's /proc is
	// mounted; specconv allows only namespaced ones.
	Sysctl map[string]string `json:"sysctl,omitempty"`

	Namespaces  []Namespace `json:"namespaces,omitempty"`
	UIDMappings []IDMap     `json:"uidMappings,omitempty"`
	GIDMappings []IDMap     `json:"gidMappings,omitempty"`

	Cgroup  Cgroup   `json:"cgroup"`
	Process Process  `json:"process"`
	Seccomp *Seccomp `json:"seccomp,omitempty"`
	Hooks   Hooks    `json:"hooks,omitempty"`

	// NoPivot enters the root with MS_MOVE and chroot(2) instead of
	// pivot_root(2) (--no-pivot: for a root on a ramfs, which cannot be
	// pivoted away from).
	NoPivot bool `json:"noPivot,omitempty"`
	// Annotations are the spec's, reported by state.
	Annotations map[string]string `json:"annotations,omitempty"`
	// OCIVersion is the spec's ociVersion.
	OCIVersion string `json:"ociVersion"`
}

// Mount is one entry of the spec's mounts, converted. Most are a single
// [mount.Mount]; a "cgroup" mount depends on the host's cgroup layout and
// is expanded at create time.
type Mount struct {
	mount.Mount
	// Propagation, when not zero, is set on the mount after it is made
	// (MS_PRIVATE, MS_SLAVE, ... with MS_REC for the r- forms).
	Propagation uintptr `json:"propagation,omitempty"`
	// Cgroup marks the spec's cgroup filesystem at Target, read-only when
	// Flags has MS_RDONLY.
	Cgroup bool `json:"cgroup,omitempty"`
	// TopFlags are per-mount flags (MS_RDONLY, MS_NOSUID, MS_NODEV,
	// MS_NOEXEC) for this mount alone, not the mounts below it: a
	// recursive bind's "ro", as runc reads it ("rro" is the recursive
	// one, in Flags). Set once all the mounts are made.
	TopFlags uintptr `json:"topFlags,omitempty"`
}

// Namespace is one of linux.namespaces: a new one (Path empty) or one to
// join.
type Namespace struct {
	Type string  `json:"type"` // the spec's name: "pid", "network", ...
	Flag uintptr `json:"flag"` // its clone(2) flag
	Path string  `json:"path,omitempty"`
}

// IDMap is one line of /proc/<pid>/uid_map or gid_map (user_namespaces(7)).
type IDMap struct {
	ContainerID int `json:"containerID"`
	HostID      int `json:"hostID"`
	Size        int `json:"size"`
}

// Cgroup is where the container's processes go, and the limits.
type Cgroup struct {
	// Parent and Name make the path below the hierarchy root:
	// linux.cgroupsPath, or /unbox-runtime/<id> by default.
	Parent string `json:"parent"`
	Name   string `json:"name"`
	// Resources are linux.resources in internal/cgroups' units.
	Resources cgroups.Resources `json:"resources"`
}

// Path is the cgroup's path below the hierarchy root.
func (c Cgroup) Path() string {
	if c.Parent == "/" {
		return "/" + c.Name
	}
	return c.Parent + "/" + c.Name
}

// Process is what runs in the container: the spec's process, with names
// already turned into numbers.
type Process struct {
	Args     []string `json:"args"`
	Env      []string `json:"env,omitempty"`
	Cwd      string   `json:"cwd"`
	Terminal bool     `json:"terminal,omitempty"`
	// ConsoleHeight and ConsoleWidth size the terminal (consoleSize).
	ConsoleHeight uint16 `json:"consoleHeight,omitempty"`
	ConsoleWidth  uint16 `json:"consoleWidth,omitempty"`

	UID            int   `json:"uid"`
	GID            int   `json:"gid"`
	AdditionalGids []int `json:"additionalGids,omitempty"`
	Umask          *int  `json:"umask,omitempty"`

	// Caps are the five capability sets as bit masks
	// (capabilities(7)); nil leaves the process with what it has.
	Caps *Caps `json:"caps,omitempty"`
	// Rlimits are set with prlimit(2) before exec.
	Rlimits         []Rlimit `json:"rlimits,omitempty"`
	NoNewPrivileges bool     `json:"noNewPrivileges,omitempty"`
	OOMScoreAdj     *int     `json:"oomScoreAdj,omitempty"`
}

// Caps are capability sets, bit n for capability n.
type Caps struct {
	Bounding    uint64 `json:"bounding"`
	Effective   uint64 `json:"effective"`
	Inheritable uint64 `json:"inheritable"`
	Permitted   uint64 `json:"permitted"`
	Ambient     uint64 `json:"ambient"`
}

// Rlimit is one resource limit (getrlimit(2)).
type Rlimit struct {
	Type int    `json:"type"` // RLIMIT_NOFILE, ...
	Name string `json:"name"` // its name, for errors
	Hard uint64 `json:"hard"`
	Soft uint64 `json:"soft"`
}

// Seccomp is a compiled seccomp filter (seccomp(2), SECCOMP_SET_MODE_FILTER).
type Seccomp struct {
	// Program is the classic BPF program, instruction by instruction.
	Program []SockFilter `json:"program"`
	// Flags are SECCOMP_FILTER_FLAG_* for seccomp(2).
	Flags uint `json:"flags,omitempty"`
}

// SockFilter is one BPF instruction (struct sock_filter).
type SockFilter struct {
	Code uint16 `json:"c"`
	Jt   uint8  `json:"t"`
	Jf   uint8  `json:"f"`
	K    uint32 `json:"k"`
}

// Hooks are the spec's hooks, by when they run (runtime-spec config.md,
// "POSIX-platform Hooks").
type Hooks struct {
	Prestart        []Hook `json:"prestart,omitempty"`
	CreateRuntime   []Hook `json:"createRuntime,omitempty"`
	CreateContainer []Hook `json:"createContainer,omitempty"`
	StartContainer  []Hook `json:"startContainer,omitempty"`
	Poststart       []Hook `json:"poststart,omitempty"`
	Poststop        []Hook `json:"poststop,omitempty"`
}

// Hook is a program run at one point of the lifecycle, with the
// container's state as JSON on its standard input.
type Hook struct {
	Path    string   `json:"path"`
	Args    []string `json:"args,omitempty"`
	Env     []string `json:"env,omitempty"`
	Timeout *int     `json:"timeout,omitempty"` // seconds
}

// HasNamespace reports whether the config asks for a namespace of typ,
// new or joined.
func (c *Config) HasNamespace(typ string) bool {
	for _, ns := range c.Namespaces {
		if ns.Type == typ {
			return true
		}
	}
	return false
}

// namespace returns the config's namespace of typ.
func (c *Config) namespace(typ string) (Namespace, bool) {
	for _, ns := range c.Namespaces {
		if ns.Type == typ {
			return ns, true
		}
	}
	return Namespace{}, false
}
