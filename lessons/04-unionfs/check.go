//go:build linux

package main

// The checks of the exercises (exercises.go): each builds the lesson's
// image in a lab of its own, runs the learner's function, and mounts what
// it made with overlayfs: the kernel's view is the verdict.

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/mount"
	"github.com/unboxlab/unbox/internal/overlay"
	"github.com/unboxlab/unbox/internal/overlay/whiteout"
	"github.com/unboxlab/unbox/internal/procfs"
	"github.com/unboxlab/unbox/internal/reexec"
)

func init() { reexec.Register("ex-short-mount", exShortMount) }

var exercises = []kit.Exercise{
	{
		Title: "Commit: a container's upper dir as a layer tar",
		Stub:  "exercises.go:commitLayer",
		Needs: unionNeeds,
		Check: checkCommit,
		Hint: "every entry of upper goes in, in WalkDir's order; whiteout.ToTar spells the markers\n" +
			"(.wh.<name>, .wh..wh..opq), and a regular file's content follows its header.",
	},
	{
		Title: "Hide lower files by hand: a whiteout and an opaque dir",
		Stub:  "exercises.go:writeDeletions",
		Needs: unionNeeds,
		Check: checkDeletions,
		Hint: "a whiteout is mknod(2) of a character device 0/0; an opaque directory carries the\n" +
			"xattr trusted.overlay.opaque=y (setxattr(2)); overlayfs reads both only in a layer.",
	},
	{
		Title: "Short lowerdir= names, as Docker's overlay2 keeps them",
		Stub:  "exercises.go:shortLowerdir",
		Needs: unionNeeds,
		Check: checkShortLowerdir,
		Hint: "mount(2) resolves a relative lowerdir= from the working directory of the process that\n" +
			"mounts: make root/l/<short> symlinks to the layers and return \"l/<short>:...\".",
	},
}

// checkLab is a lab with the lesson's image, removed however the check
// ends.
func checkLab(s *kit.Session) (*lab, error) {
	l, err := newLab(filepath.Join(os.TempDir(), kit.UniqueName("lesson04-check")))
	if err != nil {
		return nil, err
	}
	s.Cleanup(func() error { _, err := l.teardown(); return err })
	return l, l.buildImage(s.Ctx)
}

// readOnlyUnion mounts layers (top first) read-only at a new directory
// merged, unmounted however the check ends.
func readOnlyUnion(s *kit.Session, l *lab, name string, layers []string) (string, error) {
	merged := l.path(name)
	if err := os.MkdirAll(merged, 0o755); err != nil {
		return "", err
	}
	opts, err := (overlay.Layers{Lower: layers}).Options(l.PageSize)
	if err != nil {
		return "", err
	}
	m := mount.Mount{Source: overlay.FSType, Target: merged, Type: overlay.FSType, Data: opts}
	mounted, err := mount.MountAll("/", []mount.Mount{m}, nil)
	if err != nil {
		return "", fmt.Errorf("%w%s", err, overlay.MountHint(err))
	}
	s.Cleanup(mounted.Unmount)
	return merged, nil
}

