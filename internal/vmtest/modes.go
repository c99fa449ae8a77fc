package main

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/unboxlab/unbox/internal/procfs"
)

// bootMode is one cgroup setup the lane boots. init.sh builds it; the host
// side checks that the guest reported the layout the mode stands for, so a
// boot that quietly came up in another mode fails rather than passing as
// this one.
type bootMode struct {
	Name  string
	About string // for -h
	// V1 is a tmpfs of cgroup v1 hierarchies at /sys/fs/cgroup; otherwise
	// cgroup2 is mounted there. Unified is cgroup2 at /sys/fs/cgroup/unified
	// next to the v1 hierarchies (hybrid).
	V1, Unified bool
	// Session is the cgroup the tests run in, in the v2 tree or (v1) in the
	// hierarchies systemd tracks per unit; Slice (v1 only) in cpu,cpuacct,
	// where systemd goes no deeper than the slice.
	Session, Slice string
}

const sessionScope = "/user.slice/user-1000.slice/session-1.scope"

// bootModes are the setups init.sh knows, in the order -h lists them.
var bootModes = []bootMode{
	{Name: "bare", About: "cgroup v2, no controller enabled at the root, tests in the root cgroup (no systemd)", Session: "/"},
	{Name: "systemd", About: "cgroup v2 delegated down to a login session, as systemd does", Session: sessionScope},
	{Name: "hybrid", About: "cgroup v1 hierarchies (cpu,cpuacct together) with cgroup2 at unified/, as systemd's hybrid layout",
		V1: true, Unified: true, Session: sessionScope, Slice: "/user.slice"},
	{Name: "legacy", About: "cgroup v1 hierarchies (cpu,cpuacct together) and no cgroup2, as systemd's legacy layout",
		V1: true, Session: sessionScope, Slice: "/user.slice"},
}

// defaultModes are booted unless -modes says otherwise: both cgroup v2
// setups and one cgroup v1. Hybrid rather than legacy: it is what systemd
// set up on the v1 distributions still in use (Ubuntu 18.04 and 20.04,
// Debian 10), and it holds the legacy layout whole, plus the cgroup2 tree
// without controllers that trips mode detection written as "is there a
// cgroup2 mount?". Legacy is one flag away (-modes legacy).
var defaultModes = []string{"bare", "systemd", "hybrid"}

func findMode(name string) (bootMode, bool) {
	i := slices.IndexFunc(bootModes, func(m bootMode) bool { return m.Name == name })
	if i < 0 {
		return bootMode{}, false
	}
	return bootModes[i], true
}

func modeNames() string {
	var names []string
	for _, m := range bootModes {
		names = append(names, m.Name)
	}
	return strings.Join(names, ", ")
}

// statfs(2) f_type values, as busybox's stat -f -c %t prints them (hex);
// include/uapi/linux/magic.h.
const (
	cgroup2Magic = 0x63677270
	tmpfsMagic   = 0x01021994
)

func magic(hex string) uint64 {
	v, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
	if err != nil {
		return 0
	}
	return v
}

// procCgroup is the test process's /proc/self/cgroup, as the guest sent it
// (its lines joined by spaces; our cgroup paths have none).
func procCgroup(b *bootLog) ([]procfs.Cgroup, error) {
	return procfs.ParseCgroup(strings.ReplaceAll(strings.TrimSpace(b.Info["proccgroup"]), " ", "\n"))
}

