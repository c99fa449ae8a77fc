//go:build linux

package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/mount"
)

// mount mounts c's union at c.Merged: its init layer on top of the image's
// layers (all read-only, top first), and c.Upper as the writable layer.
func (l *lab) mount(c *container) error {
	o := Overlay{Lower: append([]string{c.Init}, l.lowerDirs()...), Upper: c.Upper, Work: c.Work}
	m, err := o.Mount(c.Merged, l.PageSize)
	if err != nil {
		return err
	}
	mounted, err := mount.MountAll("/", []mount.Mount{m}, nil)
	if err != nil {
		return err
	}
	c.overlay, c.unmount = m, mounted.Unmount
	return nil
}

// layerRef is one layer of a container's stack, named for tables.
type layerRef struct {
	Name string // "upper", "init", "3-cleanup", ...
	Dir  string
}

// stack is c's layers top first: upper, init, then the image's.
func (l *lab) stack(c *container) []layerRef {
	refs := []layerRef{{"upper", c.Upper}, {"init", c.Init}}
	for i := len(l.Layers) - 1; i >= 0; i-- {
		refs = append(refs, layerRef{l.Layers[i].Name, l.Layers[i].Dir})
	}
	return refs
}

// origin is where a path of the union comes from, as resolve finds it.
type origin struct {
	// From are the layers (indexes into the stack, top first) the path is
	// taken from: one for a file, every merged one for a directory.
	From []int
	// Hidden are lower layers that have the name too, but are not seen.
	Hidden []int
	// WhiteoutIn is the layer whose whiteout deletes the name, or -1.
	WhiteoutIn int
	// OpaqueIn is the layer whose opaque directory hides the ones below, or -1.
	OpaqueIn int
}

// resolve looks rel up in a stack of layer directories (top first) the way
// overlayfs does (fs/overlayfs/namei.c: ovl_lookup), one path component at
// a time: the first layer that has the name decides; a whiteout there
// means the name does not exist; a directory is merged with the
// directories of the same name below it, down to the first opaque one; a
// file hides whatever is below it.
func resolve(layers []string, rel string) (origin, error) {
	comps := strings.Split(strings.Trim(filepath.ToSlash(rel), "/"), "/")
	candidates := make([]int, len(layers))
	for i := range candidates {
		candidates[i] = i
	}
	for k := range comps {
		p := filepath.Join(comps[:k+1]...)
		o := origin{WhiteoutIn: -1, OpaqueIn: -1}
		stopped, isFile := false, false
		for _, i := range candidates {
			var st unix.Stat_t
			full := filepath.Join(layers[i], p)
			if err := unix.Lstat(full, &st); err != nil {
				if err == unix.ENOENT || err == unix.ENOTDIR {
					continue
				}
				return o, fmt.Errorf("stat %s: %w", full, err)
			}
			if stopped {
				o.Hidden = append(o.Hidden, i)
				continue
			}
			switch mode := st.Mode & unix.S_IFMT; {
			case mode == unix.S_IFCHR && st.Rdev == 0,
				mode == unix.S_IFREG && st.Size == 0 && xattr(full, xattrWhiteout) != "":
				if len(o.From) == 0 {
					o.WhiteoutIn = i
				}
				stopped = true
			case mode == unix.S_IFDIR:
				o.From = append(o.From, i)
				if xattr(full, xattrOpaque) == "y" {
					o.OpaqueIn = i
					stopped = true
				}
			default:
				if len(o.From) == 0 {
					o.From, isFile = []int{i}, true
				} else {
					o.Hidden = append(o.Hidden, i)
				}
				stopped = true
			}
		}
		if k == len(comps)-1 {
			return o, nil
		}
		if isFile || len(o.From) == 0 {
			return origin{WhiteoutIn: o.WhiteoutIn, OpaqueIn: -1}, nil
		}
		candidates = o.From
	}
	return origin{WhiteoutIn: -1, OpaqueIn: -1}, nil
}

