//go:build linux

package main

// The checks of the exercises (exercises.go): each starts a container on
// the lesson's root filesystem, runs the learner's function there, and
// reads back what the kernel did.

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/mount"
	"github.com/unboxlab/unbox/internal/procfs"
	"github.com/unboxlab/unbox/internal/reexec"
)

func init() { reexec.Register("ex-container", exContainer) }

var exercises = []kit.Exercise{
	{
		Title: "/etc/hostname and /etc/hosts, as Docker gives them",
		Stub:  "exercises.go:etcMounts",
		Check: func(s *kit.Session) error { return checkContainer(s, 1) },
		Hint: "a file can be bind-mounted onto a file: Source is the host file, Target the path\n" +
			"inside the root, Flags unix.MS_BIND.",
	},
	{
		Title: "Mask what a container must not read: maskedPaths",
		Stub:  "exercises.go:maskPaths",
		Check: func(s *kit.Session) error { return checkContainer(s, 2) },
		Hint: "/dev/null bound over a file reads as empty; an empty read-only tmpfs over a directory\n" +
			"hides what is in it. os.Stat tells the two apart.",
	},
	{
		Title: "No more device nodes: drop CAP_MKNOD",
		Stub:  "exercises.go:dropMknod",
		Check: func(s *kit.Session) error { return checkContainer(s, 3) },
		Hint: "the bounding set alone does not take a capability the thread already has: clear\n" +
			"the bit in the effective and permitted sets too (capget, then capset).",
	},
}

// maskCandidates are the OCI spec's default maskedPaths (runc's, Docker's,
// Podman's); each check masks the ones this kernel has.
var maskCandidates = []string{
	"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
	"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
	"/sys/firmware", "/sys/devices/virtual/powercap",
}

// exConfig says which exercise the container runs, and with what.
type exConfig struct {
	N       int
	Rootfs  string
	HostDir string
}

// maskedView is one masked path, read from inside.
type maskedView struct {
	Path    string
	Dir     bool
	Bytes   int // what a read returns (a file)
	Entries int // what ls lists (a directory)
	Mount   string
}

// exReport is what the container saw.
type exReport struct {
	Hostname, Hosts string   // exercise 1
	Points          []string // its mount table's mount points
	Masked          []maskedView
	Mknod           string // exercise 3: mknod of a disk's node: its error, "" if it made the node
	CapEff, CapBnd  string
}

// exContainer is a container, entered with the runtime's sequence
// (mount.EnterRoot), that runs the learner's exercise inside.
func exContainer(c *reexec.Conn) error {
	var cfg exConfig
	if err := c.Recv(&cfg); err != nil {
		return err
	}
	mounts := mount.ContainerMounts()
	if cfg.N == 1 {
		extra, err := etcMounts(cfg.HostDir)
		if err != nil {
			return fmt.Errorf("etcMounts: %w", err)
		}
		mounts = append(mounts, extra...)
	}
	if err := mount.EnterRoot(mount.RootConfig{Dir: cfg.Rootfs, Mounts: mounts, Devices: mount.SafeDevices}, nil); err != nil {
		return err
	}
	var r exReport
	switch cfg.N {
	case 1:
		r.Hostname, r.Hosts = cat("/etc/hostname"), cat("/etc/hosts")
	case 2:
		var paths []string
		for _, p := range maskCandidates {
			if _, err := os.Lstat(p); err == nil {
				paths = append(paths, p)
			}
		}
		if err := maskPaths(paths); err != nil {
			return fmt.Errorf("maskPaths: %w", err)
		}
		ms, err := procfs.ReadMountinfo("self")
		if err != nil {
			return err
		}
		for _, p := range paths {
			v := maskedView{Path: p}
			if m, ok := procfs.Mounts(ms).At(p); ok {
				v.Mount = m.Line()
			}
			if fi, err := os.Stat(p); err == nil && fi.IsDir() {
				v.Dir = true
				names, _ := ls(p)
				v.Entries = len(names)
			} else if b, err := readSome(p); err == nil {
				v.Bytes = len(b)
			}
			r.Masked = append(r.Masked, v)
		}
	case 3:
		if err := dropMknod(); err != nil {
			return fmt.Errorf("dropMknod: %w", err)
		}
		if err := unix.Mknod(diskNode, unix.S_IFBLK|0o600, int(unix.Mkdev(8, 0))); err != nil {
			r.Mknod = errText(err)
		} else {
			os.Remove(diskNode)
		}
		st, err := procfs.ReadStatus("self")
		if err != nil {
			return err
		}
		r.CapEff, r.CapBnd = st["CapEff"], st["CapBnd"]
	}
	ms, err := procfs.ReadMountinfo("self")
	if err != nil {
		return err
	}
	for _, m := range ms {
		r.Points = append(r.Points, m.Point)
	}
	return c.Send(r)
}

// diskNode is the device node check 3 tries to make inside: sda's.
const diskNode = "/dev/unbox-disk"

