//go:build linux

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/kit"
)

// The container of steps 4 to 7 is one child in new mount and PID
// namespaces. It does what the parent asks, one step's work at a time,
// reports what it saw, and waits while the parent narrates and looks from
// the host. Steps can be skipped (--only 7 runs 1, 4, 5 and 7), so the
// parent names each request:
//
//	parent                          child (the container's PID 1)
//	config                 ──▶      step 4: private, bind, pivot_root, drop old root
//	                       ◀──      pivotReport
//	"populate"             ──▶      step 5: /proc, /sys, /dev, devices
//	                       ◀──      populateReport
//	"escape"               ──▶      step 6: start the escaping process, inside
//	                       ◀──      escapeReport
//	(step 7: read /proc/<child>/mountinfo from the host)
//	"exit"                 ──▶      exit: the namespaces, and every mount in them, go

func init() { kit.RegisterInit("container", containerChild) }

type containerConfig struct {
	Rootfs, Marker string
}

// pivotReport is what the child saw during step 4.
type pivotReport struct {
	NS          string // its mount namespace
	Mounts      int    // mounts in its copy of the host's table
	Propagation string // of /, as copied from the host
	// After mount --make-rprivate /.
	PropagationAfter string
	SharedAfter      int
	// After the bind mount.
	MountPoint bool
	// Lifted says the root had to be lifted first (an initial-ramfs host).
	Lifted bool
	// After pivot_root, before the old root is unmounted.
	Pivoted struct {
		Root    []string // ls -A /
		Marker  string   // cat /.oldroot/<marker>
		OldRoot int      // mounts at and under /.oldroot
	}
	// After umount -l /.oldroot and rmdir /.oldroot.
	Dropped struct {
		Root   []string
		Marker string
	}
}

func containerChild(c *kit.Conn) error {
	var cfg containerConfig
	if err := c.Recv(&cfg); err != nil {
		return err
	}
	r, err := pivotSteps(cfg)
	if err != nil {
		return err
	}
	if err := c.Send(r); err != nil {
		return err
	}
	for {
		var req string
		if err := c.Recv(&req); err != nil {
			return err
		}
		var report any
		switch req {
		case reqPopulate:
			report, err = populate()
		case reqEscape:
			// A process started from inside: it execs /proc/self/exe,
			// which the container's own /proc (step 5) still resolves to
			// this program's file, although no path inside leads to it.
			report, err = runEscape(context.Background(), escapeConfig{Marker: cfg.Marker, Find: true})
		case reqExit:
			// Returning ends PID 1, and with it both namespaces and every
			// mount in them.
			return nil
		default:
			err = fmt.Errorf("unknown request %q", req)
		}
		if err != nil {
			return err
		}
		if err := c.Send(report); err != nil {
			return err
		}
	}
}

// The parent's requests to the container child.
const (
	reqPopulate = "populate"
	reqEscape   = "escape"
	reqExit     = "exit"
)

// pivotSteps is step 4, in the child: each piece, and what it changed.
func pivotSteps(cfg containerConfig) (pivotReport, error) {
	var r pivotReport
	var err error
	if r.NS, err = os.Readlink("/proc/self/ns/mnt"); err != nil {
		return r, err
	}
	ms, err := readMountinfo("self")
	if err != nil {
		return r, err
	}
	r.Mounts = len(ms)
	root, _ := rootMount(ms)
	r.Propagation = root.propagation()

	plan := rootMounts(cfg.Rootfs)
	if err := plan[0].Apply(""); err != nil { // mount --make-rprivate /
		return r, err
	}
	if ms, err = readMountinfo("self"); err != nil {
		return r, err
	}
	root, _ = rootMount(ms)
	r.PropagationAfter = root.propagation()
	for _, m := range ms {
		if m.shared() {
			r.SharedAfter++
		}
	}

	if err := plan[1].Apply(""); err != nil { // mount --rbind rootfs rootfs
		return r, err
	}
	if ms, err = readMountinfo("self"); err != nil {
		return r, err
	}
	r.MountPoint = isMountPoint(ms, cfg.Rootfs)

	if r.Lifted, err = kit.LiftIfInitramfs(cfg.Rootfs); err != nil {
		return r, err
	}
	if err := kit.PivotRoot(cfg.Rootfs); err != nil {
		return r, err
	}
	if r.Pivoted.Root, err = ls("/"); err != nil {
		return r, err
	}
	r.Pivoted.Marker = cat(filepath.Join(kit.OldRoot, cfg.Marker))
	// The host's /proc is now at /.oldroot/proc; its mountinfo shows our
	// view, in which the host's mounts are under /.oldroot.
	b, err := os.ReadFile(filepath.Join(kit.OldRoot, "proc/self/mountinfo"))
	if err != nil {
		return r, err
	}
	if ms, err = parseMountinfo(string(b)); err != nil {
		return r, err
	}
	r.Pivoted.OldRoot = len(under(ms, kit.OldRoot))

	if err := kit.DropOldRoot(); err != nil {
		return r, err
	}
	if r.Dropped.Root, err = ls("/"); err != nil {
		return r, err
	}
	r.Dropped.Marker = cat(filepath.Join(kit.OldRoot, cfg.Marker))
	return r, nil
}

// container is the parent's handle on the child.
type container struct {
	child *kit.Child
	pivot pivotReport
	// mounts is /proc/<child>/mountinfo read from the host after step 4.
	mounts []mountInfo
}

