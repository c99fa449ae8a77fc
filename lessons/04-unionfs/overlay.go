//go:build linux

package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/unboxlab/unbox/internal/mount"
)

// An overlay mount is data first (see internal/kit/mount_linux.go): the
// layers, top first, a writable upper dir and an empty work dir, turned into
// the one options string mount(2) takes. Building that string is pure, so
// its two traps are tested without root: paths that contain the option
// separators, and the length limit of the string as a whole.

// maxLowerLayers is the kernel's OVL_MAX_STACK (fs/overlayfs/params.h): a
// lowerdir= list naming more directories is refused.
const maxLowerLayers = 500

// Overlay is one overlayfs mount: the read-only layers, top first as
// lowerdir= lists them, the container's writable upper dir, and the empty
// work dir overlayfs needs on the same filesystem as the upper dir
// (Documentation/filesystems/overlayfs.rst).
type Overlay struct {
	Lower []string // top first: Lower[0] hides Lower[1], and so on
	Upper string
	Work  string
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
// string is cut short without a word, and the mount fails on a truncated
// path or, worse, succeeds with the wrong one. So a string longer than
// pageSize-1 bytes is an error here, before any system call.
func (o Overlay) Options(pageSize int) (string, error) {
	switch {
	case len(o.Lower) == 0:
		return "", errors.New("overlay: no lower layers (lowerdir= needs at least one directory)")
	case len(o.Lower) > maxLowerLayers:
		return "", fmt.Errorf("overlay: %d lower layers; the kernel stacks at most %d (OVL_MAX_STACK): squash some layers into one", len(o.Lower), maxLowerLayers)
	case (o.Upper == "") != (o.Work == ""):
		return "", fmt.Errorf("overlay: upperdir %q and workdir %q go together: give both (read-write) or neither (read-only)", o.Upper, o.Work)
	}
	check := func(what, p string) error {
		if p == "" || !filepath.IsAbs(p) {
			return fmt.Errorf("overlay: %s %q is not an absolute path", what, p)
		}
		return nil
	}
	lower := make([]string, len(o.Lower))
	for i, l := range o.Lower {
		if err := check("lowerdir", l); err != nil {
			return "", err
		}
		lower[i] = escapeOverlayPath(l)
	}
	opts := "lowerdir=" + strings.Join(lower, ":")
	if o.Upper != "" {
		if err := check("upperdir", o.Upper); err != nil {
			return "", err
		}
		if err := check("workdir", o.Work); err != nil {
			return "", err
		}
		opts += ",upperdir=" + escapeOverlayPath(o.Upper) + ",workdir=" + escapeOverlayPath(o.Work)
	}
	if max := pageSize - 1; len(opts) > max {
		return "", &OptionsTooLongError{Len: len(opts), Max: max, PageSize: pageSize, Layers: len(o.Lower)}
	}
	return opts, nil
}

// escapeOverlayPath escapes the bytes overlayfs's option parser treats
// specially: the backslash itself, the colon between lower layers and the
// comma between options.
func escapeOverlayPath(p string) string {
	return overlayEscaper.Replace(p)
}

var overlayEscaper = strings.NewReplacer(`\`, `\\`, `:`, `\:`, `,`, `\,`)

// OptionsTooLongError says the options do not fit in the one page mount(2)
// copies, and what to do about it.
type OptionsTooLongError struct {
	Len, Max, PageSize, Layers int
}

func (e *OptionsTooLongError) Error() string {
	return fmt.Sprintf("overlay options are %d bytes for %d lower layers, but mount(2) reads at most %d "+
		"(one %d-byte page, ending in a NUL) and would silently cut off the rest: "+
		"use shorter layer paths (a shorter base directory, or short symlinks to the layers as Docker's "+
		"overlay2 driver keeps in its l/ directory), mount fewer layers, or, on Linux 6.8 and later, "+
		"add the layers one at a time with the new mount API (fsconfig(2) \"lowerdir+\", up to 255 bytes per path)",
		e.Len, e.Layers, e.Max, e.PageSize)
}

// Mount is o as a mount on target, ready for mount.MountAll; Mount.String()
// is the command a person would type.
func (o Overlay) Mount(target string, pageSize int) (mount.Mount, error) {
	opts, err := o.Options(pageSize)
	if err != nil {
		return mount.Mount{}, err
	}
	return mount.Mount{Source: "overlay", Target: target, Type: "overlay", Data: opts}, nil
}
