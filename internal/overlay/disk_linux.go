package overlay

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"
)

// Resolve looks name (relative to the union's root, slash-separated) up in
// stack, a union's layer directories top first ([Layers.Stack]), the way
// overlayfs does, and says where the union takes it from. It reads the
// layers, not a mount: the union need not be mounted.
func Resolve(stack []string, name string) (Origin, error) {
	return resolve(len(stack), name, diskLookup(stack))
}

// ReadDir lists the names in directory dir of the union of stack, sorted,
// as readdir(3) returns them through a mount: for a merged directory, the
// names of every merged layer, each once, without whiteouts and without
// what they delete. A directory that only one layer holds is not merged,
// and the kernel lists that layer's directory as it is (overlayfs.rst,
// "readdir"): a whiteout in it, which deletes nothing since no layer below
// has the directory, is listed though it cannot be looked up (ls shows
// "c?????????"). Such stray whiteouts never come from overlayfs itself,
// only from layers written by hand or unpacked from a tar that holds them.
func ReadDir(stack []string, dir string) ([]string, error) {
	list := func(i int, dir string) ([]string, error) {
		entries, err := os.ReadDir(filepath.Join(stack[i], filepath.FromSlash(dir)))
		names := make([]string, len(entries))
		for j, e := range entries {
			names[j] = e.Name()
		}
		return names, err
	}
	return readDir(len(stack), dir, diskLookup(stack), list)
}

func diskLookup(stack []string) lookupFunc {
	return func(i int, name string) (entry, error) {
		// Every parent of name is a directory in this layer (lookupIn only
		// descends into those), so no symlink is followed on the way.
		return readEntry(filepath.Join(stack[i], filepath.FromSlash(name)))
	}
}

// ReadMarker says what the entry at p, in a layer dir or an upper dir, is
// to overlayfs: a Whiteout (a character device 0/0, or an empty regular
// file with trusted.overlay.whiteout in a directory whose
// trusted.overlay.opaque is "x", on kernels that read that form), an Opaque
// directory (trusted.overlay.opaque="y"), or NoMarker. It does not follow a
// symbolic link at p. An entry with a redirect or metacopy xattr is
// [ErrUnsupported]: an upper dir holding one does not describe its changes
// on its own, so it cannot be committed.
//
// p is read with lstat(2) and the xattr calls, not confined to a root: it
// is meant for the runtime's own walk of its own directories. Writing
// markers where a layer tar says ([WriteMarker]) is confined.
func ReadMarker(p string) (Marker, error) {
	e, err := readEntry(p)
	if err != nil {
		return NoMarker, err
	}
	if !e.exists {
		return NoMarker, &os.PathError{Op: "lstat", Path: p, Err: unix.ENOENT}
	}
	return e.marker, nil
}

func readEntry(p string) (entry, error) {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
			return entry{}, nil
		}
		return entry{}, &os.PathError{Op: "lstat", Path: p, Err: err}
	}
	e := entry{exists: true}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFCHR:
		if st.Rdev == 0 {
			e.marker = Whiteout
		}
	case unix.S_IFDIR:
		e.dir = true
		names, err := xattrNames(p)
		if err != nil {
			return entry{}, err
		}
		if names[redirectXattr] {
			return entry{}, fmt.Errorf("%s: %s is set: %w", p, redirectXattr, ErrUnsupported)
		}
		if names[OpaqueXattr] && getxattr(p, OpaqueXattr) == "y" {
			e.marker = Opaque
		}
	case unix.S_IFREG:
		names, err := xattrNames(p)
		if err != nil {
			return entry{}, err
		}
		if names[metacopyXattr] {
			return entry{}, fmt.Errorf("%s: %s is set: %w", p, metacopyXattr, ErrUnsupported)
		}
		if st.Size == 0 && names[WhiteoutXattr] && xattrWhiteouts() && getxattr(filepath.Dir(p), OpaqueXattr) == "x" {
			e.marker = Whiteout
		}
	}
	return e, nil
}

