package overlay

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// FSType is the filesystem type of an overlay mount, as mount(2) takes it
// and as /proc/<pid>/mountinfo shows it. It is also the conventional
// source: `mount -t overlay ... overlay /merged`.
const FSType = "overlay"

// MaxLowerLayers is the kernel's OVL_MAX_STACK (fs/overlayfs/params.h): a
// lowerdir= list naming more directories is refused.
const MaxLowerLayers = 500

// Layers is one overlay mount as data: the read-only layers, the writable
// upper dir and overlayfs's work dir (Documentation/filesystems/overlayfs.rst,
// "Upper and Lower", "Multiple lower layers").
//
// Lower is top first, the order lowerdir= takes: Lower[0] hides Lower[1],
// which hides Lower[2], and so on. Upper and Work go together: both (a
// read-write union, every change lands in Upper) or neither (read-only).
// Work must be an empty directory on the same filesystem as Upper, and that
// filesystem must support trusted.* xattrs and d_type (not NFS, not
// overlayfs itself); the kernel checks that, and [Probe] checks it early.
type Layers struct {
	Lower []string
	Upper string
	Work  string
}

// ReadOnly reports whether the union has no upper dir.
func (l Layers) ReadOnly() bool { return l.Upper == "" }

// Stack is every layer of the union top first: the upper dir, if any, then
// the lower dirs. It is the order [Resolve] and [ReadDir] take, and the
// order in which overlayfs looks a name up.
func (l Layers) Stack() []string {
	var s []string
	if l.Upper != "" {
		s = append(s, l.Upper)
	}
	return append(s, l.Lower...)
}

// Options returns the options of `mount -t overlay`, as mount(2) takes them
// in its data argument: lowerdir=top:...:bottom,upperdir=...,workdir=...
//
// The kernel splits the string at commas and lowerdir at colons, and in
// both a backslash escapes the next byte (fs/overlayfs/params.c:
// ovl_next_opt, ovl_parse_param_split_lowerdirs, ovl_unescape; the same
// rules in Linux 6.1's super.c). So each path has `\`, `:` and `,` escaped.
//
// mount(2) copies its data argument into one page and overwrites the last
// byte with a NUL (fs/namespace.c: copy_mount_options, path_mount): a longer
// string would be cut short without a word, and the mount would fail on a
// truncated path or, worse, succeed with the wrong one. So a string longer
// than pageSize-1 bytes is an [*OptionsTooLongError] here, before any system
// call. pageSize is the kernel's, os.Getpagesize(): 4096 on x86-64, 4096,
// 16384 or 65536 on arm64.
//
// Paths must be absolute: a relative one would be resolved against the
// working directory of whichever process calls mount(2).
func (l Layers) Options(pageSize int) (string, error) {
	switch {
	case len(l.Lower) == 0:
		return "", errors.New("overlay: no lower layers (lowerdir= needs at least one directory)")
	case len(l.Lower) > MaxLowerLayers:
		return "", fmt.Errorf("overlay: %d lower layers; the kernel stacks at most %d (OVL_MAX_STACK): squash some layers into one", len(l.Lower), MaxLowerLayers)
	case (l.Upper == "") != (l.Work == ""):
		return "", fmt.Errorf("overlay: upperdir %q and workdir %q go together: give both (read-write) or neither (read-only)", l.Upper, l.Work)
	case l.Upper == "" && len(l.Lower) == 1:
		// The kernel refuses it and logs "at least 2 lowerdir are needed
		// while upperdir nonexistent" (fs/overlayfs/super.c).
		return "", fmt.Errorf("overlay: a read-only union of one layer (%s) is that layer: "+
			"bind-mount it read-only instead, as containerd's snapshotter does (overlayfs wants two lowerdirs without an upperdir)", l.Lower[0])
	}
	lower := make([]string, len(l.Lower))
	for i, dir := range l.Lower {
		if err := checkPath("lowerdir", dir); err != nil {
			return "", err
		}
		lower[i] = escapePath(dir)
	}
	opts := "lowerdir=" + strings.Join(lower, ":")
	if l.Upper != "" {
		if err := checkPath("upperdir", l.Upper); err != nil {
			return "", err
		}
		if err := checkPath("workdir", l.Work); err != nil {
			return "", err
		}
		opts += ",upperdir=" + escapePath(l.Upper) + ",workdir=" + escapePath(l.Work)
	}
	if max := pageSize - 1; len(opts) > max {
		return "", &OptionsTooLongError{Len: len(opts), Max: max, PageSize: pageSize, Layers: len(l.Lower)}
	}
	return opts, nil
}

func checkPath(option, p string) error {
	switch {
	case p == "" || !filepath.IsAbs(p):
		return fmt.Errorf("overlay: %s %q is not an absolute path", option, p)
	case strings.IndexByte(p, 0) >= 0:
		return fmt.Errorf("overlay: %s %q holds a NUL byte, which would end mount(2)'s options", option, p)
	}
	return nil
}

// escapePath escapes the bytes overlayfs's option parser treats specially:
// the backslash itself, the colon between lower layers and the comma
// between options.
func escapePath(p string) string { return escaper.Replace(p) }

var escaper = strings.NewReplacer(`\`, `\\`, `:`, `\:`, `,`, `\,`)

// OptionsTooLongError says the options do not fit in the one page mount(2)
// copies, and what to do about it.
type OptionsTooLongError struct {
	Len      int // bytes of options
	Max      int // bytes mount(2) reads: PageSize-1
	PageSize int
	Layers   int // lower layers
}

func (e *OptionsTooLongError) Error() string {
	return fmt.Sprintf("overlay options are %d bytes for %d lower layers, but mount(2) reads at most %d "+
		"(one %d-byte page, ending in a NUL) and would silently cut off the rest: "+
		"use shorter layer paths (a shorter base directory, short layer IDs, or short symlinks to the layers "+
		"as Docker's overlay2 driver keeps in its l/ directory), "+
		"or paths relative to the layers' common parent, as containerd does (it mounts from a child process "+
		"whose working directory is that parent; Layers takes absolute paths only, so that mount is the caller's own), "+
		"or mount fewer layers (squash some); "+
		"on Linux 6.8 and later the new mount API takes one layer per call (fsconfig(2) \"lowerdir+\", up to 255 bytes per path)",
		e.Len, e.Layers, e.Max, e.PageSize)
}