// explain says in words where a path comes from.
func (o origin) explain(refs []layerRef) string {
	names := func(idx []int) string {
		var n []string
		for _, i := range idx {
			n = append(n, refs[i].Name)
		}
		return strings.Join(n, ", ")
	}
	switch {
	case len(o.From) == 0 && o.WhiteoutIn >= 0:
		s := "deleted: whiteout in " + refs[o.WhiteoutIn].Name
		if len(o.Hidden) > 0 {
			s += " hides " + names(o.Hidden)
		}
		return s
	case len(o.From) == 0:
		return "in no layer"
	case o.OpaqueIn >= 0 && len(o.From) == 1:
		return refs[o.From[0]].Name + ", opaque: hides " + names(o.Hidden)
	case len(o.From) > 1:
		s := "merged: " + names(o.From)
		if len(o.Hidden) > 0 {
			s += "; hides " + names(o.Hidden)
		}
		return s
	case len(o.Hidden) > 0:
		return refs[o.From[0]].Name + ", hides " + names(o.Hidden)
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

// mountedAt reads /proc/self/mountinfo (proc(5)) for the mount at target:
// its type and the filesystem's own options, or ok false.
func mountedAt(target string) (fstype, options string, ok bool, err error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", "", false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		// 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
		pre, post, found := strings.Cut(sc.Text(), " - ")
		if !found {
			continue
		}
		f, p := strings.Fields(pre), strings.Fields(post)
		if len(f) < 5 || len(p) < 3 || unescapeOctal(f[4]) != target {
			continue
		}
		fstype, options, ok = p[0], p[2], true // the last mount at target is the one seen
	}
	return fstype, options, ok, sc.Err()
}

// unescapeOctal undoes mountinfo's \040-style escapes of spaces, tabs,
// newlines and backslashes in paths.
func unescapeOctal(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

// layerOptions picks lowerdir=, upperdir= and workdir= out of an overlay's
// options as the kernel shows them, leaving out the ones that differ between
// kernels (uuid=, xino=, redirect_dir=...).
func layerOptions(options string) string {
	var keep []string
	for _, o := range strings.Split(options, ",") {
		for _, k := range []string{"lowerdir=", "upperdir=", "workdir="} {
			if strings.HasPrefix(o, k) {
				keep = append(keep, o)
			}
		}
	}
	return strings.Join(keep, ",")
}

// mergedRows are the paths step 3 looks up, each chosen to show one rule.
var mergedRows = []string{"/etc", "/etc/hostname", "/etc/passwd", "/etc/group", "/etc/motd", "/srv/www", "/var/cache/app"}

func (l *lab) stepMount(s *kit.Session) error {
	c := l.container("a")
	if err := l.mount(c); err != nil {
		return err
	}
	s.Cmd("mkdir -p %s %s %s", l.rel(c.Upper), l.rel(c.Work), l.rel(c.Merged))
	s.Cmd("%s", c.overlay)
	refs := l.stack(c)
	var rows [][]string
	for i, r := range refs[1:] {
		role := "read-only"
		switch i {
		case 0:
			role = "read-only, top: hides what is below it"
		case len(refs) - 2:
			role = "read-only, bottom"
		}
		rows = append(rows, []string{fmt.Sprintf("lowerdir %d", i+1), l.rel(r.Dir), role})
	}
	rows = append(rows,
		[]string{"upperdir", l.rel(c.Upper), "read-write: every change lands here"},
		[]string{"workdir", l.rel(c.Work), "overlayfs's scratch space, same filesystem as upperdir"})
	s.Table([]string{"option", "directory", "role"}, rows)

	fstype, _, ok, err := mountedAt(c.Merged)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%s is not in /proc/self/mountinfo after mounting it", c.Merged)
	}
	s.Cmd("grep %s /proc/self/mountinfo", l.rel(c.Merged))
	s.Host("%s on %s type %s", c.overlay.Source, c.Merged, fstype)

	dirs := make([]string, len(refs))
	for i, r := range refs {
		dirs[i] = r.Dir
	}
	rows = nil
	for _, p := range mergedRows {
		o, err := resolve(dirs, p)
		if err != nil {
			return err
		}
		rows = append(rows, []string{p, look(filepath.Join(c.Merged, p)), o.explain(refs)})
	}
	s.Cmd("(cd %s && ls etc srv/www var/cache/app; cat etc/hostname etc/passwd etc/group etc/motd)", l.rel(c.Merged))
	s.Table([]string{"path", "in merged/", "comes from"}, rows)
	s.Note("One tree from five directories. The top layer that has a name wins; directories merge, down to an\n" +
		"opaque one; a whiteout deletes the name for everything below it. lowerdir lists the top first.")
	return nil
}

// hostMounts lists our overlay mounts under root, for the clean-up check.
func hostMounts(root string) ([]string, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 {
			if p := unescapeOctal(f[4]); p == root || strings.HasPrefix(p, root+"/") {
				out = append(out, p)
			}
		}
	}
	slices.Sort(out)
	return out, nil
}
