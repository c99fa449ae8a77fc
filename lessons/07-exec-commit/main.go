//go:build linux

// Lesson 07: exec and commit. `docker exec` starts a process in the
// namespaces and cgroup of a running container, with setns(2); `docker
// commit` turns what the container changed, its overlay upper dir, into an
// image layer. The lesson runs a container made of lessons 01 to 04's
// pieces, joins it from Go, shows why that is hard and what the joined
// process sees, then commits its changes as an OCI layer and runs a new
// container from the new image.
//
// Run it with `go run -exec sudo ./lessons/07-exec-commit` (see README.md).
package main

import (
	"context"
	_ "embed"
	"io"

	"github.com/unboxlab/unbox/internal/kit"
)

// zhPO is the lesson's narration in Chinese (--lang zh).
//
//go:embed zh.po
var zhPO string

func main() { kit.Main(run) }

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return kit.Run(ctx, lesson(), args, stdin, stdout, stderr)
}

const intro = `docker exec runs a process inside a running container: in its namespaces, its cgroup, its
root filesystem. docker commit turns what a container changed into an image layer. This lesson
runs a container built from lessons 01 to 04's pieces, joins it from Go, and commits it:

      image "base" (OCI layout)           container web                 image "committed"
  ┌──────────────────────────┐     ┌─────────────────────────┐    ┌──────────────────────────┐
  │ 2 COPY app/ /            │────▶│ upper: its changes ─────┼───▶│ 3 unbox commit web       │
  │ 1 the root filesystem    │     │ init: hostname, hosts   │    │ 2 COPY app/ /            │
  └──────────────────────────┘     │ PID 1: sleep            │    │ 1 the root filesystem    │
                                   │   ▲ nsenter: sh, ps ... │    └──────────────────────────┘
                      this lesson ─┼───┘ setns(2), 7 times   │      → container web2
                                   └─────────────────────────┘`

func lesson() *kit.Lesson {
	st := &state{}
	return &kit.Lesson{
		Name:  "07-exec-commit",
		Title: "07 · exec and commit: into a running container, and its changes out as a layer",
		Intro: intro,
		Needs: needs,
		Steps: []kit.Step{
			{
				Title: "A running container, from the pieces of lessons 01 to 04",
				Explain: "An image of two layers in an OCI layout, unpacked into snapshots; an init layer and an upper dir\n" +
					"stacked on them by overlayfs; a cgroup; new namespaces; and PID 1, a process that sleeps.",
				Run: st.stepContainer,
			},
			{
				Title: "Its namespaces, next to the host's",
				Explain: "Each file in /proc/<pid>/ns is a handle on one namespace of that process. Opened and passed to\n" +
					"setns(2), it moves the caller in: nsenter(1) and docker exec are built on that.",
				Requires: []int{1},
				Run:      st.stepNamespaces,
			},
			{
				Title: "Joining from Go, and why it is hard",
				Explain: "setns(2) moves the calling thread, and a Go program has many. One locked thread of this lesson\n" +
					"tries each namespace in turn; then the way internal/nsenter does it.",
				Requires: []int{1},
				Run:      st.stepWhyHard,
			},
			{
				Title:    "The process that joined",
				Explain:  "A shell exec'd into the container: what it sees from inside, and what the host sees of it.",
				Requires: []int{1},
				Run:      st.stepJoined,
			},
			{
				Title: "Exit status, signals and a terminal",
				Explain: "The exec'd process is the lesson's child: its exit status comes back, signals reach it, and\n" +
					"with -t it gets a terminal of the container's own, of the caller's size.",
				Requires: []int{1},
				Run:      st.stepStatus,
			},
			{
				Title: "Not PID 1's child, and what PID 1's exit does",
				Explain: "Inside, an exec'd process has no parent: its parent lives outside the container. When the\n" +
					"container's PID 1 exits, the kernel kills everything else in its PID namespace.",
				Requires: []int{1},
				Run:      st.stepParent,
			},
			{
				Title: "Changes in the container",
				Explain: "A new file, a changed one, a deleted one and a directory made again, through exec; plus a\n" +
					"write to the init layer's /etc/hosts and to a volume, which must not end up in an image.",
				Requires: []int{1},
				Run:      st.stepChanges,
			},
			{
				Title: "The upper dir becomes a layer",
				Explain: "docker commit: the upper dir written as a tar, markers spelled as the image format spells\n" +
					"them, the init layer's files and the volume left out, then compressed and digested.",
				Requires: []int{1, 7},
				Run:      st.stepCommit,
			},
			{
				Title: "A new image, and a container from it",
				Explain: "The layer goes on top of the base image's two: a config and a manifest (OCI image-spec)\n" +
					"written next to them. A new container runs from the new image, and the change is there.",
				Requires: []int{1, 7, 8},
				Run:      st.stepImage,
			},
		},
		Shell:      st.shell,
		ShellNeeds: needs,
		Exercises:  exercises,
		Catalogs:   map[string]string{"zh": zhPO},
		Outro: "docker exec is setns(2) into each namespace of a running process, done where Go cannot, and a\n" +
			"fork for the PID namespace; docker commit is the upper dir, written as a tar. The lesson removes\n" +
			"its containers, cgroups, mounts and files now.",
	}
}
