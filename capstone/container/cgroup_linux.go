package container

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/cgroups"
	"github.com/unboxlab/unbox/internal/mount"
	"github.com/unboxlab/unbox/internal/procfs"
)

// cgroupRoot is where the host's cgroups are mounted; a variable for tests.
var cgroupRoot = cgroups.DefaultRoot

// controllers are those every container's cgroup gets: cpu, memory and
// pids for the limits and `events --stats`; devices, for the device rules
// (specconv always makes some); on v1 the freezer too, for pause and for a
// kill that nothing escapes by forking (on v2 freezing is in the core).
// cpuset only when asked for: a new v1 cpuset cgroup costs two reads and
// two writes to fill in.
func controllers(mode cgroups.Mode, r cgroups.Resources) []string {
	ctls := []string{"cpu", "memory", "pids"}
	if r.Devices != nil {
		ctls = append(ctls, "devices")
	}
	if !mode.V2() {
		ctls = append(ctls, "freezer")
	}
	if r.CpusetCPUs != "" || r.CpusetMems != "" {
		ctls = append(ctls, "cpuset")
	}
	return ctls
}

// cgroupManager names the container's cgroup on this host.
func cgroupManager(cg Cgroup) (cgroups.Manager, *cgroups.Host, error) {
	host, err := cgroups.OpenHost(cgroupRoot)
	if err != nil {
		return nil, nil, err
	}
	m, err := host.New(cgroups.Config{Parent: cg.Parent, Name: cg.Name, Controllers: controllers(host.Mode, cg.Resources)})
	if err != nil {
		return nil, nil, err
	}
	return m, host, nil
}

// DefaultCgroupParent is the parent of a container's cgroup when the spec
// names none (specconv uses it): /unbox-runtime/<id>, as docker's cgroupfs
// driver uses /docker/<id>.
const DefaultCgroupParent = "/unbox-runtime"

// destroyCgroup removes the container's cgroup (killing what is left in
// it), and the default parent when no other container is in it: this
// runtime made it, and leaves the host as it found it. A create racing
// with this for the parent retries (makeCgroupDirs).
func destroyCgroup(cg Cgroup) error {
	mgr, _, err := cgroupManager(cg)
	if err != nil {
		return err
	}
	if err := mgr.Destroy(); err != nil {
		return err
	}
	if cg.Parent == DefaultCgroupParent {
		for _, d := range mgr.Dirs() {
			// EBUSY: another container's cgroup is in it.
			_ = unix.Rmdir(filepath.Dir(d))
		}
	}
	return nil
}

// makeCgroupDirs creates the cgroup. A parent removed by a concurrent
// delete between Create's check and its mkdir fails it with ENOENT: then
// it goes again.
func makeCgroupDirs(mgr cgroups.Manager) error {
	var err error
	for range 3 {
		if err = mgr.Create(); !errors.Is(err, unix.ENOENT) {
			return err
		}
	}
	return err
}

// manager is the container's cgroup, for the commands that use it.
func (c *Container) manager() (cgroups.Manager, *cgroups.Host, error) {
	if c.rec.Config == nil {
		return nil, nil, fmt.Errorf("container %s has no configuration recorded (its create was interrupted): delete it", c.ID)
	}
	return cgroupManager(c.rec.Config.Cgroup)
}

// frozen reports whether the container's cgroup is frozen, reading the one
// file that says so.
func (c *Container) frozen() bool {
	m, host, err := c.manager()
	if err != nil {
		return false
	}
	if host.Mode.V2() {
		b, err := os.ReadFile(m.File("cgroup.freeze"))
		return err == nil && strings.TrimSpace(string(b)) == "1"
	}
	b, err := os.ReadFile(m.File("freezer.state"))
	return err == nil && strings.TrimSpace(string(b)) == "FROZEN"
}

// cgroupMounts expands the spec's cgroup filesystem at target into mounts,
// for this host's layout. With a cgroup namespace on v2, a fresh cgroup2
// mount shows the container's cgroup as its root. Otherwise each hierarchy's
// directory of the container's cgroup is bound read-only: a tmpfs at target
// with one directory per v1 hierarchy, as runc does (a fresh v1 mount would
// show the whole host tree without a cgroup namespace).
func cgroupMounts(m Mount, mgr cgroups.Manager, host *cgroups.Host, cgroupns bool) ([]mount.Mount, error) {
	flags := m.Flags | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	if host.Mode.V2() {
		if cgroupns {
			return []mount.Mount{{Source: "cgroup2", Target: m.Target, Type: "cgroup2", Flags: flags}}, nil
		}
		return []mount.Mount{{Source: mgr.Dirs()[0], Target: m.Target, Flags: unix.MS_BIND | unix.MS_REC | flags&unix.MS_RDONLY}}, nil
	}
	ms := []mount.Mount{{Source: "tmpfs", Target: m.Target, Type: "tmpfs", Flags: flags &^ unix.MS_RDONLY, Data: "mode=755"}}
	table, err := procfs.ReadMountinfo("self")
	if err != nil {
		return nil, err
	}
	own, err := procfs.ReadCgroup("self")
	if err != nil {
		return nil, err
	}
	// The hierarchies the container's cgroup is in, by where they are
	// mounted (a Dirs entry may go through a symlink such as cpu ->
	// cpu,cpuacct).
	ours := map[string]bool{}
	for _, d := range mgr.Dirs() {
		if h, err := filepath.EvalSymlinks(strings.TrimSuffix(d, mgr.Path())); err == nil {
			ours[h] = true
		}
	}
	for _, hm := range procfs.Mounts(table).Under(host.Root) {
		if hm.Type != "cgroup" {
			continue
		}
		name := filepath.Base(hm.Point)
		dir := hm.Point + mgr.Path()
		if !ours[hm.Point] {
			// A hierarchy the container's cgroup is not in (devices,
			// blkio, ...): the path of our own process there.
			p, _ := procfs.CgroupPath(own, controllerOf(hm))
			dir = hm.Point + p
		}
		ms = append(ms, mount.Mount{Source: dir, Target: filepath.Join(m.Target, name), Flags: unix.MS_BIND | unix.MS_REC | flags&unix.MS_RDONLY})
	}
	return ms, nil
}

// controllerOf names a v1 hierarchy as /proc/<pid>/cgroup does: its first
// controller, or name=<name>.
func controllerOf(m procfs.Mount) string {
	for _, o := range strings.Split(m.Super, ",") {
		if o != "rw" && o != "ro" {
			return o
		}
	}
	return ""
}

// comountLinks names each co-mounted v1 hierarchy under the cgroup mounts
// of cfg by each of its controllers, as the host does and as runc does
// (cpu -> cpu,cpuacct): programs in the container read
// /sys/fs/cgroup/cpu/cpu.cfs_quota_us whichever way the host grouped its
// controllers.
func comountLinks(cfg *Config, ms []mount.Mount) []mount.Symlink {
	var links []mount.Symlink
	for _, m := range cfg.Mounts {
		if !m.Cgroup {
			continue
		}
		for _, bm := range ms {
			name := filepath.Base(bm.Target)
			if filepath.Dir(bm.Target) != filepath.Clean(m.Target) || !strings.Contains(name, ",") {
				continue
			}
			for _, c := range strings.Split(name, ",") {
				links = append(links, mount.Symlink{Path: filepath.Join(m.Target, c), Target: name})
			}
		}
	}
	return links
}
