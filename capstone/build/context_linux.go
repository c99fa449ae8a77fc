package build

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	"golang.org/x/sys/unix"
)

// tree is where COPY reads from: the build context, or (COPY --from) the
// root file system of a stage or an image, mounted.
type tree struct {
	dir string
	fd  *os.File
	// inRoot resolves a source as a root file system would (an image's
	// absolute symlinks point inside it: RESOLVE_IN_ROOT); otherwise a
	// source must stay beneath dir (the context: RESOLVE_BENEATH, a `..`
	// or symlink out of it is an error).
	inRoot bool
	// ignore is the context's .dockerignore; nil for an image.
	ignore *patternmatcher.PatternMatcher
	what   string // "the build context", "stage build", for errors
}

// openContext opens the build context dir and reads its .dockerignore.
func openContext(dir string) (*tree, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	fd, err := os.Open(abs)
	if err != nil {
		return nil, fmt.Errorf("the build context: %w", err)
	}
	if fi, err := fd.Stat(); err != nil || !fi.IsDir() {
		fd.Close()
		return nil, fmt.Errorf("the build context %s is not a directory", dir)
	}
	t := &tree{dir: abs, fd: fd, what: "the build context"}
	f, err := os.Open(filepath.Join(abs, ".dockerignore"))
	switch {
	case err == nil:
		defer f.Close()
		patterns, err := ignorefile.ReadAll(f)
		if err != nil {
			fd.Close()
			return nil, fmt.Errorf(".dockerignore: %w", err)
		}
		if t.ignore, err = patternmatcher.New(patterns); err != nil {
			fd.Close()
			return nil, fmt.Errorf(".dockerignore: %w", err)
		}
	case !errors.Is(err, os.ErrNotExist):
		fd.Close()
		return nil, err
	}
	return t, nil
}

// openRoot is a tree of a mounted root file system (COPY --from).
func openRoot(dir, what string) (*tree, error) {
	fd, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	return &tree{dir: dir, fd: fd, inRoot: true, what: what}, nil
}

func (t *tree) Close() error { return t.fd.Close() }

// ignored reports whether rel (slash-separated, relative to the context)
// is excluded by .dockerignore.
func (t *tree) ignored(rel string) bool {
	if t.ignore == nil || rel == "." {
		return false
	}
	m, err := t.ignore.MatchesOrParentMatches(rel)
	return err == nil && m
}

// local is a COPY source as a path relative to the tree: a leading / is
// the tree's root, as Docker reads it; a `..` that climbs out of the
// context is refused.
func (t *tree) local(src string) (string, error) {
	rel := strings.TrimLeft(filepath.ToSlash(src), "/")
	if rel == "" {
		return ".", nil
	}
	rel = path.Clean(rel)
	if !filepath.IsLocal(rel) {
		return "", fmt.Errorf("forbidden path outside %s: %s", t.what, src)
	}
	return rel, nil
}

// sources expands one COPY source, wildcards included, into paths
// relative to the tree, skipping what .dockerignore excludes.
func (t *tree) sources(src string) ([]string, error) {
	rel, err := t.local(src)
	if err != nil {
		return nil, err
	}
	if !strings.ContainsAny(rel, "*?[") {
		if t.ignored(rel) {
			return nil, fmt.Errorf("%s: not found in %s (excluded by .dockerignore)", src, t.what)
		}
		return []string{rel}, nil
	}
	// Glob lists names only; each match is opened beneath the tree like
	// any other source, so a match through a symlink out is still refused.
	matches, err := filepath.Glob(filepath.Join(t.dir, filepath.FromSlash(rel)))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src, err)
	}
	var out []string
	for _, m := range matches {
		r, err := filepath.Rel(t.dir, m)
		if err != nil || !filepath.IsLocal(r) {
			continue
		}
		if r = filepath.ToSlash(r); !t.ignored(r) {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no source files were specified (nothing in %s matches)", src, t.what)
	}
	return out, nil
}

// open opens rel inside the tree, following symlinks only as far as the
// tree allows (openat2(2): RESOLVE_BENEATH for the context, where a path
// that leads out is EXDEV; RESOLVE_IN_ROOT for an image).
func (t *tree) open(rel string) (*os.File, unix.Stat_t, error) {
	var st unix.Stat_t
	how := unix.OpenHow{Flags: unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NONBLOCK | unix.O_NOCTTY, Resolve: unix.RESOLVE_NO_MAGICLINKS}
	if t.inRoot {
		how.Resolve |= unix.RESOLVE_IN_ROOT
	} else {
		how.Resolve |= unix.RESOLVE_BENEATH
	}
	var fd int
	var err error
	for {
		fd, err = unix.Openat2(int(t.fd.Fd()), rel, &how)
		if err != unix.EINTR && err != unix.EAGAIN {
			break
		}
	}
	switch {
	case errors.Is(err, unix.EXDEV):
		return nil, st, fmt.Errorf("%s: refused: it leads outside %s (a symbolic link or `..`)", rel, t.what)
	case errors.Is(err, unix.ENOENT):
		return nil, st, fmt.Errorf("%s: not found in %s", rel, t.what)
	case err != nil:
		return nil, st, fmt.Errorf("open %s in %s: %w", rel, t.what, err)
	}
	f := os.NewFile(uintptr(fd), rel)
	if err := unix.Fstat(fd, &st); err != nil {
		f.Close()
		return nil, st, err
	}
	return f, st, nil
}