// startContainer starts the child in new mount and PID namespaces and runs
// step 4 in it. The caller closes it.
func startContainer(ctx context.Context, w *workdir) (*container, error) {
	c, err := kit.NewChild("container")
	if err != nil {
		return nil, err
	}
	c.Cmd.SysProcAttr.Cloneflags = unix.CLONE_NEWNS | unix.CLONE_NEWPID
	if err := c.Start(ctx); err != nil {
		return nil, err
	}
	ctr := &container{child: c}
	if err := c.Send(containerConfig{Rootfs: w.Rootfs, Marker: w.Marker}); err != nil {
		ctr.close()
		return nil, err
	}
	if err := c.Recv(&ctr.pivot); err != nil {
		ctr.close()
		return nil, err
	}
	if ctr.mounts, err = readMountinfo(strconv.Itoa(c.Pid())); err != nil {
		ctr.close()
		return nil, err
	}
	return ctr, nil
}

func (ctr *container) pid() string { return strconv.Itoa(ctr.child.Pid()) }

// ask sends a request to the child and waits for its report.
func (ctr *container) ask(req string, report any) error {
	if err := ctr.child.Send(req); err != nil {
		return err
	}
	return ctr.child.Recv(report)
}

// populate is step 5, in the child.
func (ctr *container) populate() (populateReport, error) {
	var r populateReport
	return r, ctr.ask(reqPopulate, &r)
}

// escape is step 6, in the child.
func (ctr *container) escape() (escapeReport, error) {
	var r escapeReport
	return r, ctr.ask(reqEscape, &r)
}

// finish lets the child exit and waits for it.
func (ctr *container) finish() error {
	if err := ctr.child.Send(reqExit); err != nil {
		return err
	}
	return ctr.child.Wait()
}

// close kills the child if it still runs. Its mounts need no unmounting:
// they exist only in its mount namespace, which goes with it.
func (ctr *container) close() error { return ctr.child.Close() }

// container returns the child started by step 4.
func (st *state) container(s *kit.Session) (*container, error) {
	if st.ctr == nil {
		return nil, fmt.Errorf("no container: step 4 starts it")
	}
	return st.ctr, nil
}

func (st *state) stepPivotRoot(s *kit.Session) error {
	w, err := st.workdir(s)
	if err != nil {
		return err
	}
	ctr, err := startContainer(s.Ctx, w)
	if err != nil {
		return err
	}
	s.Cleanup(ctr.close)
	st.ctr = ctr
	r := ctr.pivot
	hostNS, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		return err
	}
	plan := rootMounts(w.Rootfs)

	s.Cmd("unshare --mount --pid --fork sh    # the container: new mount and PID namespaces")
	s.Inside("%s, a copy of the host's mount table: %d mounts; / is %s, as on the host", r.NS, r.Mounts, r.Propagation)
	s.Host("%s, the host's own", hostNS)

	s.Cmd("%s", plan[0])
	s.Inside("/ is %s; shared mounts left: %d", r.PropagationAfter, r.SharedAfter)

	s.Cmd("%s", plan[1])
	if r.MountPoint {
		s.Inside("%s is a mount point now", w.Rootfs)
	} else {
		s.Inside("%s is still not a mount point", w.Rootfs)
	}

	if r.Lifted {
		narrateLift(s)
	}
	s.Cmd("cd %s && mkdir -p .oldroot && pivot_root . .oldroot && cd /", w.Rootfs)
	s.Inside("ls -A /: %s", listing(r.Pivoted.Root))
	s.Inside("cat /.oldroot%s: %s", w.Marker, r.Pivoted.Marker)
	s.Note("pivot_root(2) swapped the two: the root filesystem is /, and the host's old root is mounted at\n"+
		"/.oldroot, %d mounts in all. Still one path away: it has to go.", r.Pivoted.OldRoot)

	s.Cmd("umount -l /.oldroot && rmdir /.oldroot")
	s.Inside("ls -A /: %s", listing(r.Dropped.Root))
	s.Inside("cat /.oldroot%s: %s", w.Marker, r.Dropped.Marker)
	var points []string
	for _, m := range ctr.mounts {
		points = append(points, m.Point)
	}
	s.Host("cat /proc/<child>/mountinfo: %s: %s", count(len(points), "mount"), listing(points))
	s.Note("The container's mount table now holds one mount, its /. The host's mounts were detached from this\n" +
		"namespace, not hidden: the host still has them all, in its own namespace.")
	return nil
}

func (st *state) stepTwoTables(s *kit.Session) error {
	w, err := st.workdir(s)
	if err != nil {
		return err
	}
	ctr, err := st.container(s)
	if err != nil {
		return err
	}
	inside, err := readMountinfo(ctr.pid())
	if err != nil {
		return err
	}
	host, err := readMountinfo("self")
	if err != nil {
		return err
	}
	s.Cmd("cat /proc/<child>/mountinfo    # from the host: the container's table, paths as it sees them")
	var rows [][]string
	for _, m := range inside {
		what := m.Type
		if m.Point == "/" {
			what = "the rootfs, bound"
		}
		onHost := filepath.Join(w.Rootfs, m.Point)
		status := "not a mount point"
		if isMountPoint(host, onHost) {
			status = "a mount point"
		}
		// Relative to the work directory, so the table's width does not
		// depend on the PID in its name.
		rel, _ := filepath.Rel(w.Base, onHost)
		rows = append(rows, []string{m.Point, what, rel + ": " + status})
	}
	s.Say("The same directories on the host are under %s/:", w.Base)
	s.Table([]string{"in the container", "what", "the same directory on the host"}, rows)
	s.Cmd("grep %s /proc/self/mountinfo    # the host's table", w.Base)
	var ours []string
	for _, m := range under(host, w.Base) {
		ours = append(ours, m.mountLine())
	}
	s.Host("%s", nothing(ours))
	if err := ctr.finish(); err != nil {
		return err
	}
	s.Note("The container has %d mounts; the host has none of them. They live in the container's mount\n"+
		"namespace and went away with it when its PID 1 exited just now, with nothing to unmount.", len(inside))
	return nil
}
