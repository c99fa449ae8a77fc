//go:build linux

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/mount"
	"github.com/unboxlab/unbox/internal/overlay"
	"github.com/unboxlab/unbox/internal/procfs"
)

// mount mounts c's union at c.Merged: its init layer on top of the image's
// layers (all read-only, top first), and c.Upper as the writable layer. The
// mount.Mount it applies is the one the lesson prints (c.overlay).
func (l *lab) mount(c *container) error {
	c.layers = overlay.Layers{Lower: append([]string{c.Init}, l.lowerDirs()...), Upper: c.Upper, Work: c.Work}
	opts, err := c.layers.Options(l.PageSize)
	if err != nil {
		return err
	}
	m := mount.Mount{Source: overlay.FSType, Target: c.Merged, Type: overlay.FSType, Data: opts}
	mounted, err := mount.MountAll("/", []mount.Mount{m}, nil)
	if err != nil {
		return fmt.Errorf("%w%s", err, overlay.MountHint(err))
	}
	c.overlay, c.unmount = m, mounted.Unmount
	return nil
}

// mountCommand is the mount c.overlay makes, as a person would type it in
// the lab's directory (step 1 cd's there): the lesson mounts the absolute
// paths, which do not fit a line, and these name the same directories.
// The lower layers go in a variable, and the line folds between arguments,
// where a shell allows it.
func (l *lab) mountCommand(c *container) string {
	var lower []string
	for _, d := range c.layers.Lower {
		lower = append(lower, l.rel(d))
	}
	return fmt.Sprintf("L=%s\n"+
		"mount -t overlay overlay -o lowerdir=$L,upperdir=%s,workdir=%s \\\n"+
		"    %s", strings.Join(lower, ":"), l.rel(c.Upper), l.rel(c.Work), l.rel(c.Merged))
}

// layerRef is one layer of a container's stack, named for tables.
type layerRef struct {
	Name string // "upper", "init", "3-cleanup", ...
	Dir  string
}

// stack is c's layers top first, as mounted (overlay.Layers.Stack): upper,
// init, then the image's, each with its name.
func (l *lab) stack(c *container) []layerRef {
	names := map[string]string{c.Upper: "upper", c.Init: "init"}
	for _, layer := range l.Layers {
		names[layer.Dir] = layer.Name
	}
	var refs []layerRef
	for _, dir := range c.layers.Stack() {
		refs = append(refs, layerRef{names[dir], dir})
	}
	return refs
}

// explain says in words where a path comes from; t formats them (the
// session's T, or fmt.Sprintf).
func explain(o overlay.Origin, refs []layerRef, t func(string, ...any) string) string {
	names := func(idx []int) string {
		var n []string
		for _, i := range idx {
			n = append(n, refs[i].Name)
		}
		return strings.Join(n, ", ")
	}
	switch {
	case len(o.From) == 0 && o.WhiteoutIn >= 0 && len(o.Hidden) > 0:
		return t("deleted: whiteout in %s hides %s", refs[o.WhiteoutIn].Name, names(o.Hidden))
	case len(o.From) == 0 && o.WhiteoutIn >= 0:
		return t("deleted: whiteout in %s", refs[o.WhiteoutIn].Name)
	case len(o.From) == 0:
		return t("in no layer")
	case o.OpaqueIn >= 0 && len(o.From) == 1:
		return t("%s, opaque: hides %s", refs[o.From[0]].Name, names(o.Hidden))
	case len(o.From) > 1 && len(o.Hidden) > 0:
		return t("merged: %s; hides %s", names(o.From), names(o.Hidden))
	case len(o.From) > 1:
		return t("merged: %s", names(o.From))
	case len(o.Hidden) > 0:
		return t("%s, hides %s", refs[o.From[0]].Name, names(o.Hidden))
	}
	return refs[o.From[0]].Name
}

