package overlay

import (
	"errors"
	"fmt"
	"strings"

	"github.com/unboxlab/unbox/internal/procfs"
)

// How an overlay is mounted can be read back from the mount table: the
// kernel lists its layers among the superblock options of the mount's line
// in /proc/<pid>/mountinfo (fs/overlayfs/params.c: ovl_show_options). It
// shows each option value as it was given, escapes and all, and escapes it
// once more for the table (seq_show_option: octal \054 for a comma, \040 for
// a space, \134 for a backslash, ...). So a value is read back by undoing
// those two escapes in turn: procfs.Unescape, then overlayfs's own.
//
// Note that anyone who can read a container's mountinfo, the container
// itself included, sees the host paths of all its layers this way.

// Mounted returns the layers of the overlay mounted at point, as the mount
// table of process pid ("self", or a number) shows them. Of several mounts
// stacked at point, the top one counts.
func Mounted(pid, point string) (Layers, error) {
	ms, err := procfs.ReadMountinfo(pid)
	if err != nil {
		return Layers{}, err
	}
	m, ok := procfs.Mounts(ms).At(point)
	if !ok {
		return Layers{}, fmt.Errorf("overlay: nothing is mounted at %s (in /proc/%s/mountinfo)", point, pid)
	}
	return FromMount(m)
}

// FromMount reads the layers of m, a line of a mount table.
func FromMount(m procfs.Mount) (Layers, error) {
	if m.Type != FSType {
		return Layers{}, fmt.Errorf("overlay: %s is a %s mount, not an overlay", m.Point, m.Type)
	}
	l, err := ParseOptions(m.Super)
	if err != nil {
		return Layers{}, fmt.Errorf("%s: %w", m.Point, err)
	}
	return l, nil
}

// ParseOptions reads the layers out of an overlay's superblock options as
// mountinfo shows them ("rw,lowerdir=...,upperdir=...,workdir=...,uuid=on"),
// ignoring every other option. It reads both ways of naming the lower
// layers: one lowerdir= list, and (Linux 6.8 onwards, through fsconfig(2))
// one lowerdir+= per layer. Paths come back as the mounter gave them: a
// relative one (containerd's way round the page limit) stays relative to a
// directory the table does not record. Data-only layers ("::" or
// datadir+=) are refused: unbox does not use them, and a caller that
// ignored them would get the union wrong.
func ParseOptions(super string) (Layers, error) {
	var l Layers
	// Commas inside values are escaped (\054), so every comma here ends an
	// option.
	for _, opt := range strings.Split(super, ",") {
		key, value, _ := strings.Cut(opt, "=")
		value = procfs.Unescape(value)
		switch key {
		case "lowerdir":
			lower, err := splitLower(value)
			if err != nil {
				return Layers{}, err
			}
			l.Lower = append(l.Lower, lower...)
		case "lowerdir+":
			// One path, not escaped by overlayfs (ovl_mount_dir_noesc).
			l.Lower = append(l.Lower, value)
		case "datadir+":
			return Layers{}, fmt.Errorf("overlay: data-only lower layer %q (datadir+): not supported", value)
		case "upperdir":
			l.Upper = unescapePath(value)
		case "workdir":
			l.Work = unescapePath(value)
		}
	}
	if len(l.Lower) == 0 {
		return Layers{}, fmt.Errorf("overlay: no lowerdir in options %q", super)
	}
	return l, nil
}

// splitLower splits a lowerdir= value at its unescaped colons and unescapes
// each path, as ovl_parse_param_split_lowerdirs and ovl_unescape do.
func splitLower(value string) ([]string, error) {
	var out []string
	var b strings.Builder
	for i := 0; i < len(value); i++ {
		switch c := value[i]; {
		case c == '\\' && i+1 < len(value):
			i++
			b.WriteByte(value[i])
		case c == ':':
			if b.Len() == 0 {
				return nil, fmt.Errorf("overlay: lowerdir %q has an empty layer (\"::\" marks data-only layers, which are not supported)", value)
			}
			out = append(out, b.String())
			b.Reset()
		default:
			b.WriteByte(c)
		}
	}
	if b.Len() == 0 {
		return nil, errors.New("overlay: lowerdir ends in an empty layer")
	}
	return append(out, b.String()), nil
}

// unescapePath undoes escapePath: a backslash takes the next byte as it is
// (ovl_unescape).
func unescapePath(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
