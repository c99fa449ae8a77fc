//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/rootfs"
)

// workdir is the lesson's directory on the host:
//
//	/tmp/unbox-rootfs-<pid>/
//	├── rootfs/      the root filesystem: bin dev etc proc sys tmp usr ...
//	└── host-only    a file outside it, that the steps try to reach from inside
type workdir struct {
	Base, Rootfs, Marker string
	Info                 *rootfs.Info
}

const (
	markerName = "host-only"
	markerText = "a file on the host, outside the root filesystem"
)

// newWorkdir makes base (which must not exist), a root filesystem in it
// from source (see rootfs.Build) and the marker beside it. The caller removes
// base.
func newWorkdir(ctx context.Context, base string, source rootfs.Source) (*workdir, error) {
	if err := os.Mkdir(base, 0o755); err != nil {
		return nil, err
	}
	// Mkdir's mode passes through the umask; the root filesystem's parent
	// must be searchable by whoever the container runs as.
	if err := os.Chmod(base, 0o755); err != nil {
		return nil, err
	}
	w := &workdir{Base: base, Rootfs: filepath.Join(base, "rootfs"), Marker: filepath.Join(base, markerName)}
	info, err := rootfs.Build(ctx, w.Rootfs, rootfs.Options{Source: source})
	if err != nil {
		return nil, err
	}
	w.Info = info
	if err := os.WriteFile(w.Marker, []byte(markerText+"\n"), 0o644); err != nil {
		return nil, err
	}
	return w, nil
}

// workParent is where the lesson's directory goes: the temp directory,
// unless it is mounted noexec (a hardened /tmp), where no program of the
// root filesystem could run; then /var/lib/unbox.
func workParent() (string, error) {
	tmp := os.TempDir()
	var fs unix.Statfs_t
	if err := unix.Statfs(tmp, &fs); err == nil && fs.Flags&unix.ST_NOEXEC == 0 {
		return tmp, nil
	}
	const state = "/var/lib/unbox"
	if err := os.MkdirAll(state, 0o755); err != nil {
		return "", fmt.Errorf("%s is mounted noexec, and %w", tmp, err)
	}
	return state, nil
}

// workdir returns the lesson's directory, making it on first use and
// removing it when the lesson ends.
func (st *state) workdir(s *kit.Session) (*workdir, error) {
	if st.work != nil {
		return st.work, nil
	}
	parent, err := workParent()
	if err != nil {
		return nil, err
	}
	base := filepath.Join(parent, kit.UniqueName("rootfs"))
	s.Cleanup(func() error { return os.RemoveAll(base) })
	w, err := newWorkdir(s.Ctx, base, rootfs.Source(s.Flags.String("rootfs")))
	if err != nil {
		return nil, fmt.Errorf("prepare %s: %w", base, err)
	}
	st.work = w
	return w, nil
}

func (st *state) stepRootfs(s *kit.Session) error {
	w, err := st.workdir(s)
	if err != nil {
		return err
	}
	s.Cmd("mkdir -p %s\n"+
		"# fill it with a shell and tools, as this would:\n"+
		"# docker export $(docker create busybox) | tar -x -C rootfs", w.Rootfs)
	top, err := ls(w.Rootfs)
	if err != nil {
		return err
	}
	empty := func(dir string) string {
		names, err := ls(filepath.Join(w.Rootfs, dir))
		if err != nil {
			return errText(err)
		}
		return listing(s, names)
	}
	s.Cmd("ls %s", w.Rootfs)
	s.Host("%s", listing(s, visible(top)))
	s.Cmd("ls %s/bin | wc -l; cat %s/etc/passwd", w.Rootfs, w.Rootfs)
	s.Host("%d programs in /bin, /bin/sh among them", len(w.Info.Programs))
	s.Host("%s", cat(filepath.Join(w.Rootfs, "etc/passwd")))
	s.Cmd("ls %s/{proc,sys,dev}", w.Rootfs)
	s.Host("/proc: %s  /sys: %s  /dev: %s", empty("proc"), empty("sys"), empty("dev"))
	s.Cmd("echo '%s' > %s", markerText, w.Marker)
	s.Note("That is all an image is, unpacked: files. /proc, /sys and /dev are empty directories, mount\n" +
		"points that the runtime fills when a container starts (step 5). The file host-only is outside\n" +
		"rootfs/: a process whose / is rootfs/ should never be able to read it.")
	return nil
}

// chrootView is what a shell run in the chroot printed.
type chrootView struct {
	Root, Users, Proc []string
	Hostname          string
	PID               int // $$, as the shell saw it
	HostPID           int // the shell's PID, as the host saw it
}

// chrootScript asks the chroot's own shell and tools what they see, one
// labelled line each.
const chrootScript = `echo "ls /:" $(ls /)
echo "users:" $(cut -d: -f1 /etc/passwd)
echo "ls /proc:" $(ls /proc)
echo "uname -n:" $(uname -n)
echo "pid:" $$`

// chrootShell runs the root filesystem's /bin/sh with its root changed to
// rootfs: exec.Cmd's SysProcAttr.Chroot makes the child call chroot(2) and
// chdir("/") between fork and exec, as chroot(8) does.
func chrootShell(ctx context.Context, rootfs string) (chrootView, error) {
	var v chrootView
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", chrootScript)
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: rootfs}
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"}
	var out, errs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errs
	if err := cmd.Run(); err != nil {
		return v, fmt.Errorf("chroot %s /bin/sh: %w: %s", rootfs, err, strings.TrimSpace(errs.String()))
	}
	v.HostPID = cmd.Process.Pid
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		key, val, _ := strings.Cut(line, ":")
		f := strings.Fields(val)
		switch key {
		case "ls /":
			v.Root = f
		case "users":
			v.Users = f
		case "ls /proc":
			v.Proc = f
		case "uname -n":
			v.Hostname = strings.TrimSpace(val)
		case "pid":
			v.PID, _ = strconv.Atoi(strings.TrimSpace(val))
		}
	}
	return v, nil
}

func (st *state) stepChroot(s *kit.Session) error {
	w, err := st.workdir(s)
	if err != nil {
		return err
	}
	v, err := chrootShell(s.Ctx, w.Rootfs)
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	s.Cmd("chroot %s /bin/sh -c \\\n    'ls /; cut -d: -f1 /etc/passwd; ls /proc; uname -n; echo $$'", w.Rootfs)
	s.Inside("ls /: %s", listing(s, v.Root))
	s.Inside("users: %s", listing(s, v.Users))
	s.Inside("ls /proc: %s", listing(s, v.Proc))
	s.Inside("uname -n: %s; echo $$: host pid %d", v.Hostname, v.PID)
	same := s.T("the PID it saw itself")
	if v.PID != v.HostPID {
		same = s.T("not the PID it saw")
	}
	s.Host("uname -n: %s; the shell was host pid %d, %s", host, v.HostPID, same)
	s.Note("Inside, / is the root filesystem: other files, other users, an empty /proc. It looks like\n" +
		"another machine, but only path lookup changed: same hostname, same PIDs, same everything else.\n" +
		"chroot(2) makes no namespace; lesson 01's namespaces do the rest.")
	return nil
}
