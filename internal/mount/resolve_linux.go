package mount

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// root is a directory that paths are resolved inside, as if it were /.
type root struct {
	dir  string   // its path, symlinks resolved (the host's own, trusted)
	file *os.File // O_PATH, opened once: every lookup starts from it
}

func openRoot(dir string) (*root, error) {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, fmt.Errorf("root %s: %w", dir, err)
	}
	fd, err := unix.Open(real, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open root %s: %w", real, err)
	}
	return &root{dir: real, file: os.NewFile(uintptr(fd), real)}, nil
}

func (r *root) Close() error { return r.file.Close() }

// join is the path that unsafePath names inside the root, symlinks resolved
// as if the root were / (an absolute link, or one that climbs with "..",
// stays inside). It is a name to show and to create things under; the
// descriptors below are what the system calls use.
func (r *root) join(unsafePath string) (string, error) {
	p, err := securejoin.SecureJoin(r.dir, unsafePath)
	if err != nil {
		return "", fmt.Errorf("resolve %s inside %s: %w", unsafePath, r.dir, err)
	}
	return p, nil
}

// rel is path relative to the root, for the *at calls.
func (r *root) rel(path string) string {
	rel, err := filepath.Rel(r.dir, path)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "" // never: join keeps paths inside
	}
	return rel
}

// open opens an existing path inside the root as O_PATH.
func (r *root) open(unsafePath string) (*os.File, error) {
	return pathrs.OpenatInRoot(r.file, unsafePath)
}

// mkdirAll creates the directory at path (already joined) and its missing
// parents, each from the one above it, and returns it opened.
func (r *root) mkdirAll(path string, trace Tracer) (*os.File, error) {
	if f, err := r.open(r.rel(path)); err == nil {
		return f, nil
	}
	f, err := pathrs.MkdirAllHandle(r.file, r.rel(path), 0o755)
	if err != nil {
		return nil, fmt.Errorf("mkdir -p %s: %w", path, err)
	}
	trace.add(OpMkdir, path, "mkdir -p %s", path)
	return f, nil
}

// target opens where m goes inside the root, creating it when missing: a
// directory, or an empty file to bind a file onto. It returns the O_PATH
// descriptor and the path it resolved to.
func (r *root) target(m Mount, trace Tracer) (*os.File, string, error) {
	if m.Type == "proc" || m.Type == "sysfs" {
		return r.plainDir(m.Target, trace)
	}
	path, err := r.join(m.Target)
	if err != nil {
		return nil, "", err
	}
	if f, err := r.open(r.rel(path)); err == nil {
		return f, path, nil
	} else if !errors.Is(err, unix.ENOENT) {
		return nil, "", fmt.Errorf("open %s: %w", path, err)
	}
	if !m.isBind() || isDir(m.Source) {
		f, err := r.mkdirAll(path, trace)
		return f, path, err
	}
	// A file bound onto a file: create an empty one, from its parent's
	// descriptor, refusing to follow anything at the last component.
	parent, err := r.mkdirAll(filepath.Dir(path), trace)
	if err != nil {
		return nil, "", err
	}
	defer parent.Close()
	fd, err := unix.Openat(int(parent.Fd()), filepath.Base(path), unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, "", fmt.Errorf("touch %s: %w", path, err)
	}
	unix.Close(fd)
	trace.add(OpCreate, path, "touch %s", path)
	f, err := r.open(r.rel(path))
	return f, path, err
}

func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err != nil || fi.IsDir() // a source that is not there fails at mount(2), with its name
}

// plainDir opens a target through ordinary directories only, creating the
// last one when it is missing. proc and sysfs are mounted only there: runc
// refuses a symlink for them too ("must be mounted on ordinary directory"),
// since a container that chooses where its /proc lands can make the runtime
// write to a file it controls instead (CVE-2019-16884, CVE-2019-19921).
func (r *root) plainDir(target string, trace Tracer) (*os.File, string, error) {
	rel := strings.TrimPrefix(filepath.Clean("/"+target), "/")
	f, err := r.walk(rel, true, trace)
	if err != nil {
		return nil, "", fmt.Errorf("%w: proc and sysfs are mounted only on an ordinary directory", err)
	}
	return f, f.Name(), nil
}

// walk opens the directory rel inside the root one component at a time,
// with O_NOFOLLOW: a symlink anywhere on the way is an error, not a detour.
// With create, a missing component is made (mkdirat(2)) from its parent's
// descriptor.
func (r *root) walk(rel string, create bool, trace Tracer) (*os.File, error) {
	fd, err := unix.Dup(int(r.file.Fd()))
	if err != nil {
		return nil, err
	}
	unix.CloseOnExec(fd)
	walked := r.dir
	for _, name := range strings.Split(rel, "/") {
		if name == "" || name == "." {
			continue
		}
		walked = filepath.Join(walked, name)
		next, err := openNoFollow(fd, name)
		if create && errors.Is(err, unix.ENOENT) {
			if err = unix.Mkdirat(fd, name, 0o755); err == nil || errors.Is(err, unix.EEXIST) {
				trace.add(OpMkdir, walked, "mkdir %s", walked)
				next, err = openNoFollow(fd, name)
			}
		}
		if err != nil {
			symlink := isSymlinkAt(fd, name)
			unix.Close(fd)
			if symlink || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) {
				return nil, fmt.Errorf("%s is a symlink or not a directory", walked)
			}
			return nil, fmt.Errorf("open %s: %w", walked, err)
		}
		unix.Close(fd)
		fd = next
	}
	return os.NewFile(uintptr(fd), walked), nil
}

func openNoFollow(dirfd int, name string) (int, error) {
	return unix.Openat(dirfd, name, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
}

func isSymlinkAt(dirfd int, name string) bool {
	var st unix.Stat_t
	return unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK
}

// procFDWorks reports whether /proc/self/fd reaches our own descriptors: not
// so in a container's new root before it has mounted a /proc.
func procFDWorks() bool {
	var st unix.Statfs_t
	return unix.Statfs("/proc/self/fd", &st) == nil && st.Type == unix.PROC_SUPER_MAGIC
}

// onFile runs op with a path that the kernel resolves to exactly f, or to
// name inside f when name is not empty: /proc/self/fd/N[/name], the magic
// link to the open file. Where there is no /proc yet, it changes the
// working directory to f and passes "." (or name) instead, and changes it
// back after.
func onFile(f *os.File, name string, op func(path string) error) error {
	if procFDWorks() {
		p := fmt.Sprintf("/proc/self/fd/%d", f.Fd())
		if name != "" {
			p += "/" + name
		}
		return op(p)
	}
	cwd, err := unix.Open(".", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(cwd)
	if err := unix.Fchdir(int(f.Fd())); err != nil {
		return fmt.Errorf("no /proc, and cannot chdir to %s: %w", f.Name(), err)
	}
	defer unix.Fchdir(cwd)
	if name == "" {
		name = "."
	}
	return op(name)
}
