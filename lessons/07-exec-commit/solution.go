//go:build linux && solution

package main

// The reference solutions of the README's exercises, built only with
// `-tags solution`: `go run -tags solution -exec sudo
// ./lessons/07-exec-commit check N` passes for every N, which CI proves
// (kittest.CheckExercises). Try yours first: exercises.go.

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/nsenter"
	"github.com/unboxlab/unbox/internal/overlay"
)

// execProcess is exercise 1.
func execProcess(image ocispec.ImageConfig, flags execFlags, args []string) (nsenter.Process, error) {
	p := nsenter.Process{
		Args: args,
		Env:  append(slices.Clone(image.Env), flags.Env...),
		Cwd:  flags.Workdir,
		UID:  flags.UID,
		GID:  flags.GID,
	}
	if p.Cwd == "" {
		p.Cwd = image.WorkingDir
	}
	return p, nil
}

// containerPIDs is exercise 2.
func containerPIDs(pid1 int) ([]int, error) {
	var ns unix.Stat_t
	if err := unix.Stat("/proc/"+strconv.Itoa(pid1)+"/ns/pid", &ns); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		var st unix.Stat_t
		if err := unix.Stat("/proc/"+e.Name()+"/ns/pid", &st); err != nil {
			// Gone since ReadDir, or not ours to look at (another
			// user namespace's, under ptrace access rules): not ours.
			if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ESRCH) || errors.Is(err, unix.EACCES) {
				continue
			}
			return nil, err
		}
		if st.Dev == ns.Dev && st.Ino == ns.Ino {
			pids = append(pids, pid)
		}
	}
	slices.Sort(pids)
	return pids, nil
}

// diffUpper is exercise 3.
func diffUpper(upper string, lower []string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(upper, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == upper {
			return err
		}
		rel, _ := filepath.Rel(upper, p)
		m, err := overlay.ReadMarker(p)
		if err != nil {
			return err
		}
		kind := "A"
		if m == overlay.Whiteout {
			kind = "D"
		} else {
			for _, dir := range lower {
				if _, err := os.Lstat(filepath.Join(dir, rel)); err == nil {
					kind = "C"
					break
				}
			}
		}
		out = append(out, kind+" /"+filepath.ToSlash(rel))
		return nil
	})
	return out, err
}