// look is what `cat` or `ls` shows for a path of a merged tree, in one line.
func look(p string) string {
	fi, err := os.Lstat(p)
	if err != nil {
		return "no such file or directory"
	}
	if fi.IsDir() {
		entries, err := os.ReadDir(p)
		if err != nil {
			return err.Error()
		}
		if len(entries) == 0 {
			return "(empty directory)"
		}
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		return strings.Join(names, " ")
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return err.Error()
	}
	return oneLine(string(b))
}

// oneLine shows a file's text on one line: the line itself, or the count
// and the last line.
func oneLine(text string) string {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	if len(lines) == 1 {
		return lines[0]
	}
	return fmt.Sprintf("%d lines, last: %s", len(lines), lines[len(lines)-1])
}

// mergedRows are the paths step 3 looks up, each chosen to show one rule.
var mergedRows = []string{"/etc", "/etc/hostname", "/etc/passwd", "/etc/group", "/etc/motd", "/srv/www", "/var/cache/app"}

func (l *lab) stepMount(s *kit.Session) error {
	c := l.container("a")
	if err := l.mount(c); err != nil {
		return err
	}
	s.Cmd("mkdir -p %s %s %s", l.rel(c.Upper), l.rel(c.Work), l.rel(c.Merged))
	s.Cmd("%s", l.mountCommand(c))
	refs := l.stack(c)
	var rows [][]string
	for i, r := range refs[1:] {
		role := s.T("read-only")
		switch i {
		case 0:
			role = s.T("read-only, top: hides what is below it")
		case len(refs) - 2:
			role = s.T("read-only, bottom")
		}
		rows = append(rows, []string{fmt.Sprintf("lowerdir %d", i+1), l.rel(r.Dir), role})
	}
	rows = append(rows,
		[]string{"upperdir", l.rel(c.Upper), s.T("read-write: every change lands here")},
		[]string{"workdir", l.rel(c.Work), s.T("overlayfs's scratch space, same filesystem as upperdir")})
	s.Table([]string{"option", "directory", "role"}, rows)

	m, err := mountedAt(c.Merged)
	if err != nil {
		return err
	}
	// The kernel's own record of the layers, read back through procfs,
	// must be the layers the lesson mounted.
	if got, err := overlay.FromMount(m); err != nil || !slices.Equal(got.Stack(), c.layers.Stack()) || got.Work != c.Work {
		return fmt.Errorf("/proc/self/mountinfo shows %s with layers %+v (%v); the lesson mounted %+v", c.Merged, got, err, c.layers)
	}
	s.Cmd("grep %s /proc/self/mountinfo", l.rel(c.Merged))
	s.Host("%s on %s type %s", m.Source, m.Point, m.Type)

	rows = nil
	for _, p := range mergedRows {
		o, err := overlay.Resolve(c.layers.Stack(), p)
		if err != nil {
			return err
		}
		rows = append(rows, []string{p, cellOf(s, look(filepath.Join(c.Merged, p)), 36), explain(o, refs, s.T)})
	}
	m2 := l.rel(c.Merged)
	s.Cmd("ls %s/{etc,srv/www,var/cache/app}\ncat %s/etc/{hostname,passwd,group,motd}", m2, m2)
	s.Table([]string{"path", "in merged/", "comes from"}, rows)
	s.Note("One tree from five directories. The top layer that has a name wins; directories merge, down\n" +
		"to an opaque one; a whiteout deletes the name for everything below it. lowerdir lists the top\n" +
		"first.")
	return nil
}

// mountedAt is the mount at target, as /proc/self/mountinfo lists it.
func mountedAt(target string) (procfs.Mount, error) {
	ms, err := procfs.ReadMountinfo("self")
	if err != nil {
		return procfs.Mount{}, err
	}
	m, ok := procfs.Mounts(ms).At(target)
	if !ok {
		return procfs.Mount{}, fmt.Errorf("%s is not in /proc/self/mountinfo", target)
	}
	return m, nil
}

// hostMounts lists the mount points at root or under it, for the clean-up
// check.
func hostMounts(root string) ([]string, error) {
	ms, err := procfs.ReadMountinfo("self")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range procfs.Mounts(ms).Under(root) {
		out = append(out, m.Point)
	}
	slices.Sort(out)
	return out, nil
}