// tarOptions are how a COPY's files are written: their owner, a --chmod,
// and, for the cache key's digest, no times.
type tarOptions struct {
	UID, GID  int
	Chmod     *os.FileMode
	ZeroTimes bool
}

// writeSource writes the source rel as a tar stream's entries: a file as
// name, a directory's contents under name ("" for the top). Everything
// below rel is opened relative to its parent's descriptor with
// O_NOFOLLOW: nothing a context holds can send the walk elsewhere.
func (t *tree) writeSource(tw *tar.Writer, rel, name string, o tarOptions) error {
	f, st, err := t.open(rel)
	if err != nil {
		return err
	}
	defer f.Close()
	w := &tarWalk{t: t, tw: tw, o: o}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return w.dir(f, rel, name)
	}
	return w.entry(f, rel, name, &st, "")
}

type tarWalk struct {
	t       *tree
	tw      *tar.Writer
	o       tarOptions
	pending []pendingDir // excluded directories, written before a child that is not
}

type pendingDir struct {
	name string
	st   unix.Stat_t
}

// dir writes the entries of the directory d (rel in the tree) under name.
func (w *tarWalk) dir(d *os.File, rel, name string) error {
	dup, err := unix.Openat(int(d.Fd()), ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	list := os.NewFile(uintptr(dup), rel)
	names, err := list.Readdirnames(-1)
	list.Close()
	if err != nil {
		return fmt.Errorf("read %s: %w", rel, err)
	}
	sort.Strings(names)
	for _, n := range names {
		crel, cname := path.Join(rel, n), path.Join(name, n)
		var st unix.Stat_t
		if err := unix.Fstatat(int(d.Fd()), n, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("stat %s: %w", crel, err)
		}
		excluded := w.t.ignored(crel)
		isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
		if excluded && (!isDir || !w.t.ignore.Exclusions()) {
			continue
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFLNK:
			target, err := readlinkat(int(d.Fd()), n)
			if err != nil {
				return fmt.Errorf("readlink %s: %w", crel, err)
			}
			if err := w.header(cname, &st, target); err != nil {
				return err
			}
		case unix.S_IFDIR, unix.S_IFREG:
			flags := unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_CLOEXEC | unix.O_NONBLOCK
			if isDir {
				flags |= unix.O_DIRECTORY
			}
			fd, err := unix.Openat(int(d.Fd()), n, flags, 0)
			if err != nil {
				return fmt.Errorf("open %s: %w", crel, err)
			}
			cf := os.NewFile(uintptr(fd), crel)
			if isDir {
				// An excluded directory is walked for the exceptions
				// (!pattern) inside it, and comes only as their parent.
				if excluded {
					w.pending = append(w.pending, pendingDir{cname + "/", st})
					err = w.dir(cf, crel, cname)
					if n := len(w.pending); n > 0 && w.pending[n-1].name == cname+"/" {
						w.pending = w.pending[:n-1]
					}
				} else if err = w.header(cname+"/", &st, ""); err == nil {
					err = w.dir(cf, crel, cname)
				}
			} else {
				err = w.entry(cf, crel, cname, &st, "")
			}
			cf.Close()
			if err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s in %s is a %s: COPY takes files, directories and symbolic links", crel, w.t.what, kind(st.Mode))
		}
	}
	return nil
}

// entry writes one regular file (or the one symlink a source named).
func (w *tarWalk) entry(f *os.File, rel, name string, st *unix.Stat_t, link string) error {
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fmt.Errorf("%s in %s is a %s: COPY takes files, directories and symbolic links", rel, w.t.what, kind(st.Mode))
	}
	if err := w.header(name, st, link); err != nil {
		return err
	}
	n, err := io.Copy(w.tw, f)
	if err != nil {
		return fmt.Errorf("read %s: %w", rel, err)
	}
	if n != st.Size {
		return fmt.Errorf("read %s: it changed while it was copied", rel)
	}
	return nil
}

// header writes the tar header of one entry, owned as the COPY says. A
// name that overlayfs or a layer would read as a whiteout (.wh.*) is
// refused: copied into an image it would delete files instead.
func (w *tarWalk) header(name string, st *unix.Stat_t, link string) error {
	if strings.HasPrefix(path.Base(name), ".wh.") {
		return fmt.Errorf("%s: a file named .wh.* cannot be copied into an image (it is a whiteout's name)", name)
	}
	for len(w.pending) > 0 {
		p := w.pending[0]
		w.pending = w.pending[1:]
		if err := w.header(p.name, &p.st, ""); err != nil {
			return err
		}
	}
	mode := int64(st.Mode & 0o7777)
	if w.o.Chmod != nil && st.Mode&unix.S_IFMT != unix.S_IFLNK {
		mode = int64(*w.o.Chmod)
	}
	h := &tar.Header{Name: name, Mode: mode, Uid: w.o.UID, Gid: w.o.GID, Format: tar.FormatPAX}
	if !w.o.ZeroTimes {
		h.ModTime = time.Unix(st.Mtim.Unix())
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		h.Typeflag = tar.TypeDir
	case unix.S_IFLNK:
		h.Typeflag, h.Linkname = tar.TypeSymlink, link
	default:
		h.Typeflag, h.Size = tar.TypeReg, st.Size
	}
	return w.tw.WriteHeader(h)
}

func readlinkat(dirfd int, name string) (string, error) {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(dirfd, name, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

func kind(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFIFO:
		return "named pipe"
	case unix.S_IFSOCK:
		return "socket"
	case unix.S_IFCHR, unix.S_IFBLK:
		return "device"
	}
	return "special file"
}
