//go:build linux

// Lesson 03: the root filesystem. A container image is just a directory; a
// container is a process whose / is that directory. chroot(2) changes where
// / is, and a root process walks straight out of it; pivot_root(2) in a
// private mount namespace, with the old root unmounted, leaves nothing to
// walk out to. Then the new root gets what a runtime gives every container:
// its own /proc, a read-only /sys, and a /dev with only the safe devices.
//
// Run it with `go run -exec sudo ./lessons/03-rootfs-chroot` (see README.md).
package main

import (
	"context"
	_ "embed"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/unboxlab/unbox/internal/kit"
)

func main() { kit.Main(run) }

// zhPO is the lesson's narration in Chinese (--lang zh).
//
//go:embed zh.po
var zhPO string

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return kit.Run(ctx, lesson(), args, stdin, stdout, stderr)
}

// state is what the steps share: the root filesystem of step 1 and the
// container child of steps 4 to 8.
type state struct {
	work *workdir
	ctr  *container
}

func lesson() *kit.Lesson {
	st := &state{}
	return &kit.Lesson{
		Name:  "03-rootfs-chroot",
		Title: "03 · the root filesystem: chroot, its escape, and pivot_root done right",
		Intro: "A container image is just a directory, and a container is a process whose / is that directory.\n" +
			"chroot(2) gives a process another /, and a root process walks straight out of it. pivot_root(2),\n" +
			"in a mount namespace of its own, with the old root unmounted, leaves nothing to walk out to.",
		// Mounting, chroot(2) and pivot_root(2) all need CAP_SYS_ADMIN or
		// CAP_SYS_CHROOT in the host's user namespace.
		Needs: append([]kit.Need{kit.NeedRoot}, kit.NeedNamespaces("mnt", "pid")...),
		Steps: []kit.Step{
			{
				Title: "A root filesystem is just a directory",
				Explain: "An image unpacked on disk is a directory tree with a shell, a few tools and an /etc.\n" +
					"Next to it, a file that only the host has: the steps below try to reach it from inside.",
				Run: st.stepRootfs,
			},
			{
				Title: "chroot: another /",
				Explain: "chroot(2) changes the directory a process starts from when a path begins with /.\n" +
					"Nothing else changes: no namespace is created.",
				Requires: []int{1},
				Run:      st.stepChroot,
			},
			{
				Title: "Try breaking it: the chroot escape",
				Explain: "chroot(2) does not change the working directory, and `..` stops only at the process's root.\n" +
					"A root process inside a chroot chroots again into a subdirectory, so that its working directory\n" +
					"is outside its root, and walks up past everything (chroot(2) says how).",
				Requires: []int{1},
				Run:      st.stepChrootEscape,
			},
			{
				Title: "pivot_root, done right",
				Explain: "In a new mount namespace: make every mount private first, make the rootfs a mount point,\n" +
					"pivot_root(2) into it, then detach the old root (pivot_root(2), mount_namespaces(7)). The commands\n" +
					"are internal/mount's trace of what it did, as you would type them.",
				Requires: []int{1},
				Run:      st.stepPivotRoot,
			},
			{
				Title: "Populate the new root: /proc, /sys, /dev",
				Explain: "The filesystems a runtime mounts in every container (runc's defaults): a /proc of its own PID\n" +
					"namespace, /sys read-only, /dev as a small tmpfs with only the safe device nodes, a private\n" +
					"devpts and a /dev/shm. (What they leave writable in /proc is step 6.)",
				Requires: []int{1, 4},
				Run:      st.stepPopulate,
			},
			{
				Title: "The kernel is shared: /proc/sys, and why runtimes make it read-only",
				Explain: "The container has its own /proc, but most of /proc/sys is one setting for the whole\n" +
					"machine: no namespace covers it. What a container writes there, the host's kernel does.",
				Requires: []int{1, 4, 5},
				Run:      st.stepProcSys,
			},
			{
				Title:    "The same escape, after pivot_root",
				Explain:  "Step 3's escape, run by a root process inside the container: it finds no way out.",
				Requires: []int{1, 4, 5},
				Run:      st.stepPivotEscape,
			},
			{
				Title: "Two mount tables",
				Explain: "The container's mount table, read from the host, next to the host's own: what the container\n" +
					"mounted exists only in its namespace.",
				Requires: []int{1, 4, 5},
				Run:      st.stepTwoTables,
			},
			{
				Title:   "The start sequence, complete for one process",
				Explain: "Namespaces (01), a cgroup (02) and a root filesystem (03): what a runtime does before exec.",
				Run:     stepSequence,
			},
		},
		Exercises:  exercises,
		Catalogs:   map[string]string{"zh": zhPO},
		Shell:      st.shell,
		ShellNeeds: kit.NeedNamespaces("uts", "ipc"),
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "rootfs", Usage: "`SOURCE` of the root filesystem's programs: busybox (the host's static busybox) or host (its own tools); default: busybox when the host has one"},
		},
		Outro: "A process with its own namespaces, limits and root filesystem is a container. Lesson 04 builds\n" +
			"the root filesystem from image layers with overlayfs, instead of copying a directory.",
	}
}
