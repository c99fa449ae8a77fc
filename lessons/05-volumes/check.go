//go:build linux

package main

// The checks of the exercises (exercises.go): each runs the learner's
// function on directories of its own, under a temp directory named for the
// check, and asks the kernel what it made of them: the mount table, a
// write, the inodes. Everything mounted there is unmounted however the
// check ends.

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/mount"
	"github.com/unboxlab/unbox/internal/procfs"
)

var exercises = []kit.Exercise{
	{
		Title: "-v src:dst:ro by hand: a read-only bind mount",
		Stub:  "exercises.go:bindReadOnly",
		Check: checkReadOnly,
		Hint: "mount(2) ignores MS_RDONLY in the call that makes a bind mount: make the bind, then\n" +
			"remount it with MS_REMOUNT|MS_BIND|MS_RDONLY.",
	},
	{
		Title: "A new volume starts as a copy of the image's directory",
		Stub:  "exercises.go:populateVolume",
		Check: checkPopulate,
		Hint: "every entry under the image directory, and the directory itself: the same type, owner\n" +
			"(os.Lchown, symlinks too), mode (os.Chmod after the chown) and content or link target.",
	},
	{
		Title: "-v src:dst:rslave by hand: the host's mounts come in, none go out",
		Stub:  "exercises.go:bindSlave",
		Check: checkSlave,
		Hint: "a bind of a shared mount is its peer: mounts go both ways. MS_SLAVE|MS_REC on the\n" +
			"new mount, after the bind, makes it receive only.",
	},
}

// checkDir makes the check's directory; however the check ends, every
// mount under it is undone, the last made first, and then it is removed
// (never while something is still mounted in it: removing through a bind
// mount would delete the source's files).
func checkDir(s *kit.Session) (string, error) {
	dir := filepath.Join(os.TempDir(), kit.UniqueName("lesson05-check"))
	if err := os.Mkdir(dir, 0o755); err != nil {
		return "", err
	}
	s.Cleanup(func() error {
		var errs []error
		left := mountsUnder(dir)
		for i := len(left) - 1; i >= 0; i-- {
			// Lazily: a propagated copy may have gone with its master.
			if err := unix.Unmount(left[i], unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
				errs = append(errs, fmt.Errorf("umount %s: %w", left[i], err))
			}
		}
		if left := mountsUnder(dir); len(left) > 0 {
			return errors.Join(append(errs, kit.Errorf("still mounted, so %s is left in place: %v", dir, left))...)
		}
		return errors.Join(append(errs, os.RemoveAll(dir))...)
	})
	s.Cmd("mkdir %s && cd $_", dir)
	return dir, nil
}

// mountAt is the mount seen at path, from this process's mount table.
func mountAt(path string) (procfs.Mount, bool, error) {
	ms, err := procfs.ReadMountinfo("self")
	if err != nil {
		return procfs.Mount{}, false, err
	}
	m, ok := procfs.Mounts(ms).At(path)
	return m, ok, nil
}

// touch writes a small file, and says what came of it.
func touch(path string) error { return os.WriteFile(path, []byte("x\n"), 0o644) }

// checkReadOnly binds a host directory read-only with the learner's
// bindReadOnly, then writes on both sides.
func checkReadOnly(s *kit.Session) error {
	dir, err := checkDir(s)
	if err != nil {
		return err
	}
	src, dst := filepath.Join(dir, "host", "project"), filepath.Join(dir, "ctr", "ro")
	for _, d := range []string{src, dst} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(src, "README"), []byte("from the host\n"), 0o644); err != nil {
		return err
	}
	s.Cmd("mkdir -p host/project ctr/ro && echo 'from the host' > host/project/README\n" +
		"# your bindReadOnly(host/project, ctr/ro)")
	if err := bindReadOnly(src, dst); err != nil {
		return fmt.Errorf("bindReadOnly: %w", err)
	}
	m, ok, err := mountAt(dst)
	if err != nil {
		return err
	}
	if !ok {
		return kit.Errorf("nothing is mounted at ctr/ro")
	}
	s.Cmd("findmnt -o TARGET,OPTIONS ctr/ro; cat ctr/ro/README")
	b, _ := os.ReadFile(filepath.Join(dst, "README"))
	s.Host("ctr/ro %s\n%s", m.Options, strings.TrimSpace(string(b)))
	if string(b) != "from the host\n" {
		return kit.Errorf("ctr/ro/README = %q: ctr/ro is not a bind mount of host/project", b)
	}
	inErr, hostErr := touch(filepath.Join(dst, "x")), touch(filepath.Join(src, "y"))
	s.Cmd("touch ctr/ro/x; touch host/project/y; ls ctr/ro")
	names, _ := os.ReadDir(dst)
	var ls []string
	for _, n := range names {
		ls = append(ls, n.Name())
	}
	s.Table([]string{"write", "answer"}, [][]string{
		{"touch ctr/ro/x", orOK(errTextOrEmpty(inErr))},
		{"touch host/project/y", orOK(errTextOrEmpty(hostErr))},
		{"ls ctr/ro", strings.Join(ls, " ")},
	})
	switch {
	case !errors.Is(inErr, unix.EROFS) || !m.ReadOnly():
		return kit.Errorf("ctr/ro is writable (its options: %s; touch: %s): MS_RDONLY was ignored",
			m.Options, orOK(errTextOrEmpty(inErr)))
	case hostErr != nil:
		return kit.Errorf("host/project is not writable any more (%v): read-only is the new mount's, not the directory's", hostErr)
	case !slices.Contains(ls, "y"):
		return kit.Errorf("host/project/y is not in ctr/ro: not the same directory")
	}
	return nil
}

