//go:build linux

// Lesson 02: cgroups. A namespace changes what a process sees; a cgroup
// limits what it uses. Each step puts a re-exec'd child into a cgroup of its
// own and shows the limit working from the kernel's own counters: CPU
// throttling, the OOM killer, a fork bomb stopped at pids.max. The same
// steps run on cgroup v1 and cgroup v2: the mechanism is internal/cgroups,
// one Manager with a v1 and a v2 implementation, and every command this
// lesson prints is a change that package made (its trace, state.go).
//
// Run it with `go run -exec sudo ./lessons/02-cgroups` (see README.md).
package main

import (
	"context"
	_ "embed"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/unboxlab/unbox/internal/cgroups"
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

// needCgroups is a cgroup filesystem this lesson can drive: mounted, in a
// mode we know, with the cpu, memory and pids controllers.
var needCgroups = kit.Need{
	Name: "cgroups (cpu, memory, pids)",
	Check: func() error {
		h, err := cgroups.OpenHost(cgroups.DefaultRoot)
		if err != nil {
			return err
		}
		return h.Check(controllers...)
	},
	Fix: "a kernel with CONFIG_CGROUPS, CONFIG_MEMCG, CONFIG_CGROUP_PIDS and CONFIG_CFS_BANDWIDTH and cgroups mounted at /sys/fs/cgroup (any current distribution); use the Vagrant VM",
}

// needs: writing to cgroup files needs root (CAP_SYS_ADMIN, and ownership
// of the files, which belong to root unless delegated).
var needs = []kit.Need{kit.NeedRoot, needCgroups}

func lesson() *kit.Lesson {
	l := &lessonState{}
	return &kit.Lesson{
		Name:  "02-cgroups",
		Title: "02 · cgroups",
		Intro: "A namespace changes what a process sees; a cgroup limits what it uses. Each step puts a child\n" +
			"into a cgroup of its own before it starts, sets a limit by writing a file, and shows the limit\n" +
			"at work in the kernel's own counters.",
		Needs: needs,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "hold", Usage: "in the CPU, memory and PIDs steps, wait for Enter while the child is in its cgroup, to look around from another terminal"},
		},
		Steps: []kit.Step{
			{
				Title: "Which cgroups, and where this process is",
				Explain: "A cgroup is a directory in a special filesystem; the processes listed in it are held to the\n" +
					"limits written in its files. Linux has two versions: v1 mounts one hierarchy per controller,\n" +
					"v2 one tree for all. A runtime tells them apart as runc does: statfs(2) on /sys/fs/cgroup.",
				Run: l.stepMode,
			},
			{
				Title: "A cgroup for the container, and a child in it before it starts",
				Explain: "Creating a cgroup is mkdir; the kernel fills the directory with files. A process joins by\n" +
					"having its PID written to cgroup.procs, and what it starts is born inside. A runtime puts the\n" +
					"container's first process in before it runs code of its own, so nothing it does escapes.",
				Run: l.stepCreate,
			},
			{
				Title: fmt.Sprintf("CPU: --cpu-period=%d --cpu-quota=%d", cpuLimit.CPUPeriod, cpuLimit.CPUQuota),
				Explain: "The CPU bandwidth limit gives the cgroup QUOTA µs of CPU time per PERIOD µs, all its threads\n" +
					"together; once the quota is spent they wait for the next period (they are throttled).\n" +
					fmt.Sprintf("%d of %d is %g of one CPU: docker run --cpus=%g.", cpuLimit.CPUQuota, cpuLimit.CPUPeriod,
						cpus(cpuLimit), cpus(cpuLimit)),
				Run: l.stepCPU,
			},
			{
				Title: fmt.Sprintf("Memory: a %d MiB limit, and the OOM killer", memoryLimit.Memory/mib),
				Explain: "The memory limit caps what is charged to the cgroup. At the limit the kernel first reclaims\n" +
					"memory it can take back; only when there is none does the OOM killer kill a process in the\n" +
					"cgroup, with SIGKILL. Hitting the limit and being killed are two different events.",
				Run: l.stepMemory,
			},
			{
				Title: "PIDs: pids.max stops a fork bomb",
				Explain: "pids.max caps the tasks in a cgroup, processes and threads alike. Past it, fork(2) and\n" +
					"clone(2) fail with EAGAIN, so a fork bomb fills its cgroup and stops there instead of\n" +
					"filling the machine's process table.",
				Run: l.stepPids,
			},
			{
				Title: "The /proc problem: the limits are not where programs look",
				Explain: "/proc/meminfo, which free reads, describes the machine, not the cgroup; sched_getaffinity(2),\n" +
					"which nproc and most runtimes read, follows a cpuset but not a CPU quota. A program sized by\n" +
					"them inside a container with these limits sizes itself for the host.",
				Run: l.stepProcView,
			},
			{
				Title: "Clean up: empty the cgroups, then remove them",
				Explain: "rmdir removes a cgroup, but only once no process and no child cgroup is left in it (else\n" +
					"EBUSY). So: kill what is inside, then remove the cgroups deepest first. The lesson does this\n" +
					"however it ends, Ctrl-C included.",
				Run: l.stepCleanup,
			},
		},
		Exercises: exercises,
		Catalogs:  map[string]string{"zh": zhPO},
		Outro: "Limits are files: cpu.max, memory.max, pids.max (or their v1 names), written before the\n" +
			"container's first process runs. Lesson 03 gives the container a root filesystem of its own.",
	}
}
