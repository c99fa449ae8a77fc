//go:build linux

package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/mount"
	"github.com/unboxlab/unbox/internal/procfs"
)

// The kernel is shared. Most of /proc/sys is one setting for the whole
// machine: no namespace covers it (the few that are namespaced, such as
// kernel.hostname or net.*, are marked so in their documentation). A
// container whose /proc/sys is writable changes the host's kernel. That
// is why the OCI runtime spec's readonlyPaths, which runc, crun and Docker
// apply, make /proc/sys read-only (along with /proc/bus, /proc/fs,
// /proc/irq and /proc/sysrq-trigger).

// procSysKey is the setting step 6 writes: how many seconds between
// printk messages the kernel rate-limits (Documentation/admin-guide/sysctl/
// kernel.rst, printk_ratelimit). It is global, harmless to change for a
// moment, and put back straight away, from the host as well if the
// container dies first.
const procSysKey = "/proc/sys/kernel/printk_ratelimit"

// readOnlyProcSys is the runtime's remedy: /proc/sys bound onto itself and
// made read-only (two mount(2) calls; internal/mount makes the second).
var readOnlyProcSys = mount.Mount{Source: "/proc/sys", Target: "/proc/sys", Flags: unix.MS_BIND | unix.MS_RDONLY}

// procSysWrite is what the container saw when it wrote the setting.
type procSysWrite struct {
	Before, Wrote string
}

// procSysProtect is what it saw after putting the value back and making
// /proc/sys read-only.
type procSysProtect struct {
	Restored string
	Trace    []mount.Step
	Mount    string // the /proc/sys line of its mount table
	WriteErr string // writing the setting again
}

// procSysWriteInside is step 6's first half, in the container: read the
// setting and write another value.
func procSysWriteInside() (procSysWrite, error) {
	var r procSysWrite
	v, err := readSetting()
	if err != nil {
		return r, err
	}
	r.Before = v
	n, err := strconv.Atoi(v)
	if err != nil {
		return r, fmt.Errorf("%s: %q is not a number", procSysKey, v)
	}
	r.Wrote = strconv.Itoa(n + 1)
	if err := os.WriteFile(procSysKey, []byte(r.Wrote), 0); err != nil {
		return r, fmt.Errorf("echo %s > %s: %w", r.Wrote, procSysKey, err)
	}
	return r, nil
}

// procSysProtectInside is the second half: put the value back, make
// /proc/sys read-only, and try again.
func procSysProtectInside(old string) (procSysProtect, error) {
	var r procSysProtect
	if err := os.WriteFile(procSysKey, []byte(old), 0); err != nil {
		return r, fmt.Errorf("echo %s > %s: %w", old, procSysKey, err)
	}
	var err error
	if r.Restored, err = readSetting(); err != nil {
		return r, err
	}
	trace := func(st mount.Step) { r.Trace = append(r.Trace, st) }
	if _, err := mount.MountAll("/", []mount.Mount{readOnlyProcSys}, trace); err != nil {
		return r, err
	}
	ms, err := procfs.ReadMountinfo("self")
	if err != nil {
		return r, err
	}
	if m, ok := procfs.Mounts(ms).At("/proc/sys"); ok {
		r.Mount = m.Line()
	}
	if err := os.WriteFile(procSysKey, []byte(old), 0); err != nil {
		r.WriteErr = errText(err)
	} else {
		r.WriteErr = "written: /proc/sys is writable"
	}
	return r, nil
}

func readSetting() (string, error) {
	b, err := os.ReadFile(procSysKey)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

func (st *state) stepProcSys(s *kit.Session) error {
	ctr, err := st.container(s)
	if err != nil {
		return err
	}
	hostBefore, err := readSetting()
	if err != nil {
		return err
	}
	// Whatever happens in the container, the host gets its value back.
	s.Cleanup(func() error {
		if now, err := readSetting(); err == nil && now != hostBefore {
			return os.WriteFile(procSysKey, []byte(hostBefore), 0)
		}
		return nil
	})
	var w procSysWrite
	if err := ctr.ask(reqProcSysWrite, &w); err != nil {
		return err
	}
	hostAfter, err := readSetting()
	if err != nil {
		return err
	}
	s.Cmd("cat %s    # inside the container\necho %s > %s", procSysKey, w.Wrote, procSysKey)
	s.Inside("%s, then %s", w.Before, w.Wrote)
	s.Cmd("cat %s    # on the host", procSysKey)
	s.Host("%s: the container changed the host's kernel", hostAfter)
	if hostAfter != w.Wrote {
		return fmt.Errorf("the container wrote %s to %s and the host reads %s: not one kernel?", w.Wrote, procSysKey, hostAfter)
	}

	var p procSysProtect
	if err := ctr.child.Send(reqProcSysProtect); err != nil {
		return err
	}
	if err := ctr.child.Send(w.Before); err != nil {
		return err
	}
	if err := ctr.child.Recv(&p); err != nil {
		return err
	}
	hostRestored, err := readSetting()
	if err != nil {
		return err
	}
	s.Cmd("echo %s > %s    # put it back", w.Before, procSysKey)
	s.Host("%s, as it was", hostRestored)
	narrateTrace(s, p.Trace, func(mount.Step) func() { return nil })
	s.Inside("%s", p.Mount)
	s.Cmd("echo %s > %s", w.Before, procSysKey)
	s.Inside("%s", p.WriteErr)
	if !strings.Contains(p.WriteErr, "read-only") {
		return errors.New("/proc/sys is still writable after the read-only bind mount")
	}
	s.Note("One kernel: no namespace covers kernel.printk_ratelimit, nor most of /proc/sys, so a write\n" +
		"from any container is a write to the host's kernel. Runtimes make /proc/sys read-only (the\n" +
		"OCI spec's readonlyPaths, with /proc/bus, /proc/fs, /proc/irq, /proc/sysrq-trigger), and mask\n" +
		"files such as /proc/kcore with /dev/null (maskedPaths: exercise 2). The few namespaced\n" +
		"settings a container may change, net.* in its network namespace, docker run --sysctl writes\n" +
		"before /proc/sys is made read-only.")
	return nil
}