// imageFiles are the image directory of check 2, below var/lib/app: a
// tree with owners and modes a plain copy would lose.
var imageFiles = []struct {
	path     string
	mode     fs.FileMode // fs.ModeDir, fs.ModeSymlink or a file
	uid, gid int
	content  string // a symlink's target
}{
	{"config.json", 0o644, appUID, appUID, `{"db": "data/app.db"}` + "\n"},
	{"data", fs.ModeDir | 0o750, appUID, appUID, ""},
	{"data/app.db", 0o600, appUID, appUID, "rows\n"},
	{"data/current", fs.ModeSymlink, appUID, appUID, "app.db"},
	{"shared", fs.ModeDir | fs.ModeSetgid | 0o2775, 0, appUID, ""},
	{"run.sh", 0o755, 0, 0, "#!/bin/sh\n"},
}

// checkPopulate fills a new volume with the learner's populateVolume from
// an image directory, then compares the two trees inode by inode.
func checkPopulate(s *kit.Session) error {
	dir, err := checkDir(s)
	if err != nil {
		return err
	}
	image, volume := filepath.Join(dir, "image", "var", "lib", "app"), filepath.Join(dir, "volumes", "appdata", "_data")
	if err := os.MkdirAll(volume, 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(image, 0o755); err != nil {
		return err
	}
	if err := os.Chown(image, appUID, appUID); err != nil {
		return err
	}
	if err := os.Chmod(image, 0o750); err != nil {
		return err
	}
	for _, f := range imageFiles {
		p := filepath.Join(image, f.path)
		switch {
		case f.mode&fs.ModeDir != 0:
			err = os.Mkdir(p, 0o700)
		case f.mode&fs.ModeSymlink != 0:
			err = os.Symlink(f.content, p)
		default:
			err = os.WriteFile(p, []byte(f.content), 0o600)
		}
		if err == nil {
			err = os.Lchown(p, f.uid, f.gid)
		}
		if err == nil && f.mode&fs.ModeSymlink == 0 {
			err = os.Chmod(p, f.mode&(fs.ModePerm|fs.ModeSetgid))
		}
		if err != nil {
			return err
		}
	}
	s.Cmd("ls -lnR image/var/lib/app    # the image's directory")
	if err := showTree(s, image); err != nil {
		return err
	}
	s.Cmd("# your populateVolume(image/var/lib/app, volumes/appdata/_data)\nls -lnR volumes/appdata/_data")
	if err := populateVolume(image, volume); err != nil {
		return fmt.Errorf("populateVolume: %w", err)
	}
	if err := showTree(s, volume); err != nil {
		return err
	}
	want, err := tree(image)
	if err != nil {
		return err
	}
	got, err := tree(volume)
	if err != nil {
		return err
	}
	for i := range max(len(want), len(got)) {
		var w, g string
		if i < len(want) {
			w = want[i]
		}
		if i < len(got) {
			g = got[i]
		}
		if w != g {
			return kit.Errorf("the volume differs from the image's directory:\n  image:  %s\n  volume: %s",
				orNothing(s, w), orNothing(s, g))
		}
	}
	return nil
}

// orNothing is a line of tree, or "(nothing)" in the session's language.
func orNothing(s *kit.Session, line string) string {
	if line == "" {
		return s.T("(nothing)")
	}
	return line
}

// tree is every entry at and below dir as `ls -ln` shows it, the path
// relative to dir, with a file's content: what the kernel keeps of each.
func tree(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		line := lsLine(p, rel, &st)
		if d.Type().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			line += fmt.Sprintf("  %q", bytes.TrimSpace(b))
		}
		out = append(out, line)
		return nil
	})
	return out, err
}

