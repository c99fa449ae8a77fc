//go:build linux

package cgroups

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// Manager is one cgroup: made, joined, limited, watched and removed. The
// v1 implementation is in v1.go, the v2 one in v2.go; [Host.New] picks one.
type Manager interface {
	// Path is the cgroup's path below the root of its hierarchy, as
	// /proc/<pid>/cgroup shows it: "/unbox/ctr-1".
	Path() string
	// Dirs are its directories: one on v2, one per distinct hierarchy on
	// v1 (cpu and cpuacct mounted together are one).
	Dirs() []string
	// File is the path of one of its interface files ("cpu.max",
	// "memory.events"). On v1 the file's prefix names the hierarchy;
	// cgroup.* files, present in all, are taken from the memory hierarchy
	// when the cgroup has one.
	File(name string) string
	// Create makes the cgroup, and any missing cgroup above it, with its
	// controllers; on failure it removes what it made. Creating a cgroup
	// that exists is not an error.
	Create() error
	// Apply moves a process, with all its threads, into the cgroup: what
	// it does from then on is charged here, what it did before is not.
	// To start a process inside, use [Start].
	Apply(pid int) error
	// Set writes the limits r; zero fields are left alone.
	Set(r Resources) error
	// Stats reads the cgroup's counters.
	Stats() (Stats, error)
	// Procs lists the processes in the cgroup itself (cgroup.procs).
	Procs() ([]int, error)
	// Freeze stops every process in the cgroup and below it, and returns
	// once they are stopped; Thaw lets them run again. v2 uses
	// cgroup.freeze (Linux 5.2+); v1 needs the freezer controller.
	Freeze() error
	Thaw() error
	// Kill sends SIGKILL to every process in the cgroup and below it, and
	// returns once they have left.
	Kill() error
	// Destroy kills what is inside, then removes the cgroup and every
	// cgroup below it, deepest first (rmdir(2) refuses a cgroup that holds
	// processes or children: EBUSY). Destroying a cgroup that is not there
	// is not an error.
	Destroy() error
}

// Config names a cgroup for [Host.New].
type Config struct {
	// Parent is the cgroup the new one goes under, as a path below the
	// hierarchy root: "/" or "/unbox". The package doc says how to choose
	// it. Create makes it if it is missing.
	Parent string
	// Name is the new cgroup's own name, one path element: "ctr-1".
	Name string
	// Controllers are those the cgroup uses, by their v2 names: "cpu",
	// "cpuset", "memory", "pids", "devices", and "freezer" for Freeze on
	// v1 (on v2 freezing is in the core, and "freezer" asks for nothing;
	// v2's "devices" is a BPF program, not a controller to enable). On
	// v1, "cpu" also joins the cpuacct hierarchy, which counts CPU usage.
	Controllers []string
}

// Path is the cgroup's path below the hierarchy root.
func (c Config) Path() string { return filepath.Join(c.Parent, c.Name) }

// knownControllers are the ones this package can drive.
var knownControllers = []string{"cpu", "cpuset", "memory", "pids", "devices", "freezer"}

func checkControllers(ctls []string) error {
	if len(ctls) == 0 {
		return errors.New("no controllers: name the ones the cgroup uses (cpu, cpuset, memory, pids, devices, freezer)")
	}
	for _, c := range ctls {
		if !slices.Contains(knownControllers, c) {
			return fmt.Errorf("controller %q: this package drives %s", c, strings.Join(knownControllers, ", "))
		}
	}
	return nil
}

func (c Config) validate() error {
	if !strings.HasPrefix(c.Parent, "/") || filepath.Clean(c.Parent) != c.Parent {
		return fmt.Errorf("cgroup parent %q: want an absolute, clean path below the hierarchy root, such as / or /unbox", c.Parent)
	}
	if c.Name == "" || c.Name == "." || c.Name == ".." || strings.ContainsAny(c.Name, "/\n") {
		return fmt.Errorf("cgroup name %q: want one path element, such as ctr-1", c.Name)
	}
	return checkControllers(c.Controllers)
}

// New names a cgroup without touching it: [Manager.Create] makes it. It is
// the one place where the mode picks an implementation.
func (h *Host) New(c Config) (Manager, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	if h.Mode.V2() {
		return newV2(h, c), nil
	}
	return newV1(h, c)
}

// v1Hierarchies are the v1 hierarchies a controller needs: cpu's usage
// counters are in cpuacct, a separate controller in v1.
func v1Hierarchies(controller string) []string {
	if controller == "cpu" {
		return []string{"cpu", "cpuacct"}
	}
	return []string{controller}
}

// needs lists the controllers that the fields set in r need, for an error
// that names the missing one rather than a missing file.
func (r Resources) needs() []string {
	var out []string
	if r.CPUQuota != 0 || r.CPUPeriod != 0 || r.CPUShares != 0 || r.CPUWeight != 0 {
		out = append(out, "cpu")
	}
	if r.CpusetCPUs != "" || r.CpusetMems != "" {
		out = append(out, "cpuset")
	}
	if r.Memory != 0 || r.MemoryReservation != 0 || r.MemorySwap != 0 {
		out = append(out, "memory")
	}
	if r.PidsLimit != 0 {
		out = append(out, "pids")
	}
	if r.Devices != nil {
		out = append(out, "devices")
	}
	return out
}

// checkSet validates r for a cgroup created with controllers.
func checkSet(path string, controllers []string, r Resources) error {
	if err := r.Validate(); err != nil {
		return fmt.Errorf("limits for %s: %w", path, err)
	}
	for _, n := range r.needs() {
		if !slices.Contains(controllers, n) {
			return fmt.Errorf("limits for %s need the %s controller, and the cgroup was made without it (Config.Controllers %v)",
				path, n, controllers)
		}
	}
	return nil
}
