//go:build linux

package main

// A container of this lesson is lesson 04's: a union of the image's layers
// and an upper dir, mounted on the host, entered by a re-exec'd copy of the
// lesson (lesson 01's pattern) in new mount, PID and UTS namespaces with
// lesson 03's sequence (mount.EnterRoot), which also applies its volumes.
// Then it serves: the lesson asks it to write, list, read and look at its
// mount table over the inherited socket, so every step shows a volume from
// inside and, on the host, from outside.

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/mount"
	"github.com/unboxlab/unbox/internal/procfs"
	"github.com/unboxlab/unbox/internal/reexec"
)

func init() { reexec.Register("volumes-ctr", containerInit) }

// ctrConfig is what the lesson sends a new container.
type ctrConfig struct {
	Name string
	Root mount.RootConfig
	// Shell makes the container exec the image's shell (--shell) instead
	// of serving requests.
	Shell bool
}

// request is one thing the lesson asks a running container to do.
type request struct {
	Op   string // write, fill, ls, cat, mounts, df, rewrite, exit
	Path string
	Data string
	Size int64
}

// reply is the container's answer. Err is the kernel's, as strerror(3)
// reads: "read-only file system".
type reply struct {
	Text  string
	Lines []string
	N     int64 // bytes written (fill), a filesystem's size (df)
	Used  int64 // df: bytes in use
	Dur   time.Duration
	Err   string
}

func containerInit(c *reexec.Conn) error {
	var cfg ctrConfig
	if err := c.Recv(&cfg); err != nil {
		return err
	}
	var trace []mount.Step
	if err := mount.EnterRoot(cfg.Root, func(s mount.Step) { trace = append(trace, s) }); err != nil {
		return err
	}
	if err := unix.Sethostname([]byte(cfg.Name)); err != nil {
		return fmt.Errorf("sethostname: %w", err)
	}
	if cfg.Shell {
		env := []string{"PATH=/bin:/usr/bin:/sbin:/usr/sbin", "HOME=/root", "PS1=" + cfg.Name + "# "}
		if term, ok := os.LookupEnv("TERM"); ok {
			env = append(env, "TERM="+term)
		}
		return c.Exec([]string{"/bin/sh"}, env)
	}
	if err := c.Send(trace); err != nil {
		return err
	}
	for {
		var req request
		if err := c.Recv(&req); err != nil || req.Op == "exit" {
			return nil // asked to stop, or the lesson has gone: so do we
		}
		if err := c.Send(handle(req)); err != nil {
			return err
		}
	}
}

func handle(req request) reply {
	var r reply
	var err error
	switch req.Op {
	case "write":
		err = os.WriteFile(req.Path, []byte(req.Data), 0o644)
	case "fill":
		r.N, err = fill(req.Path, req.Size)
	case "ls":
		r.Lines, err = lsLines(req.Path)
	case "cat":
		var b []byte
		b, err = os.ReadFile(req.Path)
		r.Text = strings.TrimRight(string(b), "\n")
	case "mounts":
		r.Lines, err = mountLines(req.Path)
	case "df":
		var st unix.Statfs_t
		if err = unix.Statfs(req.Path, &st); err == nil {
			r.N = int64(st.Blocks) * st.Bsize
			r.Used = int64(st.Blocks-st.Bfree) * st.Bsize
		}
	case "rewrite":
		r.Dur, err = rewrite(req.Path)
	default:
		err = fmt.Errorf("unknown request %q", req.Op)
	}
	if err != nil {
		r.Err = errText(err)
	}
	return r
}

// errText is the kernel's word for err where there is one.
func errText(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	return err.Error()
}

// fill appends to path in 1 MiB writes until size bytes are written or a
// write fails, and returns how much was written.
func fill(path string, size int64) (int64, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	chunk := make([]byte, 1<<20)
	var n int64
	for n < size {
		w, err := f.Write(chunk[:min(int64(len(chunk)), size-n)])
		n += int64(w)
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// rewrite changes the first 4 KiB of an existing file, as a database
// rewrites a page, and returns how long the open and the write took.
func rewrite(path string) (time.Duration, error) {
	start := time.Now()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return 0, err
	}
	if _, err := f.WriteAt(make([]byte, 4096), 0); err != nil {
		f.Close()
		return 0, err
	}
	if err := f.Close(); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// mountLines are the mounts at path or below it, as
// `findmnt -R -o TARGET,FSTYPE,OPTIONS,PROPAGATION path` would show them:
// "<point> <type> <ro|rw> <propagation>".
func mountLines(path string) ([]string, error) {
	ms, err := procfs.ReadMountinfo("self")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range procfs.Mounts(ms).Under(path) {
		access := "rw"
		if m.ReadOnly() {
			access = "ro"
		}
		out = append(out, fmt.Sprintf("%s %s %s %s", m.Point, m.Type, access, m.Propagation()))
	}
	return out, nil
}

// lsLines is `ls -ln dir` without the link count, size or time: mode,
// owner and group by number, name, and where a symlink points. A path
// that is not a directory is listed alone.
func lsLines(dir string) ([]string, error) {
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return nil, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return []string{lsLine(dir, "", &st)}, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if err := unix.Lstat(dir+"/"+e.Name(), &st); err != nil {
			return nil, err
		}
		out = append(out, lsLine(dir+"/"+e.Name(), e.Name(), &st))
	}
	return out, nil
}

func lsLine(path, name string, st *unix.Stat_t) string {
	if name == "" {
		name = path
	}
	line := fmt.Sprintf("%s %4d %4d %s", modeString(st.Mode), st.Uid, st.Gid, name)
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		target, _ := os.Readlink(path)
		line += " -> " + target
	}
	return line
}

// modeString spells a mode as ls(1) does: "drwxr-x---", "-rwsr-xr-x".
func modeString(mode uint32) string {
	types := map[uint32]byte{unix.S_IFDIR: 'd', unix.S_IFLNK: 'l', unix.S_IFCHR: 'c', unix.S_IFBLK: 'b',
		unix.S_IFIFO: 'p', unix.S_IFSOCK: 's'}
	b := []byte("-rwxrwxrwx")
	if t, ok := types[mode&unix.S_IFMT]; ok {
		b[0] = t
	}
	for i := range 9 {
		if mode&(1<<(8-i)) == 0 {
			b[i+1] = '-'
		}
	}
	for _, s := range []struct {
		bit  uint32
		at   int
		x, n byte
	}{{unix.S_ISUID, 3, 's', 'S'}, {unix.S_ISGID, 6, 's', 'S'}, {unix.S_ISVTX, 9, 't', 'T'}} {
		if mode&s.bit != 0 {
			if b[s.at] == 'x' {
				b[s.at] = s.x
			} else {
				b[s.at] = s.n
			}
		}
	}
	return string(b)
}