// checkCommit changes container a through the union as steps 4 and 5 do,
// commits its upper dir with the learner's commitLayer, unpacks the tar
// into a new layer and stacks it on the image: the kernel must show what
// container a showed.
func checkCommit(s *kit.Session) error {
	l, err := checkLab(s)
	if err != nil {
		return err
	}
	c, err := l.newContainer("a")
	if err != nil {
		return err
	}
	if err := l.mount(c); err != nil {
		return err
	}
	if _, err := copyUp(c, l.Layers[1].Dir, "etc/app.conf", "debug=true\n"); err != nil {
		return err
	}
	if _, err := deleteAndReplace(c, "srv/www/about.html", "srv/www/assets", "site.css", "body { margin: 0 }\n"); err != nil {
		return err
	}
	s.Cmd("echo debug=true >> etc/app.conf; rm srv/www/about.html\n" +
		"rm -rf srv/www/assets; mkdir srv/www/assets; echo 'body { margin: 0 }' > srv/www/assets/site.css")
	var buf bytes.Buffer
	if err := commitLayer(c.Upper, &buf); err != nil {
		return fmt.Errorf("commitLayer: %w", err)
	}
	names, err := unpackLayer(&buf, l.path("committed"))
	if err != nil {
		return kit.Errorf("the tar commitLayer wrote: %w", err)
	}
	s.Cmd("tar -tf layer.tar    # what your commitLayer wrote")
	s.Show("%s", strings.Join(names, "\n"))
	for _, want := range []string{"etc/app.conf", "srv/www/.wh.about.html", "srv/www/assets/.wh..wh..opq", "srv/www/assets/site.css"} {
		if !slices.Contains(names, want) {
			return kit.Errorf("the layer tar has no %s", want)
		}
	}
	merged, err := readOnlyUnion(s, l, "check", append([]string{l.path("committed")}, l.lowerDirs()...))
	if err != nil {
		return err
	}
	s.Cmd("mount -t overlay overlay -o lowerdir=committed:layers/3-cleanup:layers/2-app:layers/1-base check")
	for _, p := range []string{"etc/app.conf", "srv/www", "srv/www/assets"} {
		got, want := look(filepath.Join(merged, p)), look(filepath.Join(c.Merged, p))
		s.Host("check/%s: %s", p, shown(s, got))
		if got != want {
			return kit.Errorf("the image with your layer shows %s as %q; container a showed %q", p, shown(s, got), shown(s, want))
		}
	}
	return nil
}

// unpackLayer extracts a layer tar into dir, turning its whiteout names
// back into the markers overlayfs reads (whiteout.FromTar,
// overlay.WriteMarker), every name resolved inside dir. It returns the
// tar's names.
func unpackLayer(r io.Reader, dir string) ([]string, error) {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	var names []string
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return names, nil
		}
		if err != nil {
			return names, err
		}
		names = append(names, hdr.Name)
		name, marker, err := whiteout.FromTar(hdr)
		if err != nil {
			return names, err
		}
		if marker != overlay.NoMarker {
			if err := overlay.WriteMarker(root, name, marker); err != nil {
				return names, err
			}
			continue
		}
		clean := path.Clean(strings.TrimSuffix(hdr.Name, "/"))
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := root.MkdirAll(clean, 0o755); err != nil {
				return names, err
			}
		case tar.TypeReg:
			if err := root.MkdirAll(path.Dir(clean), 0o755); err != nil {
				return names, err
			}
			b, err := io.ReadAll(tr)
			if err != nil {
				return names, err
			}
			if err := root.WriteFile(clean, b, 0o644); err != nil {
				return names, err
			}
		default:
			return names, kit.Errorf("%s: unexpected entry type %c in this layer", hdr.Name, hdr.Typeflag)
		}
	}
}

// checkDeletions stacks the learner's layer on top of the image and asks
// the union what is left of /etc/passwd and /srv/www.
func checkDeletions(s *kit.Session) error {
	l, err := checkLab(s)
	if err != nil {
		return err
	}
	dir := l.path("layers", "4-deletions")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := writeDeletions(dir); err != nil {
		return fmt.Errorf("writeDeletions: %w", err)
	}
	entries, err := readLayer(dir)
	if err != nil {
		return err
	}
	s.Cmd("(cd layers/4-deletions && find . ! -type d; getfattr -n trusted.overlay.opaque srv/www)")
	for _, e := range entries {
		s.Host("%s: %s", e.name(), e.describe(s))
	}
	merged, err := readOnlyUnion(s, l, "check", append([]string{dir}, l.lowerDirs()...))
	if err != nil {
		return err
	}
	s.Cmd("mount -t overlay overlay -o lowerdir=layers/4-deletions:layers/3-cleanup:layers/2-app:layers/1-base check")
	checks := []struct{ path, want string }{
		{"etc/passwd", "no such file or directory"},
		{"srv/www", "(empty directory)"},
		{"etc/group", look(filepath.Join(l.Layers[0].Dir, "etc/group"))},
	}
	for _, c := range checks {
		got := look(filepath.Join(merged, c.path))
		s.Host("check/%s: %s", c.path, shown(s, got))
		if got != c.want {
			return kit.Errorf("in the union, %s is %q; want %q", c.path, shown(s, got), shown(s, c.want))
		}
	}
	return nil
}

