//go:build linux

package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/procfs"
	"github.com/unboxlab/unbox/internal/reexec"
)

// The container of steps 4 to 8 is one child in new mount and PID
// namespaces. It does what the parent asks, one step's work at a time,
// reports what it saw, and waits while the parent narrates and looks from
// the host. Steps can be skipped (--only 8 runs 1, 4, 5 and 8), so the
// parent names each request:
//
//	parent                          child (the container's PID 1)
//	config                 ──▶      step 4: private, bind, pivot_root . ., umount -l .
//	                       ◀──      pivotReport
//	"populate"             ──▶      step 5: /proc, /sys, /dev, devices
//	                       ◀──      populateReport
//	"procsys-write"        ──▶      step 6: write a /proc/sys setting
//	                       ◀──      procSysWrite
//	"procsys-protect", old ──▶      put it back, make /proc/sys read-only
//	                       ◀──      procSysProtect
//	"escape"               ──▶      step 7: start the escaping process, inside
//	                       ◀──      escapeReport
//	(step 8: read /proc/<child>/mountinfo from the host)
//	"exit"                 ──▶      exit: the namespaces, and every mount in them, go

func init() { reexec.Register("container", containerChild) }

type containerConfig struct {
	Rootfs, Marker string
}

func containerChild(c *reexec.Conn) error {
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
		case reqProcSysWrite:
			report, err = procSysWriteInside()
		case reqProcSysProtect:
			var old string
			if err = c.Recv(&old); err == nil {
				report, err = procSysProtectInside(old)
			}
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
	reqPopulate       = "populate"
	reqProcSysWrite   = "procsys-write"
	reqProcSysProtect = "procsys-protect"
	reqEscape         = "escape"
	reqExit           = "exit"
)

// container is the parent's handle on the child.
type container struct {
	child *reexec.Child
	pivot pivotReport
	// mounts is /proc/<child>/mountinfo read from the host after step 4.
	mounts []procfs.Mount
}

// startContainer starts the child in new mount and PID namespaces and runs
// step 4 in it. The caller closes it.
func startContainer(ctx context.Context, w *workdir) (*container, error) {
	c := reexec.NewChild("container")
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
	var err error
	if ctr.mounts, err = procfs.ReadMountinfo(strconv.Itoa(c.Pid())); err != nil {
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

// onHostCell says what a directory of the container's table is on the host.
func onHostCell(s *kit.Session, rel, status string) string {
	if status == "a mount point" {
		return s.T("%s: a mount point", rel)
	}
	return s.T("%s: not a mount point", rel)
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
	inside, err := procfs.ReadMountinfo(ctr.pid())
	if err != nil {
		return err
	}
	host, err := procfs.ReadMountinfo("self")
	if err != nil {
		return err
	}
	s.Cmd("cat /proc/<child>/mountinfo    # from the host: the container's table, paths as it sees them")
	var rows [][]string
	for _, m := range inside {
		what := m.Type
		if m.Point == "/" {
			what = s.T("the rootfs, bound")
		}
		onHost := filepath.Join(w.Rootfs, m.Point)
		status := "not a mount point"
		if _, ok := procfs.Mounts(host).At(onHost); ok {
			status = "a mount point"
		}
		// Relative to the work directory, so the table's width does not
		// depend on the PID in its name.
		rel, _ := filepath.Rel(w.Base, onHost)
		rows = append(rows, []string{m.Point, what, onHostCell(s, rel, status)})
	}
	s.Say("The same directories on the host are under %s/:", w.Base)
	s.Table([]string{"in the container", "what", "the same directory on the host"}, rows)
	s.Cmd("grep %s /proc/self/mountinfo    # the host's table", w.Base)
	var ours []string
	for _, m := range procfs.Mounts(host).Under(w.Base) {
		ours = append(ours, m.Line())
	}
	s.Host("%s", nothing(s, ours))
	if err := ctr.finish(); err != nil {
		return err
	}
	s.Note("The container has %d mounts; the host has none of them. They live in the container's mount\n"+
		"namespace and went away with it when its PID 1 exited just now, with nothing to unmount.", len(inside))
	return nil
}
