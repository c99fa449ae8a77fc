//go:build linux

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/mount"
	"github.com/unboxlab/unbox/internal/procfs"
)

// devEntry is one line of ls -l /dev.
type devEntry struct {
	Mode         string
	Major, Minor uint32
	Char         bool
	Name, Target string
}

// populateReport is what the child saw during step 5.
type populateReport struct {
	ProcSelf string   // readlink /proc/self
	Procs    []string // the numbered entries of /proc
	SysWrite string   // mkdir /sys/unbox
	DevEmpty []string // ls -A /dev before any node is made
	Pts      []string // ls -A /dev/pts
	ShmMode  string   // ls -ld /dev/shm
	Dev      []devEntry
	Zero     string // head -c 4 /dev/zero, in hex
	Full     string // echo > /dev/full
	Mounts   []procfs.Mount
	Trace    []mount.Step // what internal/mount did
}

// populate is step 5, in the child, after pivot_root: mount what every
// container gets (mount.ContainerMounts, runc's defaults), make the device
// nodes, then look. The mounts are made under the new / (the root is "/"),
// so the first, /proc, is made before there is any /proc to reach its
// target through: internal/mount then goes through the working directory.
func populate() (populateReport, error) {
	var r populateReport
	var lookErr error
	trace := func(st mount.Step) {
		r.Trace = append(r.Trace, st)
		if st.Op == mount.OpMount && st.Path == "/dev" {
			r.DevEmpty, lookErr = ls("/dev") // before anything is made in it
		}
	}
	// The undo is not needed: these mounts exist only in this mount
	// namespace, and go with it.
	if _, err := mount.MountAll("/", mount.ContainerMounts(), trace); err != nil {
		return r, err
	}
	if err := mount.MakeDevices("/", mount.SafeDevices, trace); err != nil {
		return r, err
	}
	if lookErr != nil {
		return r, lookErr
	}

	var err error
	if r.ProcSelf, err = os.Readlink("/proc/self"); err != nil {
		return r, err
	}
	names, err := ls("/proc")
	if err != nil {
		return r, err
	}
	for _, n := range names {
		if n[0] >= '0' && n[0] <= '9' {
			r.Procs = append(r.Procs, n)
		}
	}
	if err := os.Mkdir("/sys/unbox", 0o755); err != nil {
		r.SysWrite = errText(err)
	} else {
		r.SysWrite = "created: /sys is writable"
		_ = os.Remove("/sys/unbox")
	}
	if r.Pts, err = ls("/dev/pts"); err != nil {
		return r, err
	}
	var st unix.Stat_t
	if err := unix.Stat("/dev/shm", &st); err != nil {
		return r, err
	}
	r.ShmMode = modeString(st.Mode)
	if r.Dev, err = lsDev("/dev"); err != nil {
		return r, err
	}
	r.Zero, r.Full = useDevices()
	r.Mounts, err = procfs.ReadMountinfo("self")
	return r, err
}

// lsDev is ls -l of a /dev: modes, device numbers, link targets.
func lsDev(dir string) ([]devEntry, error) {
	names, err := ls(dir)
	if err != nil {
		return nil, err
	}
	var out []devEntry
	for _, n := range names {
		p := filepath.Join(dir, n)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return nil, fmt.Errorf("stat %s: %w", p, err)
		}
		e := devEntry{Mode: modeString(st.Mode), Name: n}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFCHR:
			e.Char, e.Major, e.Minor = true, unix.Major(st.Rdev), unix.Minor(st.Rdev)
		case unix.S_IFLNK:
			e.Target, _ = os.Readlink(p)
		}
		out = append(out, e)
	}
	return out, nil
}