// shortConfig is what the mounting child of exercise 3 gets.
type shortConfig struct {
	Lower, Merged string
}

// shortReport is what it saw.
type shortReport struct {
	Passwd, Motd string
	Options      string // the lowerdir= the kernel recorded
}

// exShortMount mounts, from its working directory (the lab), a read-only
// union with a relative lowerdir=, in a mount namespace of its own.
func exShortMount(c *reexec.Conn) error {
	var cfg shortConfig
	if err := c.Recv(&cfg); err != nil {
		return err
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return kit.Errorf("mount --make-rprivate /: %w", err)
	}
	if err := unix.Mount("overlay", cfg.Merged, "overlay", unix.MS_RDONLY, "lowerdir="+cfg.Lower); err != nil {
		return kit.Errorf("mount -t overlay overlay -o lowerdir=%s %s: %w", cfg.Lower, cfg.Merged, err)
	}
	r := shortReport{Passwd: look(filepath.Join(cfg.Merged, "etc/passwd")), Motd: look(filepath.Join(cfg.Merged, "etc/motd"))}
	ms, err := procfs.ReadMountinfo("self")
	if err != nil {
		return err
	}
	if m, ok := procfs.Mounts(ms).At(cfg.Merged); ok {
		for _, o := range strings.Split(m.Super, ",") {
			if strings.HasPrefix(o, "lowerdir=") {
				r.Options = o
			}
		}
	}
	return c.Send(r)
}

// checkShortLowerdir asks the learner for the short lowerdir= of the
// image's layers and mounts with it from the lab's directory.
func checkShortLowerdir(s *kit.Session) error {
	l, err := checkLab(s)
	if err != nil {
		return err
	}
	full := strings.Join(l.lowerDirs(), ":")
	lower, err := shortLowerdir(l.Root, l.lowerDirs())
	if err != nil {
		return fmt.Errorf("shortLowerdir: %w", err)
	}
	merged := l.path("check")
	if err := os.Mkdir(merged, 0o755); err != nil {
		return err
	}
	s.Cmd("cd %s; ls -l l/    # after your shortLowerdir", l.Root)
	links, _ := os.ReadDir(l.path("l"))
	for _, e := range links {
		target, _ := os.Readlink(l.path("l", e.Name()))
		s.Host("l/%s -> %s", e.Name(), l.rel(target))
	}
	s.Cmd("mount -t overlay overlay -o ro,lowerdir=%s check", lower)
	c := reexec.NewChild("ex-short-mount")
	c.Cmd.Dir = l.Root
	c.Cmd.SysProcAttr.Cloneflags = unix.CLONE_NEWNS
	if err := c.Start(s.Ctx); err != nil {
		return err
	}
	defer c.Close()
	if err := c.Send(shortConfig{Lower: lower, Merged: merged}); err != nil {
		return err
	}
	var r shortReport
	if err := c.Recv(&r); err != nil {
		return err
	}
	if err := c.Wait(); err != nil {
		return err
	}
	s.Host("lowerdir= is %d bytes long; with the full paths it is %d", len(lower), len(full))
	s.Host("check/etc/passwd: %s; check/etc/motd: %s", shown(s, r.Passwd), shown(s, r.Motd))
	if len(lower) >= len(full) {
		return kit.Errorf("lowerdir=%s is no shorter than the full paths (%d bytes)", lower, len(full))
	}
	for _, e := range strings.Split(lower, ":") {
		if !strings.HasPrefix(e, "l/") {
			return kit.Errorf("lowerdir entry %q is not a short link under l/", e)
		}
	}
	if !strings.HasSuffix(r.Passwd, appUser[:len(appUser)-1]) || r.Motd != "no such file or directory" {
		return kit.Errorf("the union mounted with lowerdir=%s shows /etc/passwd %q and /etc/motd %q: "+
			"the layers are not in the image's order", lower, shown(s, r.Passwd), shown(s, r.Motd))
	}
	return nil
}
