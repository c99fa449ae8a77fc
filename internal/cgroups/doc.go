// Package cgroups puts processes into control groups and holds them to
// limits: CPU bandwidth and weight, a cpuset, memory and swap, a number of
// tasks. It is unbox's one implementation of cgroups, in the shape of
// opencontainers/cgroups: a small [Manager] interface with a cgroup v1
// implementation (v1*.go, one file per controller) and a cgroup v2 one
// (v2*.go) side by side, chosen in exactly one place ([Host.New]) from the
// mode that [DetectMode] reads with statfs(2).
//
// Taught by lesson 02 (cgroups), which narrates what this package does from
// its trace ([Host.Trace]): every directory made or removed and every value
// written, as the shell command a person would type. Lesson 01 uses its
// mode detection to find the cgroup tree it shows. The capstone will turn an
// OCI config's linux.resources (docker run's --cpus, --memory,
// --pids-limit, --cpuset-cpus) into [Resources], start each container's
// first process with [Start], and read [Manager.Stats] for `unbox stats`.
//
// # The two versions
//
// cgroup v1 (Documentation/admin-guide/cgroup-v1/) mounts one hierarchy
// per controller, conventionally at /sys/fs/cgroup/<controller> (systemd
// mounts cpu and cpuacct together as "cpu,cpuacct" and adds a symlink named
// for each). A cgroup is a directory of the same name in each hierarchy,
// and a process is moved into each separately. cgroup v2
// (Documentation/admin-guide/cgroup-v2.rst) is one tree; a cgroup has the
// controllers its parent lists in cgroup.subtree_control, so [Manager.Create]
// enables them on the way down. A "hybrid" host has the v1 hierarchies and an
// empty cgroup2 tree at /sys/fs/cgroup/unified: for limits it is v1.
//
// # Choosing the parent
//
// [Config.Parent] is where the new cgroup goes; the package never guesses.
// cgroup v2's "no internal processes" rule (cgroup-v2.rst) decides what can
// work: a cgroup other than the root that holds processes cannot hand
// controllers to its children. So:
//
//   - As root, with no cgroup manager of your own (the lessons, the
//     capstone's default), use a parent of your own that holds no process,
//     directly below the root: "/unbox". Docker's and podman's cgroupfs
//     drivers do the same ("/docker", "/libpod_parent").
//   - Under a systemd unit started with Delegate=yes (systemd-run --scope
//     -p Delegate=yes, or a service), the delegated subtree is yours: read
//     your own cgroup from /proc/self/cgroup (procfs.ReadCgroup("self") and
//     procfs.CgroupPath(lines, "")), move yourself into a leaf below it
//     ([Manager.Apply] on a cgroup "supervisor" under it), and use that
//     cgroup as the parent of the containers' cgroups. systemd's
//     https://systemd.io/CGROUP_DELEGATION/ explains the rules.
//   - Your own cgroup as it stands is the wrong parent on v2 whenever
//     another process shares it (your shell, sudo): Create fails with EBUSY
//     and an error that names the rule.
//
// # Into the cgroup before it runs
//
// A limit that starts late has already been escaped: what a process does
// before it is moved stays charged to the cgroup it came from. Memory, in
// particular, is charged to the cgroup of the task that first touches a
// page and stays there until the page is freed; moving the task does not
// move the charge (cgroup-v2.rst, "Memory Ownership"). cgroup v1 could
// move it (memory.move_charge_at_immigrate, off by default, deprecated,
// and since Linux 6.13 refused: writing 1 fails with EINVAL). CPU time and
// the task count follow the task from the move on (a move is counted even
// past pids.max: only fork is refused).
//
// So [Start] starts a process directly inside its cgroup where the kernel
// can: clone3(2) with CLONE_INTO_CGROUP and a file descriptor of the
// cgroup's directory (cgroup v2, Linux 5.7+; Go's
// syscall.SysProcAttr.UseCgroupFD). Everything the process runs, from its
// first instruction, is charged to the cgroup. Where it cannot (cgroup v1,
// which has no single directory to clone into; clone3 refused by an older
// kernel or a seccomp filter), the process starts in its parent's cgroup
// and must wait, blocked on a pipe or socket, until [Start] has written its
// PID to cgroup.procs; then its own code runs inside. What ran before the
// move (for a Go program, some or all of the runtime's start-up: up to a
// few MiB of heap and stacks) stays charged to the parent's memory cgroup.
//
// # Errors, tracing, testing
//
// Errors name the operation and the file, and say what to do ("is the
// memory controller enabled for this cgroup?"). Nothing here prints: a
// caller that wants to show its work sets [Host.Trace] and gets each change
// as an [Op]. The root is a field of [Host], and the few things a cgroup
// filesystem does beyond files (mkdir fills a directory, rmdir refuses a
// busy cgroup, kill empties it) go through one small internal interface, so
// the pure tests run the same code on fake v1 and v2 trees in a temporary
// directory; the privileged tests hold the real kernel to the limits.
package cgroups