// layoutProblems compares what the guest reported with its mode; nil when
// it is the layout the mode stands for.
func layoutProblems(b *bootLog) []string {
	m, ok := findMode(b.Mode)
	if !ok {
		return []string{"unknown mode " + b.Mode}
	}
	in := b.Info
	var p []string
	lines, err := procCgroup(b)
	if err != nil || len(lines) == 0 {
		p = append(p, fmt.Sprintf("no /proc/self/cgroup from the test process (%q: %v)", in["proccgroup"], err))
	}
	want := func(controller, path string) {
		got, ok := procfs.CgroupPath(lines, controller)
		name := controller
		if name == "" {
			name = "the cgroup2 tree"
		}
		switch {
		case !ok:
			p = append(p, "the test process is in no "+name+" hierarchy")
		case got != path:
			p = append(p, fmt.Sprintf("the test process is in %s in %s; want %s", got, name, path))
		}
	}
	if !m.V1 {
		if magic(in["cgroupfs"]) != cgroup2Magic || in["v1mounts"] != "0" {
			p = append(p, fmt.Sprintf("/sys/fs/cgroup is not pure cgroup v2 (statfs magic 0x%s, %s v1 mounts)", in["cgroupfs"], in["v1mounts"]))
		}
		if len(lines) != 1 {
			p = append(p, fmt.Sprintf("the test process is in %d hierarchies; want the cgroup2 tree alone", len(lines)))
		}
		want("", m.Session)
		return p
	}
	if magic(in["cgroupfs"]) != tmpfsMagic || in["cgroupro"] != "ro" {
		p = append(p, fmt.Sprintf("/sys/fs/cgroup is not a read-only tmpfs (statfs magic 0x%s, %s)", in["cgroupfs"], in["cgroupro"]))
	}
	// The kernel's own account of the hierarchies: controllers mounted
	// together share a line of /proc/self/cgroup.
	for _, together := range []string{"cpu,cpuacct", "net_cls,net_prio"} {
		if !slices.ContainsFunc(lines, func(l procfs.Cgroup) bool { return strings.Join(l.Controllers, ",") == together }) {
			p = append(p, "no "+together+" hierarchy")
		}
	}
	want("name=systemd", m.Session)
	want("memory", m.Session)
	want("pids", m.Session)
	want("cpu", m.Slice)
	_, v2 := procfs.CgroupPath(lines, "")
	switch {
	case m.Unified && magic(in["unified"]) != cgroup2Magic:
		p = append(p, fmt.Sprintf("no cgroup2 at /sys/fs/cgroup/unified (statfs magic 0x%s)", in["unified"]))
	case m.Unified && strings.TrimSpace(in["unified_controllers"]) != "":
		p = append(p, "the unified tree has controllers ("+in["unified_controllers"]+"); hybrid has every controller on v1")
	case m.Unified:
		want("", m.Session)
	case v2 || in["unified"] != "":
		p = append(p, "cgroup2 is mounted; legacy has none")
	}
	return p
}

// describeBoot says what the guest reported about itself: the cgroup mode
// seen from inside, which is the point of the lane.
func describeBoot(w io.Writer, b *bootLog) {
	in := b.Info
	m, _ := findMode(b.Mode)
	fmt.Fprintf(w, "  %-8s kernel %s, %s CPUs, %s; / is a %s mount\n", b.Mode, in["kernel"], in["cpus"], in["memory"], propagation(in["rootmount"]))
	lines, _ := procCgroup(b)
	if !m.V1 {
		path, _ := procfs.CgroupPath(lines, "")
		fmt.Fprintf(w, "  %-8s /sys/fs/cgroup: %s (statfs magic 0x%s, %s cgroup v1 mounts); controllers: %s; enabled at the root: %s; tests run in %s\n",
			"", v2Words(in), in["cgroupfs"], in["v1mounts"], orNone(in["controllers"]), orNone(in["subtree_control"]), path)
		return
	}
	kind := "legacy"
	if in["unified"] != "" {
		kind = fmt.Sprintf("hybrid, cgroup2 at unified/ (statfs magic 0x%s) with controllers: %s", in["unified"], orNone(in["unified_controllers"]))
	}
	fmt.Fprintf(w, "  %-8s /sys/fs/cgroup: cgroup v1 %s; a %s tmpfs (statfs magic 0x%s) of %s v1 hierarchies\n",
		"", kind, in["cgroupro"], in["cgroupfs"], in["v1mounts"])
	fmt.Fprintf(w, "  %-8s a test process is in (/proc/self/cgroup):\n", "")
	for _, l := range lines {
		fmt.Fprintf(w, "  %-8s   %d:%s:%s\n", "", l.ID, strings.Join(l.Controllers, ","), l.Path)
	}
}

func v2Words(in map[string]string) string {
	if magic(in["cgroupfs"]) == cgroup2Magic && in["v1mounts"] == "0" {
		return "pure cgroup v2"
	}
	return "NOT pure cgroup v2"
}

func orNone(s string) string {
	if strings.TrimSpace(s) == "" {
		return "(none)"
	}
	return s
}

// propagation reads the optional fields of / in mountinfo ("shared:1").
func propagation(optional string) string {
	if strings.HasPrefix(optional, "shared:") {
		return "shared"
	}
	return "private"
}
