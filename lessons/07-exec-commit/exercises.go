//go:build linux && !solution

package main

// The exercises of the README, to fill in. Check one with
// `go run -exec sudo ./lessons/07-exec-commit check N`: it runs your code
// on a container or a union of its own and asks the kernel what came of it.
// (A TODO(exercise N) marks where you write, not unfinished work: the
// lesson runs without them.)

import (
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/nsenter"
)

// execProcess is the process that `docker exec -u UID:GID -w DIR -e
// KEY=value <container> args...` runs in a container of image: what
// nsenter.Start takes as Config.Process.
//
// TODO(exercise 1): an nsenter.Process with Args args; Env the image's
// (image.Env) followed by flags.Env, which wins (the last of a name is
// the one a program sees); Cwd flags.Workdir, or the image's WorkingDir
// when it is ""; UID and GID from flags.
func execProcess(image ocispec.ImageConfig, flags execFlags, args []string) (nsenter.Process, error) {
	return nsenter.Process{}, kit.TODO(1)
}

// containerPIDs is `docker top`: the host PIDs of every process in the
// container whose PID 1 is host pid pid1, PID 1 and what was exec'd into
// it alike, in increasing order.
//
// TODO(exercise 2): a process is in the container when it is in PID 1's
// PID namespace. Stat /proc/<pid1>/ns/pid (unix.Stat; namespaces(7)), then
// every /proc/<number>/ns/pid: the same inode is the same namespace. Skip
// a process that exits while you look (os.IsNotExist), or that the kernel
// does not let you look at (os.IsPermission: ptrace's access rules, for
// another user namespace's processes); yours are neither.
func containerPIDs(pid1 int) ([]int, error) {
	return nil, kit.TODO(2)
}

// diffUpper is `docker diff`: what a container changed, from its upper dir
// and the lower layers under it (top first), one line per entry of upper,
// in the order of their paths: "A /path" added, "C /path" changed, "D
// /path" deleted.
//
// TODO(exercise 3): walk upper (filepath.WalkDir; skip upper itself). An
// entry that overlay.ReadMarker says is an overlay.Whiteout is "D"; any
// other is "C" if some lower layer has that path (os.Lstat), else "A" (an
// opaque directory counts as the directory it replaces: "C").
func diffUpper(upper string, lower []string) ([]string, error) {
	return nil, kit.TODO(3)
}
