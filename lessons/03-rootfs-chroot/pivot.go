//go:build linux

package main

import (
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/mount"
	"github.com/unboxlab/unbox/internal/procfs"
)

// Step 4 is internal/mount's pivot sequence, the one every container start
// runs (mount.EnterRoot), step by step in the container child:
//
//	mount --make-rprivate /         mount.MakePrivate
//	mount --rbind rootfs rootfs     mount.BindSelf
//	cd rootfs                       mount.PivotRoot
//	pivot_root . .
//	umount -l .
//	cd /
//
// The package's trace is what the step prints as commands, so the commands
// cannot drift from the code; the child looks around right after the steps
// that matter, from inside the trace.

// pivotReport is what the child saw during step 4.
type pivotReport struct {
	NS          string // its mount namespace
	Mounts      int    // mounts in its copy of the host's table
	Propagation string // of /, as copied from the host
	Trace       []mount.Step
	// After mount --make-rprivate /.
	PropagationAfter string
	SharedAfter      int
	// After the bind mount.
	MountPoint bool
	// Right after pivot_root . ., before the old root is detached.
	Pivoted struct {
		Root   []string // ls -A /
		Marker string   // cat <marker>, the host path
		AtRoot int      // mounts at /
		OnTop  bool     // the last of them sits on the first: the old root on the new
		Under  int      // mounts under the old root
	}
	// After umount -l . and cd /.
	Dropped struct {
		Root   []string
		Marker string
		Points []string // the mount table's mount points
	}
}

// pivotSteps is step 4, in the child.
func pivotSteps(cfg containerConfig) (pivotReport, error) {
	var r pivotReport
	var err error
	if r.NS, err = os.Readlink("/proc/self/ns/mnt"); err != nil {
		return r, err
	}
	ms, err := procfs.ReadMountinfo("self")
	if err != nil {
		return r, err
	}
	r.Mounts = len(ms)
	root, _ := procfs.Mounts(ms).At("/")
	r.Propagation = root.Propagation()

	// After pivot_root, no path leads to the host's /proc: keep it open,
	// to read this process's mount table through it.
	oldProc, err := os.Open("/proc/self")
	if err != nil {
		return r, err
	}
	defer oldProc.Close()

	var lookErr error
	look := func(st mount.Step) {
		r.Trace = append(r.Trace, st)
		var err error
		switch {
		case st.Op == mount.OpMount && st.Path == "/": // mount --make-rprivate /
			err = r.afterPrivate()
		case st.Op == mount.OpMount: // mount --rbind rootfs rootfs
			ms, err = procfs.ReadMountinfo("self")
			_, r.MountPoint = procfs.Mounts(ms).At(cfg.Rootfs)
		case st.Op == mount.OpPivot:
			err = r.afterPivot(oldProc, cfg.Marker)
		}
		if err != nil && lookErr == nil {
			lookErr = err
		}
	}
	if err := mount.MakePrivate("/", look); err != nil {
		return r, err
	}
	if err := mount.BindSelf(cfg.Rootfs, look); err != nil {
		return r, err
	}
	if err := mount.PivotRoot(cfg.Rootfs, look); err != nil {
		return r, err
	}
	if lookErr != nil {
		return r, lookErr
	}
	if r.Dropped.Root, err = ls("/"); err != nil {
		return r, err
	}
	r.Dropped.Marker = cat(cfg.Marker)
	if ms, err = mountinfoAt(oldProc); err != nil {
		return r, err
	}
	for _, m := range ms {
		r.Dropped.Points = append(r.Dropped.Points, m.Point)
	}
	return r, nil
}

func (r *pivotReport) afterPrivate() error {
	ms, err := procfs.ReadMountinfo("self")
	if err != nil {
		return err
	}
	root, _ := procfs.Mounts(ms).At("/")
	r.PropagationAfter = root.Propagation()
	for _, m := range ms {
		if m.Shared() {
			r.SharedAfter++
		}
	}
	return nil
}

