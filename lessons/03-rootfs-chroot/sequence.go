//go:build linux

package main

import "github.com/unboxlab/unbox/internal/kit"

// sequencePicture is the container of lessons 01 to 03, drawn from the
// outside in: which lesson added which part.
const sequencePicture = `┌─ host ─────────────────────────────────────────────────────────────────┐
│ 02 cgroup unbox-<name>: cpu.max  memory.max  pids.max                  │
│ ┌─ 01 namespaces: mnt pid uts ipc net (user cgroup) ─────────────────┐ │
│ │ 03 /          the rootfs: pivot_root, the old root unmounted       │ │
│ │    /proc      its own PID namespace                                │ │
│ │    /proc/sys  read-only: the kernel is shared                      │ │
│ │    /sys       read-only                                            │ │
│ │    /dev       null zero full random urandom tty; pts, shm          │ │
│ │                                                                    │ │
│ │    PID 1      the program: execve("/bin/sh")                       │ │
│ └────────────────────────────────────────────────────────────────────┘ │
└────────────────────────────────────────────────────────────────────────┘`

// sequence is what a runtime does to start a container, in order: the
// order of mount.EnterRoot, which mounts before it pivots (steps 4 and 5 of
// this lesson, the other way round, show each half on its own).
var sequence = [][]string{
	{"1", "clone(2) with CLONE_NEWNS|CLONE_NEWPID|CLONE_NEWUTS|CLONE_NEWIPC|CLONE_NEWNET", "01"},
	{"2", "write the child's PID to its own cgroup's cgroup.procs, with limits set", "02"},
	{"3", "make mounts private, bind the rootfs onto itself", "03"},
	{"4", "mount /proc, /sys, /dev, /dev/pts, /dev/shm under it; make the safe device nodes", "03"},
	{"", "make /proc/sys read-only, mask /proc/kcore and the like (step 6)", "03"},
	{"5", "cd rootfs; pivot_root . .; umount -l .", "03"},
	{"6", "execve(2) the program, which becomes the container's PID 1", ""},
}

func stepSequence(s *kit.Session) error {
	s.Cmd("# the start, in order")
	rows := make([][]string, len(sequence))
	for i, r := range sequence {
		rows[i] = []string{r[0], s.T(r[1]), r[2]}
	}
	s.Table([]string{"", "what the runtime does", "lesson"}, rows)
	s.Cmd("# the container it makes, from the outside in")
	s.Show("%s", s.T(sequencePicture))
	s.Note("A runtime mounts under the new root before it pivots (4, then 5), while the host's paths are\n" +
		"still there for a volume's source: internal/mount's EnterRoot runs that order. Steps 4 and 5 of\n" +
		"this lesson did the two halves the other way round, to show each on its own.")
	s.Note("The start sequence is complete for one process: its own view of the system (01), its own\n" +
		"limits (02) and its own root filesystem (03). Still missing: images stored as shared layers\n" +
		"(04), data that outlives the container (05), a network (06), and a way to join a running\n" +
		"container (07).")
	return nil
}
