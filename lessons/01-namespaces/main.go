//go:build linux

// Lesson 01: namespaces. A container is an ordinary process that the kernel
// shows a different view of the system; each kind of namespace is one part of
// that view. Each step starts a child in a new namespace and looks at it from
// both sides: what the child sees, and that the host did not change.
//
// Run it with `go run -exec sudo ./lessons/01-namespaces` (see README.md).
package main

import (
	"context"
	_ "embed"
	"io"

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

// privileged is what every step but the user namespace one needs: creating a
// namespace other than a user namespace takes CAP_SYS_ADMIN (namespaces(7)).
func privileged(kind string) []kit.Need {
	return []kit.Need{kit.NeedRoot, kit.NeedNamespace(kind)}
}

func lesson() *kit.Lesson {
	return &kit.Lesson{
		Name:  "01-namespaces",
		Title: "01 · namespaces",
		Intro: "A container is an ordinary process that the kernel shows a different view of the system.\n" +
			"Each step starts a child in a new namespace and looks from both sides: what the child sees\n" +
			"(inside) and what the host still sees (host).",
		Steps: []kit.Step{
			{
				Title: "The host's namespaces",
				Explain: "Every process is in exactly one namespace of each kind. /proc/<pid>/ns holds a link per kind;\n" +
					"the number in brackets is the namespace's inode, its identity: two processes share a\n" +
					"namespace exactly when the numbers match.",
				Run: stepHostNamespaces,
			},
			{
				Title: "UTS namespace: a hostname of its own",
				Explain: "A UTS namespace holds the hostname and NIS domain name that uname(2) reports,\n" +
					"so a container can be called something without renaming the host.",
				Needs: privileged("uts"),
				Run:   stepUTS,
			},
			{
				Title: "PID namespace: PID 1 and the single-process model",
				Explain: "A PID namespace numbers processes afresh: the first one in it is PID 1, the namespace's init,\n" +
					"with the duties of an init. A container runs one program as that PID 1 and lives exactly as\n" +
					"long as it: the single-process model. /proc, though, shows whichever PID namespace mounted it.",
				Needs: append(privileged("pid"), kit.NeedNamespace("mnt")),
				Run:   stepPID,
			},
			{
				Title: "Mount namespace: a mount table of its own",
				Explain: "A mount namespace starts as a copy of the host's mount table. With propagation made private\n" +
					"first, what is mounted inside stays inside (mount_namespaces(7)).",
				Needs: privileged("mnt"),
				Run:   stepMount,
			},
			{
				Title: "IPC namespace: System V IPC of its own",
				Explain: "System V shared memory, semaphores and message queues are found by a numeric key.\n" +
					"An IPC namespace gives a container its own set of keys (ipc_namespaces(7)).",
				Needs: privileged("ipc"),
				Run:   stepIPC,
			},
			{
				Title: "Network namespace: only a loopback, and it is down",
				Explain: "A network namespace has its own interfaces, addresses, routes and firewall.\n" +
					"A new one has nothing but lo, switched off; lesson 06 wires it to the host.",
				Needs: privileged("net"),
				Run:   stepNet,
			},
			{
				Title: "User namespace: root inside, nobody outside",
				Explain: "A user namespace maps user IDs: a process can be uid 0, with every capability, inside,\n" +
					"while the host counts it as an unprivileged uid (user_namespaces(7)). It is the one namespace\n" +
					"an unprivileged user may create, which is how rootless containers start.",
				Needs: []kit.Need{kit.NeedNamespace("user"), kit.NeedUserNS},
				Run:   stepUser,
			},
			{
				Title: "Cgroup namespace: its own cgroup is /",
				Explain: "A cgroup namespace makes the cgroup a process is in when it unshares the root of its view,\n" +
					"so a container cannot see (or depend on) where the host put it (cgroup_namespaces(7)).",
				Needs: privileged("cgroup"),
				Run:   stepCgroupNS,
			},
			{
				Title: "PID 1 and signals: why docker stop waits ten seconds",
				Explain: "The kernel protects a PID namespace's init from signals it has no handler for, sent from\n" +
					"inside or from the host. A program that never expected to be PID 1 ignores SIGTERM.",
				Needs: privileged("pid"),
				Run:   stepSignals,
			},
			{
				Title: "One kernel: a container is a process, not a machine",
				Explain: "The same view as a container's, from new namespaces of five kinds, and from the host: the\n" +
					"kernel it runs on, the line it is in ps, and what starting it costs next to booting a VM.",
				Needs: append(privileged("uts"), kit.NeedNamespaces("pid", "mnt", "ipc", "net")...),
				Run:   stepMachine,
			},
		},
		Exercises:  exercises,
		Catalogs:   map[string]string{"zh": zhPO},
		Shell:      shell,
		ShellNeeds: append(privileged("uts"), kit.NeedNamespaces("pid", "mnt", "ipc", "net")...),
		Outro: "A container is a process in new namespaces on the host's kernel: docker run makes mnt, uts,\n" +
			"ipc, pid and net ones (and cgroup on cgroup v2), not user or time by default. The next\n" +
			"lessons add limits (02 cgroups) and a filesystem of its own (03 rootfs).",
	}
}
