//go:build linux

package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/unboxlab/unbox/internal/cgroups"
	"github.com/unboxlab/unbox/internal/kit"
)

// The tmpfs of step 6: its size, what the container writes into it, and
// then what it tries to write beyond.
const (
	tmpfsSize  = 8 << 20
	tmpfsFirst = 6 << 20
	tmpfsMore  = 4 << 20
)

// memoryCgroup makes the cgroup <parent>/name with the memory controller,
// under a parent of this run's (as lesson 02 does), and registers its
// removal with the lab.
func (l *lab) memoryCgroup(name string) (cgroups.Manager, error) {
	h, err := cgroups.OpenHost(cgroups.DefaultRoot)
	if err != nil {
		return nil, err
	}
	parent := kit.UniqueName("lesson05")
	if l.cgParent == nil {
		if l.cgParent, err = h.New(cgroups.Config{Parent: "/", Name: parent, Controllers: []string{"memory"}}); err != nil {
			return nil, err
		}
	}
	cg, err := h.New(cgroups.Config{Parent: "/" + parent, Name: name, Controllers: []string{"memory"}})
	if err != nil {
		return nil, err
	}
	return cg, cg.Create()
}

// shmem reads the shmem line of a cgroup's memory.stat: tmpfs and shared
// memory pages charged to it, in bytes (the same name in v1 and v2).
func shmem(cg cgroups.Manager) (uint64, error) {
	f, err := os.Open(cg.File("memory.stat"))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "shmem "); ok {
			return strconv.ParseUint(v, 10, 64)
		}
	}
	return 0, fmt.Errorf("%s has no shmem line", f.Name())
}

// mib spells bytes in MiB, one decimal.
func mib(n uint64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

func (l *lab) stepTmpfs(s *kit.Session) error {
	cg, err := l.memoryCgroup("cache")
	if err != nil {
		return err
	}
	s.Cmd("CG=%s    # its memory cgroup (lesson 02)", cg.Dirs()[0])
	c, err := l.run(s, runOpts{Name: "cache", Tmpfs: []string{fmt.Sprintf("/cache:size=%dm", tmpfsSize>>20)}, Cgroup: cg})
	if err != nil {
		return err
	}
	r, err := l.exec(s, c, "df /cache", request{Op: "df", Path: "/cache"})
	if err != nil {
		return err
	}
	if r.Err != "" {
		return fmt.Errorf("df /cache inside: %s", r.Err)
	}
	s.Inside("/cache: %s, %s used", mib(uint64(r.N)), mib(uint64(r.Used)))
	s.Cmd("grep -c /cache /proc/self/mountinfo; grep -w shmem $CG/memory.stat")
	before, err := shmem(cg)
	if err != nil {
		return err
	}
	s.Host("0: the tmpfs is in the container's mount namespace only; shmem %s", mib(before))

	r, err = l.exec(s, c, fmt.Sprintf("sh -c 'head -c %dM /dev/zero > /cache/blob'", tmpfsFirst>>20),
		request{Op: "fill", Path: "/cache/blob", Size: tmpfsFirst})
	if err != nil {
		return err
	}
	s.Inside("wrote %s: %s", mib(uint64(r.N)), orOK(r.Err))
	after, err := shmem(cg)
	if err != nil {
		return err
	}
	s.Cmd("grep -w shmem $CG/memory.stat")
	s.Host("shmem %s: +%s, charged to the container", mib(after), mib(after-before))

	r, err = l.exec(s, c, fmt.Sprintf("sh -c 'head -c %dM /dev/zero >> /cache/blob'", tmpfsMore>>20),
		request{Op: "fill", Path: "/cache/blob", Size: tmpfsMore})
	if err != nil {
		return err
	}
	s.Inside("wrote %s, then: %s", mib(uint64(r.N)), orOK(r.Err))
	if r.Err == "" {
		return fmt.Errorf("writing past size=%dm did not fail", tmpfsSize>>20)
	}

	if _, err := l.remove(c, false); err != nil {
		return err
	}
	gone, err := shmemFreed(cg)
	if err != nil {
		return err
	}
	s.Cmd("docker rm -f cache\ngrep -w shmem $CG/memory.stat")
	s.Host("shmem %s: the tmpfs went with the container's mount namespace, its pages with it", mib(gone))
	s.Note("size= is a limit the kernel holds the tmpfs to (ENOSPC), not a reservation: the pages exist\n" +
		"only once written, and they are memory, charged to the cgroup of the process that wrote them,\n" +
		"against its memory limit (--memory), as lesson 02's counters count it. Nothing of it touches a\n" +
		"disk, and nothing of it outlives the container: a place for secrets and scratch files.")

	bad := runOpts{Name: "x", Tmpfs: []string{"/cache:size=8q"}}
	return l.refused(s, bad)
}

// shmemFreed waits a moment for a gone tmpfs's pages to be uncharged, and
// returns the cgroup's shmem then.
func shmemFreed(cg cgroups.Manager) (uint64, error) {
	deadline := time.Now().Add(2 * time.Second)
	for {
		n, err := shmem(cg)
		if err != nil || n == 0 || time.Now().After(deadline) {
			return n, err
		}
		time.Sleep(10 * time.Millisecond)
	}
}
