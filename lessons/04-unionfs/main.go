//go:build linux

// Lesson 04: union filesystems. An image is a stack of read-only layers, a
// container is one more, writable layer on top, and overlayfs shows the
// stack as one directory tree. The lesson builds the layers as plain
// directories, mounts them, writes and deletes through the union to show
// copy-up and whiteouts, runs two containers on one image, and enters one.
//
// Run it with `go run -exec sudo ./lessons/04-unionfs` (see README.md).
package main

import (
	"context"
	_ "embed"
	"io"
	"os"
	"path/filepath"

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

// unionNeeds is what every step that mounts needs.
var unionNeeds = []kit.Need{kit.NeedRoot, kit.NeedOverlay, NeedUpperFS}

const intro = `An image is a stack of read-only layers; a container adds one writable layer on top, and
overlayfs shows the stack as one tree. This lesson builds this picture on disk, one layer at a
time, under the directory it prints first. Run it with --pause to look around between steps.

   container a               container b
  ┌────────────────────┐    ┌────────────────────┐
  │ /data ← volume     │    │                    │   mounted over the union (step 7)
  │ upper (read-write) │    │ upper (read-write) │   each container's own changes
  │ init               │    │ init               │   /etc/hostname, hosts, resolv.conf
  └────────────────────┘    └────────────────────┘
  ┌──────────────────────────────────────────────┐
  │ 3-cleanup   rm /etc/motd, empty a directory  │
  │ 2-app       a user, a config file, a site    │   the image: read-only, shared,
  │ 1-base      a minimal root filesystem        │   on disk once
  └──────────────────────────────────────────────┘`

func lesson() *kit.Lesson {
	l := &lab{}
	// root is made in step 1; every later step works in it.
	root := filepath.Join(os.TempDir(), kit.UniqueName("lesson04"))
	start := func(s *kit.Session) error {
		nl, err := newLab(root)
		if err != nil {
			return err
		}
		*l = *nl
		s.Cleanup(func() error { _, err := l.teardown(); return err })
		s.Cmd("mkdir %s\ncd %s    # every path below is relative to it", root, root)
		return l.stepLayers(s)
	}
	return &kit.Lesson{
		Name:  "04-unionfs",
		Title: "04 · union filesystems",
		Intro: intro,
		Steps: []kit.Step{
			{
				Title: "Image layers are directories of changes",
				Explain: "Each layer holds only what one build step changed: new and changed files (whole files), and\n" +
					"markers for what it deleted. Three layers, as a three-step Dockerfile would make them.",
				Needs: unionNeeds,
				Run:   start,
			},
			{
				Title: "The init layer: files the runtime writes for each container",
				Explain: "Between the image and the container's writable layer, a runtime adds a layer of files that\n" +
					"describe this one container: its hostname, its /etc/hosts, its resolver configuration.",
				Needs:    unionNeeds,
				Requires: []int{1},
				Run:      l.stepInit,
			},
			{
				Title: "Mount the stack with overlayfs",
				Explain: "One mount(2) call stacks the directories: lowerdir lists the read-only layers top first,\n" +
					"upperdir takes every change, workdir is overlayfs's scratch space (overlayfs.rst).",
				Needs:    unionNeeds,
				Requires: []int{1, 2},
				Run:      l.stepMount,
			},
			{
				Title: "Copy-up: writing to a file of a lower layer",
				Explain: "A lower layer is never written to. The first write to one of its files copies the file into\n" +
					"the upper dir, and the write goes to the copy.",
				Needs:    unionNeeds,
				Requires: []int{1, 2, 3},
				Run:      l.stepCopyUp,
			},
			{
				Title: "Whiteouts and opaque directories: deleting what cannot be changed",
				Explain: "Deleting a name that a lower layer holds leaves a marker in the upper dir that hides it;\n" +
					"replacing a directory marks the new one opaque, so nothing of the old one shows through.",
				Needs:    unionNeeds,
				Requires: []int{1, 2, 3},
				Run:      l.stepWhiteouts,
			},
			{
				Title: "Two containers on the same image",
				Explain: "A second container gets its own init layer, upper and work dirs, and the very same image\n" +
					"layers: its writes are its own, and the image is on disk once.",
				Needs:    unionNeeds,
				Requires: []int{1, 2, 3},
				Run:      l.stepShare,
			},
			{
				Title: "Enter container a",
				Explain: "The merged directory becomes a container's root with lesson 03's sequence: new namespaces,\n" +
					"/proc, /sys, /dev and a volume mounted under it, then pivot_root(2).",
				Needs:    append(unionNeeds, kit.NeedNamespaces("mnt", "pid", "uts")...),
				Requires: []int{1, 2, 3},
				Run:      l.stepEnter,
			},
			{
				Title: "The same picture in Docker's directories",
				Explain: "Docker's overlay2 driver keeps exactly these directories under /var/lib/docker, by other\n" +
					"names: a layer's files in overlay2/<id>/diff, what a layer is in image/overlay2/layerdb.",
				Needs:    unionNeeds,
				Requires: []int{1, 2, 3},
				Run:      l.stepDocker,
			},
			{
				Title:   "AuFS, then overlayfs",
				Explain: "Docker started on AuFS; today containers run on overlayfs. What changed, and why.",
				Run:     stepHistory,
			},
			{
				Title:    "Clean up",
				Explain:  "Unmount the unions, the last one first, and remove every directory the lesson made.",
				Needs:    unionNeeds,
				Requires: []int{1},
				Run:      l.stepCleanUp,
			},
		},
		Exercises:  exercises,
		Catalogs:   map[string]string{"zh": zhPO},
		Shell:      shell,
		ShellNeeds: shellNeeds,
		Outro: "Layers are directories, the union is one mount, and a container's changes are one more\n" +
			"directory. Lesson 05 is about volumes, the directories that bypass the union; lesson 07 commits\n" +
			"an upper dir as a layer tar, spelling its markers .wh.<name>.",
	}
}