func showTree(s *kit.Session, dir string) error {
	lines, err := tree(dir)
	if err != nil {
		return err
	}
	s.Host("%s", strings.Join(lines, "\n"))
	return nil
}

// checkSlave makes host/media a shared mount of its own, binds it with the
// learner's bindSlave, then mounts on each side and looks on the other.
func checkSlave(s *kit.Session) error {
	dir, err := checkDir(s)
	if err != nil {
		return err
	}
	src, dst := filepath.Join(dir, "host", "media"), filepath.Join(dir, "ctr", "media")
	for _, d := range []string{filepath.Join(src, "usb"), dst} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	var trace []mount.Step
	record := func(st mount.Step) { trace = append(trace, st) }
	if _, err := mount.MountAll("/", []mount.Mount{
		{Source: src, Target: src, Flags: unix.MS_BIND},
		{Target: src, Flags: unix.MS_PRIVATE},
		{Target: src, Flags: unix.MS_SHARED},
	}, record); err != nil {
		return err
	}
	cmds := []string{"mkdir -p host/media/usb ctr/media"}
	for _, st := range trace {
		cmds = append(cmds, strings.ReplaceAll(st.Command, dir+"/", ""))
	}
	s.Cmd("%s    # a shared mount of its own\n# your bindSlave(host/media, ctr/media)", strings.Join(cmds, "\n"))
	host, _, err := mountAt(src)
	if err != nil {
		return err
	}
	if err := bindSlave(src, dst); err != nil {
		return fmt.Errorf("bindSlave: %w", err)
	}
	m, ok, err := mountAt(dst)
	if err != nil {
		return err
	}
	if !ok {
		return kit.Errorf("nothing is mounted at ctr/media")
	}
	s.Cmd("findmnt -o TARGET,PROPAGATION host/media ctr/media")
	s.Host("host/media   %s\nctr/media    %s", host.Propagation(), m.Propagation())

	// The host mounts a tmpfs under its side, later.
	if err := unix.Mount("usb", filepath.Join(src, "usb"), "tmpfs", 0, "size=1m"); err != nil {
		return kit.Errorf("mount -t tmpfs usb host/media/usb: %w", err)
	}
	if err := os.WriteFile(filepath.Join(src, "usb", "photo.jpg"), []byte("a photo\n"), 0o644); err != nil {
		return err
	}
	// And the container under its own.
	mine := filepath.Join(dst, "mine")
	if err := os.Mkdir(mine, 0o755); err != nil {
		return err
	}
	if err := unix.Mount("mine", mine, "tmpfs", 0, "size=1m"); err != nil {
		return kit.Errorf("mount -t tmpfs mine ctr/media/mine: %w", err)
	}
	_, in := os.Stat(filepath.Join(dst, "usb", "photo.jpg"))
	_, out, err := mountAt(filepath.Join(src, "mine"))
	if err != nil {
		return err
	}
	s.Cmd("mount -t tmpfs usb host/media/usb; echo 'a photo' > host/media/usb/photo.jpg    # later, on the host\n" +
		"mkdir ctr/media/mine; mount -t tmpfs mine ctr/media/mine    # in the container\n" +
		"ls ctr/media/usb; findmnt host/media/mine")
	s.Table([]string{"made", "seen on the other side"}, [][]string{
		{"host/media/usb", yesNo(in == nil, s.T("ctr/media/usb/photo.jpg is there"), s.T("ctr/media/usb is empty"))},
		{"ctr/media/mine", yesNo(out, s.T("a mount at host/media/mine"), s.T("nothing at host/media/mine"))},
	})
	switch {
	case in != nil:
		return kit.Errorf("the host's later mount did not reach ctr/media (its propagation: %s)", m.Propagation())
	case out:
		return kit.Errorf("the container's mount reached the host (ctr/media's propagation: %s): a peer, not a slave",
			m.Propagation())
	}
	return nil
}

func yesNo(b bool, yes, no string) string {
	if b {
		return yes
	}
	return no
}