// xattrNames lists the xattrs of p itself (llistxattr(2)); a filesystem
// without xattrs has none.
func xattrNames(p string) (map[string]bool, error) {
	buf := make([]byte, 1024)
	for {
		n, err := unix.Llistxattr(p, buf)
		switch {
		case errors.Is(err, unix.ERANGE):
			buf = make([]byte, 2*len(buf))
			continue
		case errors.Is(err, unix.ENOTSUP):
			return nil, nil
		case err != nil:
			return nil, &os.PathError{Op: "llistxattr", Path: p, Err: err}
		}
		names := map[string]bool{}
		for _, name := range bytes.Split(buf[:n], []byte{0}) {
			if len(name) > 0 {
				names[string(name)] = true
			}
		}
		return names, nil
	}
}

// getxattr is one xattr of p itself, or "" when it is not set.
func getxattr(p, name string) string {
	buf := make([]byte, 64)
	n, err := unix.Lgetxattr(p, name, buf)
	if err != nil {
		return ""
	}
	return string(buf[:n])
}

// xattrWhiteouts reports whether the running kernel reads an empty regular
// file with trusted.overlay.whiteout as a whiteout, which Linux 6.7 added
// (overlayfs.rst, "Nesting overlayfs mounts"). Older kernels show it as the
// empty file it is, and so does the model there.
var xattrWhiteouts = sync.OnceValue(func() bool {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return true
	}
	return kernelAtLeast(unix.ByteSliceToString(u.Release[:]), 6, 7)
})

// WriteMarker writes m in disk form at name (slash-separated, relative to
// the layer directory root): for a Whiteout, a character device 0/0 made
// with mknod(2), as overlayfs itself makes them (overlayfs.rst); for an
// Opaque directory, trusted.overlay.opaque="y" set with setxattr(2),
// creating the directory (0755) if the layer does not hold it yet. It needs
// CAP_MKNOD (or Linux 5.8+, which lets anyone make a 0/0 device) and
// CAP_SYS_ADMIN for the xattr, on a filesystem with trusted.* xattrs.
//
// name usually comes from a layer tar (whiteout.FromTar), which the
// image's author controls, so every step is confined to root: a ".." or a
// symbolic link that leads out of the layer is an error (os.Root), and the
// directory made opaque must be a directory itself, not a link to one.
//
// A whiteout of a name that the layer already holds is not written: a
// whiteout deletes the name only in the layers below, and the layer's own
// entry hides those already (OCI image-spec, layer.md, "Whiteouts"). An
// extractor that meets the entry after its whiteout replaces the device
// with it, as it replaces any existing file.
func WriteMarker(root *os.Root, name string, m Marker) error {
	rel, err := CleanName(name)
	if err != nil {
		return err
	}
	if rel == "." {
		if m == Opaque {
			return fmt.Errorf("%s: an opaque root hides every layer below, which overlayfs cannot express "+
				"(it merges the roots of its layers whatever their xattrs): stack this layer as the bottom one", root.Name())
		}
		return fmt.Errorf("%s: the root of a layer cannot be a %v", root.Name(), m)
	}
	full := filepath.Join(root.Name(), rel) // for messages only
	dir, base := path.Split(rel)
	if dir == "" {
		dir = "."
	}
	switch m {
	case Whiteout:
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		return inDir(root, dir, func(fd int) error {
			err := unix.Mknodat(fd, base, unix.S_IFCHR, 0)
			if errors.Is(err, unix.EEXIST) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("%s: %w", Whiteout.Command(full), err)
			}
			return nil
		})
	case Opaque:
		if err := root.MkdirAll(rel, 0o755); err != nil {
			return err
		}
		return inDir(root, dir, func(fd int) error {
			d, err := unix.Openat(fd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err != nil {
				return fmt.Errorf("open %s: %w (an opaque marker needs a directory, not a link or a file)", full, err)
			}
			defer unix.Close(d)
			if err := unix.Fsetxattr(d, OpaqueXattr, []byte("y"), 0); err != nil {
				return fmt.Errorf("%s: %w (the layer's filesystem must support trusted.* xattrs, and this needs CAP_SYS_ADMIN)", Opaque.Command(full), err)
			}
			return nil
		})
	}
	return fmt.Errorf("%s: cannot write %v", full, m)
}

// inDir calls fn with a file descriptor of directory dir inside root.
func inDir(root *os.Root, dir string, fn func(fd int) error) error {
	f, err := root.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	sc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := sc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}