// readSome reads a little of a file: /proc/kcore is as large as memory.
func readSome(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, 256)
	n, _ := f.Read(b)
	return b[:n], nil
}

// capSet reports whether capability bit cap is set in a /proc status mask.
func capSet(mask string, capability int) bool {
	v, err := strconv.ParseUint(mask, 16, 64)
	return err == nil && v&(1<<uint(capability)) != 0
}

func checkContainer(s *kit.Session, n int) error {
	w, err := (&state{}).workdir(s)
	if err != nil {
		return err
	}
	cfg := exConfig{N: n, Rootfs: w.Rootfs, HostDir: filepath.Join(w.Base, "etc")}
	b := make([]byte, 4)
	rand.Read(b)
	name := "unbox-ex-" + hex.EncodeToString(b)
	hosts := "127.0.0.1 localhost\n10.66.0.2 " + name + "\n"
	if n == 1 {
		if err := os.Mkdir(cfg.HostDir, 0o755); err != nil {
			return err
		}
		for file, content := range map[string]string{"hostname": name + "\n", "hosts": hosts} {
			if err := os.WriteFile(filepath.Join(cfg.HostDir, file), []byte(content), 0o644); err != nil {
				return err
			}
		}
	}
	c := reexec.NewChild("ex-container")
	c.Cmd.SysProcAttr.Cloneflags = unix.CLONE_NEWNS | unix.CLONE_NEWPID
	if err := c.Start(s.Ctx); err != nil {
		return err
	}
	defer c.Close()
	if err := c.Send(cfg); err != nil {
		return err
	}
	var r exReport
	if err := c.Recv(&r); err != nil {
		return err
	}
	if err := c.Wait(); err != nil {
		return err
	}
	switch n {
	case 1:
		s.Cmd("docker run --hostname %s ...    # the files in %s, bound in by your etcMounts", name, cfg.HostDir)
		s.Inside("cat /etc/hostname: %s", r.Hostname)
		s.Inside("cat /etc/hosts: %s", strings.ReplaceAll(r.Hosts, "\n", "; "))
		if r.Hostname != name || r.Hosts+"\n" != hosts {
			return kit.Errorf("inside, /etc/hostname is %q and /etc/hosts %q; want the host's files", r.Hostname, r.Hosts)
		}
		for _, p := range []string{"/etc/hostname", "/etc/hosts"} {
			if !slices.Contains(r.Points, p) {
				return kit.Errorf("%s is not a mount point inside (mounts: %v): a copy, not a bind mount?", p, r.Points)
			}
		}
		if own, err := os.ReadFile(filepath.Join(w.Rootfs, "etc/hostname")); err == nil && strings.TrimSpace(string(own)) == name {
			return kit.Errorf("the root filesystem's own etc/hostname now holds the name: the bind wrote into the image")
		}
		s.Inside("both are mount points: the host's files, bound in")
	case 2:
		s.Cmd("# your maskPaths, over the OCI spec's maskedPaths this kernel has")
		if len(r.Masked) == 0 {
			return kit.Errorf("none of the masked paths exists in this container's /proc and /sys")
		}
		var bad []string
		for _, v := range r.Masked {
			what := s.T("%d bytes read", v.Bytes)
			if v.Dir {
				what = s.T("%d entries", v.Entries)
			}
			mounted := v.Mount
			if mounted == "" {
				mounted = s.T("not a mount point")
			}
			s.Inside("%s: %s; %s", v.Path, what, mounted)
			if v.Mount == "" || v.Bytes != 0 || v.Entries != 0 {
				bad = append(bad, v.Path)
			}
		}
		if len(bad) > 0 {
			return kit.Errorf("still readable inside: %s", strings.Join(bad, ", "))
		}
	case 3:
		s.Cmd("mknod /dev/unbox-disk b 8 0    # after your dropMknod")
		mknod := r.Mknod
		if mknod == "" {
			mknod = s.T("made %s", diskNode)
		}
		s.Inside("%s", mknod)
		s.Inside("CapEff %s, CapBnd %s: CAP_MKNOD (bit %d) %s", r.CapEff, r.CapBnd, unix.CAP_MKNOD,
			capState(s, r.CapEff, r.CapBnd))
		if !strings.Contains(r.Mknod, "not permitted") {
			return kit.Errorf("mknod of a disk's node inside: %s; want operation not permitted", mknod)
		}
		if capSet(r.CapEff, unix.CAP_MKNOD) || capSet(r.CapBnd, unix.CAP_MKNOD) {
			return kit.Errorf("CAP_MKNOD is still in CapEff %s or CapBnd %s", r.CapEff, r.CapBnd)
		}
	}
	return nil
}

func capState(s *kit.Session, eff, bnd string) string {
	if capSet(eff, unix.CAP_MKNOD) || capSet(bnd, unix.CAP_MKNOD) {
		return s.T("still there")
	}
	return s.T("gone from both")
}