// modeString is the mode column of ls -l for a stat(2) st_mode.
func modeString(mode uint32) string {
	types := map[uint32]byte{
		unix.S_IFDIR: 'd', unix.S_IFCHR: 'c', unix.S_IFBLK: 'b', unix.S_IFLNK: 'l',
		unix.S_IFIFO: 'p', unix.S_IFSOCK: 's', unix.S_IFREG: '-',
	}
	b := []byte("?rwxrwxrwx")
	if t, ok := types[mode&unix.S_IFMT]; ok {
		b[0] = t
	}
	for i := 0; i < 9; i++ {
		if mode&(1<<(8-i)) == 0 {
			b[i+1] = '-'
		}
	}
	special := []struct {
		bit       uint32
		at        int
		set, only byte // with x, without x
	}{
		{unix.S_ISUID, 3, 's', 'S'}, {unix.S_ISGID, 6, 's', 'S'}, {unix.S_ISVTX, 9, 't', 'T'},
	}
	for _, sp := range special {
		if mode&sp.bit != 0 {
			if b[sp.at] == 'x' {
				b[sp.at] = sp.set
			} else {
				b[sp.at] = sp.only
			}
		}
	}
	return string(b)
}

// useDevices reads /dev/zero and writes /dev/full: the nodes are real
// devices, served by the kernel's memory driver (major 1).
func useDevices() (zero, full string) {
	b := make([]byte, 4)
	if f, err := os.Open("/dev/zero"); err != nil {
		zero = errText(err)
	} else {
		if _, err := f.Read(b); err != nil {
			zero = errText(err)
		} else {
			zero = fmt.Sprintf("% x", b)
		}
		f.Close()
	}
	if f, err := os.OpenFile("/dev/full", os.O_WRONLY, 0); err != nil {
		full = errText(err)
	} else {
		if _, err := f.Write([]byte("\n")); err != nil {
			full = errText(err)
		} else {
			full = "written: /dev/full is not the full device"
		}
		f.Close()
	}
	return zero, full
}

func (st *state) stepPopulate(s *kit.Session) error {
	ctr, err := st.container(s)
	if err != nil {
		return err
	}
	r, err := ctr.populate()
	if err != nil {
		return err
	}
	narrateTrace(s, r.Trace, func(step mount.Step) func() {
		if step.Op != mount.OpMount {
			return nil
		}
		switch step.Path {
		case "/proc":
			return func() { s.Inside("readlink /proc/self: %s; processes in /proc: %s", r.ProcSelf, listing(s, r.Procs)) }
		case "/sys":
			return func() { s.Inside("mkdir /sys/unbox: %s", r.SysWrite) }
		case "/dev":
			return func() { s.Inside("ls -A /dev: %s    (a fresh tmpfs: not one device)", listing(s, r.DevEmpty)) }
		case "/dev/pts":
			return func() {
				s.Inside("ls -A /dev/pts: %s    (a new instance: none of the host's terminals)", listing(s, r.Pts))
			}
		case "/dev/shm":
			return func() { s.Inside("ls -ld /dev/shm: %s", r.ShmMode) }
		}
		return nil
	})
	s.Cmd("ls -l /dev")
	var rows [][]string
	for _, e := range r.Dev {
		dev, name := "", e.Name
		if e.Char {
			dev = fmt.Sprintf("%d, %d", e.Major, e.Minor)
		}
		if e.Target != "" {
			name += " -> " + e.Target
		}
		rows = append(rows, []string{e.Mode, dev, name})
	}
	s.Table([]string{"mode", "device", "name"}, rows)
	s.Cmd("head -c 4 /dev/zero | od -An -tx1; echo > /dev/full")
	s.Inside("%s; %s", r.Zero, r.Full)
	s.Cmd("cat /proc/self/mountinfo    # shown as mount(8) prints it")
	var lines []string
	for _, m := range r.Mounts {
		lines = append(lines, m.Line())
	}
	s.Inside("%s", strings.Join(lines, "\n"))
	s.Note("/proc shows the container's PID namespace (PID 1 is its first process); /sys cannot be written;\n" +
		"/dev has six devices that reach no hardware and no host memory, and the links programs expect:\n" +
		"no disk, no /dev/mem, no /dev/kmsg. Root in here could still mknod(2) a disk's node and open it.\n" +
		"Docker keeps CAP_MKNOD and relies on the device cgroup, which lets a container open only the\n" +
		"devices it allows; Podman drops CAP_MKNOD by default. This lesson does neither (exercise 3).")
	return nil
}
