//go:build linux

// Lesson 05: volumes. A container's writes go to its upper dir (lesson 04)
// and are removed with it; a volume puts them somewhere else, with a mount
// over a path of the container. The lesson runs containers with each of
// the four kinds docker run has: a bind mount of a host directory, a
// named volume, an anonymous volume and a tmpfs, and shows each from inside
// and from the host, with the mount(2) calls it becomes (internal/mount's
// trace) and the volume store behind it (internal/volume).
//
// Run it with `go run -exec sudo ./lessons/05-volumes` (see README.md).
package main

import (
	"context"
	_ "embed"
	"io"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

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

const intro = `A container's writes go to its upper dir, and go with it (lesson 04). A volume is a mount
over a path of the container that puts them somewhere else. docker run has four kinds:

   -v /home:/test       -v data:/test        -v /test             --tmpfs /test:size=8m
   a bind mount         a named volume       an anonymous volume  a tmpfs
   a host directory     volumes/data/_data   volumes/<id>/_data   memory, charged to
                                                                  the container's cgroup
       │                    │                    │                    │
  ┌────┴────────────────────┴────────────────────┴────────────────────┴─────────────────┐
  │ /test   a mount over the union: what is written there goes past the upper dir       │
  │ /       the union: image layers, and the upper dir that takes every other write     │
  └─────────────────────────────────────────────────────────────────────────────────────┘
Everything lives under the directory printed first; volumes/ is the lesson's volume store.`

// keepFlag keeps the named volume of step 3 when the lesson ends.
const keepFlag = "keep-volume"

// keptVolume is the volume --keep-volume keeps.
const keptVolume = "data"

func lesson() *kit.Lesson {
	l := &lab{}
	start := func(s *kit.Session) error {
		err := l.open(filepath.Join(os.TempDir(), kit.UniqueName("lesson05")))
		if l.Root != "" {
			s.Cleanup(func() error { return l.cleanUp(s) })
		}
		if err != nil {
			return err
		}
		s.Cmd("mkdir %s && cd $_    # every path below is relative to it", l.Root)
		return l.stepNoVolume(s)
	}
	return &kit.Lesson{
		Name:  "05-volumes",
		Title: "05 · volumes: bind mounts, named and anonymous volumes, tmpfs",
		Intro: intro,
		Needs: needs,
		Flags: []cli.Flag{&cli.BoolFlag{Name: keepFlag,
			Usage: "keep the named volume " + keptVolume + " (steps 3 and 4) when the lesson ends; it says where"}},
		Steps: []kit.Step{
			{
				Title: "No volume: a container's writes go to its upper dir, and go with it",
				Explain: "The image, two layers, and a container on it as lesson 04 makes one: a union mounted on the\n" +
					"host, entered with lesson 03's sequence. What it writes lands in its upper dir.",
				Run: start,
			},
			{
				Title: "A bind mount: -v /host/dir:/dir, then :ro",
				Explain: "A host directory, mounted over a path of the container: the same files from both sides,\n" +
					"the same owners by number. :ro makes the mount read-only, and every mount under it.",
				Requires: []int{1},
				Run:      l.stepBind,
			},
			{
				Title: "A named volume: -v data:/data, shared, and kept after its containers",
				Explain: "A named volume is a directory of the volume store, made on first use. Two containers\n" +
					"mount it at once; when both are removed, it stays.",
				Requires: []int{1},
				Run:      l.stepNamed,
			},
			{
				Title: "An anonymous volume: -v /scratch",
				Explain: "The same, with a random ID for a name: one new volume per container. It goes with the\n" +
					"container only when asked (--rm, docker rm -v); otherwise it is left, dangling.",
				Requires: []int{1},
				Run:      l.stepAnonymous,
			},
			{
				Title: "A volume over an image directory starts as a copy of it; a bind mount hides it",
				Explain: "A new volume mounted over a directory that the image fills is filled with the image's files\n" +
					"first, owners and modes kept. A bind mount copies nothing: the host directory wins.",
				Requires: []int{1},
				Run:      l.stepCopyUp,
			},
			{
				Title: "tmpfs: --tmpfs /cache:size=8m, in memory, limited, charged to the cgroup",
				Explain: "A tmpfs is a filesystem in memory, with no directory on any disk. Its size is a limit the\n" +
					"kernel enforces, its pages are the container's memory (lesson 02), and it ends with it.",
				Needs:    []kit.Need{needMemoryCgroup},
				Requires: []int{1},
				Run:      l.stepTmpfs,
			},
			{
				Title: "Propagation: a mount the host makes later, seen with rslave only",
				Explain: "A bind mount is a copy of the host's mount at that moment. Whether mounts made under the\n" +
					"source afterwards reach the container is the mount's propagation (mount_namespaces(7)).",
				Requires: []int{1},
				Run:      l.stepPropagation,
			},
			{
				Title: "Why volumes bypass the union",
				Explain: "A write to an image file copies the whole file up into the upper dir first (lesson 04). A\n" +
					"write to a volume goes straight to the host's filesystem: no copy, no upper dir.",
				Requires: []int{1},
				Run:      l.stepBypass,
			},
			{
				Title:    "Clean up",
				Explain:  "Containers removed with their anonymous volumes, host mounts undone, the store removed.",
				Requires: []int{1},
				Run:      l.stepCleanUp,
			},
		},
		Shell:      shell,
		ShellNeeds: needs,
		Exercises:  exercises,
		Catalogs:   map[string]string{"zh": zhPO},
		Outro: "A volume is a mount over the union: a bind of a host directory (a named or anonymous volume is\n" +
			"one of the store's), or a tmpfs. Writes to it go past the upper dir, so no commit carries them,\n" +
			"and they outlive the container. Lesson 06 gives containers a network.",
	}
}