// afterPivot looks at / and at the mount table between pivot_root . . and
// the detach of the old root.
func (r *pivotReport) afterPivot(oldProc *os.File, marker string) error {
	var err error
	if r.Pivoted.Root, err = ls("/"); err != nil {
		return err
	}
	r.Pivoted.Marker = cat(marker)
	ms, err := mountinfoAt(oldProc)
	if err != nil {
		return err
	}
	var atRoot []procfs.Mount
	for _, m := range ms {
		if m.Point == "/" {
			atRoot = append(atRoot, m)
		}
	}
	r.Pivoted.AtRoot = len(atRoot)
	if len(atRoot) == 2 {
		bottom, top := atRoot[0], atRoot[1]
		if top.Parent != bottom.ID {
			bottom, top = top, bottom
		}
		r.Pivoted.OnTop = top.Parent == bottom.ID
		r.Pivoted.Under = len(ms) - 2
	}
	return nil
}

// mountinfoAt reads the mount table through an open /proc/<pid> directory.
func mountinfoAt(procDir *os.File) ([]procfs.Mount, error) {
	fd, err := unix.Openat(int(procDir.Fd()), "mountinfo", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("read mount table: %w", err)
	}
	f := os.NewFile(uintptr(fd), "mountinfo")
	defer f.Close()
	return procfs.ParseMountinfo(f)
}

// narrateTrace prints what internal/mount did as the commands a person
// would type, and after each step for which evidence returns a function,
// calls it to print what that step changed.
func narrateTrace(s *kit.Session, trace []mount.Step, evidence func(mount.Step) func()) {
	var cmds []string
	for _, st := range trace {
		cmds = append(cmds, st.Command)
		if show := evidence(st); show != nil {
			s.Cmd("%s", strings.Join(cmds, "\n"))
			cmds = nil
			show()
		}
	}
	if len(cmds) > 0 {
		s.Cmd("%s", strings.Join(cmds, "\n"))
	}
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

	s.Cmd("unshare --mount --pid --fork sh    # the container: new mount and PID namespaces")
	s.Inside("%s, a copy of the host's mount table: %d mounts", r.NS, r.Mounts)
	s.Inside("/ is %s, as on the host", r.Propagation)
	s.Host("%s, the host's own", hostNS)

	narrateTrace(s, r.Trace, func(step mount.Step) func() {
		switch {
		case step.Op == mount.OpMount && step.Path == "/":
			return func() { s.Inside("/ is %s; shared mounts left: %d", r.PropagationAfter, r.SharedAfter) }
		case step.Op == mount.OpMount:
			return func() {
				if r.MountPoint {
					s.Inside("%s is a mount point now", w.Rootfs)
				} else {
					s.Inside("%s is still not a mount point", w.Rootfs)
				}
			}
		case step.Op == mount.OpPivot:
			return func() {
				p := r.Pivoted
				s.Inside("ls -A /: %s", listing(s, p.Root))
				s.Inside("cat %s: %s", w.Marker, p.Marker)
				stacked := s.T("the old root on top of the new one")
				if !p.OnTop {
					stacked = s.T("not stacked as pivot_root(2) says")
				}
				s.Inside("cat /proc/self/mountinfo: %s at /, %s,", mountCount(s, p.AtRoot), stacked)
				s.Inside("and %d more under the old root", p.Under)
				s.Note("pivot_root(2), given the same directory twice, made the root filesystem the root and mounted\n" +
					"the old root on top of it, at the same place. A path starts at the root, underneath, so none\n" +
					"leads to the host's files any more; but the old root is still mounted here, with all the\n" +
					"host's mounts.")
			}
		case step.Op == mount.OpChdir && step.Path == "/":
			return func() {
				s.Inside("ls -A /: %s", listing(s, r.Dropped.Root))
				s.Inside("cat /proc/self/mountinfo: %s: %s", mountCount(s, len(r.Dropped.Points)), listing(s, r.Dropped.Points))
				var points []string
				for _, m := range ctr.mounts {
					points = append(points, m.Point)
				}
				s.Host("cat /proc/<child>/mountinfo: %s: %s", mountCount(s, len(points)), listing(s, points))
			}
		}
		return nil
	})
	s.Note("umount2(\".\", MNT_DETACH) found the old root on top of the stack at . and detached it, with every\n" +
		"mount under it. The container's mount table now holds one mount, its /. The host's mounts were\n" +
		"detached from this namespace, not hidden: the host still has them all, in its own namespace.")
	return nil
}
