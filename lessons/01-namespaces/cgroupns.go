//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/cgroups"
	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/reexec"
)

func init() { reexec.Register("cgroupns", cgroupNSChild) }

// hierarchy is one mounted cgroup hierarchy: where it is, and how its line
// in /proc/<pid>/cgroup starts ("0::" for cgroup v2).
type hierarchy struct {
	Mount  string
	Prefix string
}

// findHierarchy picks the hierarchy to show: the cgroup2 tree when there is
// one (pure v2 hosts, and hybrid ones at /sys/fs/cgroup/unified), else the
// v1 pids hierarchy. internal/cgroups tells the layouts apart (a statfs(2)
// of /sys/fs/cgroup); lesson 02 is all about the difference.
func findHierarchy() (hierarchy, error) {
	h, err := cgroups.OpenHost(cgroups.DefaultRoot)
	if err != nil {
		return hierarchy{}, err
	}
	if dir, ok := h.UnifiedDir(); ok {
		return hierarchy{Mount: dir, Prefix: "0::"}, nil
	}
	dir, err := h.Dir("pids", "/")
	if err != nil {
		return hierarchy{}, err
	}
	// Its line in /proc/<pid>/cgroup names the hierarchy's controllers, as
	// its directory does ("pids"; "cpu,cpuacct" when mounted together).
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return hierarchy{}, err
	}
	return hierarchy{Mount: dir, Prefix: ":" + filepath.Base(real) + ":"}, nil
}

// cgroupLine returns the line of /proc/<pid>/cgroup for h.
func cgroupLine(pid string, h hierarchy) (string, error) {
	b, err := os.ReadFile("/proc/" + pid + "/cgroup")
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, h.Prefix) || (h.Prefix != "0::" && strings.Contains(line, h.Prefix)) {
			return line, nil
		}
	}
	return "", fmt.Errorf("no %q line in /proc/%s/cgroup", h.Prefix, pid)
}

type cgroupNSInside struct {
	NS     string
	Before string // the line before unshare(CLONE_NEWCGROUP)
	After  string
}

// cgroupNSChild waits until the parent has moved it into a cgroup, then
// unshares a cgroup namespace: that cgroup becomes its "/".
func cgroupNSChild(c *reexec.Conn) error {
	var h hierarchy
	if err := c.Recv(&h); err != nil {
		return err
	}
	var v cgroupNSInside
	var err error
	if v.Before, err = cgroupLine("thread-self", h); err != nil {
		return err
	}
	// unshare(2) acts on this thread only; kit locked the main goroutine to
	// it, so the lines below are read in the new namespace.
	if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
		return fmt.Errorf("unshare(CLONE_NEWCGROUP): %w", err)
	}
	if v.NS, err = nsLink("thread-self", "cgroup"); err != nil {
		return err
	}
	if v.After, err = cgroupLine("thread-self", h); err != nil {
		return err
	}
	if err := c.Send(v); err != nil {
		return err
	}
	return c.Recv(nil)
}

type cgroupNSHost struct {
	NS        string
	ChildLine string
}

func cgroupNSDemo(ctx context.Context, h hierarchy, cg string) (inside cgroupNSInside, host cgroupNSHost, err error) {
	c, err := start(ctx, "cgroupns", 0)
	if err != nil {
		return inside, host, err
	}
	defer c.Close()
	pid := strconv.Itoa(c.Pid())
	if err := os.WriteFile(filepath.Join(cg, "cgroup.procs"), []byte(pid), 0o644); err != nil {
		return inside, host, fmt.Errorf("move the child into %s: %w", cg, err)
	}
	if err := c.Send(h); err != nil {
		return inside, host, err
	}
	if err := c.Recv(&inside); err != nil {
		return inside, host, err
	}
	if host.NS, err = nsLink("self", "cgroup"); err != nil {
		return inside, host, err
	}
	if host.ChildLine, err = cgroupLine(pid, h); err != nil {
		return inside, host, err
	}
	if err := c.Send(nil); err != nil {
		return inside, host, err
	}
	return inside, host, c.Wait()
}

// makeCgroup creates a cgroup named for us at the top of h and registers its
// removal (rmdir(2): a cgroup is removed once no process is left in it).
func makeCgroup(s *kit.Session, h hierarchy) (string, error) {
	cg := filepath.Join(h.Mount, kit.UniqueName("cgns"))
	if err := os.Mkdir(cg, 0o755); err != nil {
		return "", fmt.Errorf("create cgroup: %w", err)
	}
	s.Cleanup(func() error { return removeCgroup(cg) })
	return cg, nil
}

func removeCgroup(cg string) error {
	if err := unix.Rmdir(cg); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("remove cgroup %s: %w", cg, err)
	}
	return nil
}

func stepCgroupNS(s *kit.Session) error {
	h, err := findHierarchy()
	if err != nil {
		return err
	}
	cg, err := makeCgroup(s, h)
	if err != nil {
		return err
	}
	inside, host, err := cgroupNSDemo(s.Ctx, h, cg)
	if err != nil {
		return err
	}
	if err := removeCgroup(cg); err != nil {
		return err
	}
	s.Cmd("mkdir %s\necho <child> > %s/cgroup.procs", cg, cg)
	s.Inside("cat /proc/self/cgroup: %s", inside.Before)
	s.Cmd("unshare --cgroup cat /proc/self/cgroup")
	s.Inside("%s  %s", inside.NS, inside.After)
	s.Host("%s  cat /proc/<child>/cgroup: %s", host.NS, host.ChildLine)
	s.Cmd("rmdir %s    # once the child has exited", cg)
	s.Note("The child's own cgroup is / in its view. A container sees itself at the root of the\n" +
		"hierarchy, whatever path the host gave it; lesson 02 puts limits on that cgroup.")
	return nil
}
