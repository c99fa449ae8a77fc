package procfs

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Mount is one line of /proc/<pid>/mountinfo (proc(5)):
//
//	36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//	(1)(2) (3)   (4)   (5)      (6)      (7)   (8)  (9)    (10)         (11)
type Mount struct {
	ID, Parent   int    // (1), (2)
	Major, Minor int    // (3) the device of the filesystem
	Root         string // (4) the directory of the filesystem mounted here
	Point        string // (5) the mount point
	Options      string // (6) per-mount options ("rw,nosuid")
	// Optional are the fields of (7): shared:N, master:N,
	// propagate_from:N, unbindable (mount_namespaces(7)).
	Optional []string
	Type     string // (9) filesystem type, "ext4" or "fuse.sshfs"
	Source   string // (10) "/dev/sda1", "proc", "overlay"
	Super    string // (11) per-superblock options
}

// Propagation is what findmnt -o PROPAGATION says: "private" when the line
// has no optional fields, else the fields ("shared:1 master:2").
func (m Mount) Propagation() string {
	if len(m.Optional) == 0 {
		return "private"
	}
	return strings.Join(m.Optional, " ")
}

// Shared reports whether the mount is in a peer group (a shared:N field):
// mounts and unmounts under it propagate to its peers.
func (m Mount) Shared() bool {
	for _, o := range m.Optional {
		if strings.HasPrefix(o, "shared:") {
			return true
		}
	}
	return false
}

// ReadOnly reports whether the mount itself is read-only (the per-mount
// "ro" option, which `mount -o remount,bind,ro` sets).
func (m Mount) ReadOnly() bool {
	for _, o := range strings.Split(m.Options, ",") {
		if o == "ro" {
			return true
		}
	}
	return false
}

// Line is the line mount(8) prints for m, with the per-mount options.
func (m Mount) Line() string {
	return fmt.Sprintf("%s on %s type %s (%s)", m.Source, m.Point, m.Type, m.Options)
}

// ParseMountinfo parses the text of a mountinfo file.
func ParseMountinfo(r io.Reader) ([]Mount, error) {
	var out []Mount
	sc := bufio.NewScanner(r)
	// A line holds up to four paths of up to PATH_MAX each, plus options.
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" {
			continue
		}
		m, err := parseMountLine(line)
		if err != nil {
			return nil, fmt.Errorf("mountinfo line %d: %q: %w", n, line, err)
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("mountinfo: %w", err)
	}
	return out, nil
}

func parseMountLine(line string) (Mount, error) {
	// The optional fields end at a lone "-"; paths cannot hold a bare
	// space (the kernel writes \040), so " - " is unambiguous.
	pre, post, ok := strings.Cut(line, " - ")
	f, p := strings.Fields(pre), strings.Fields(post)
	if !ok || len(f) < 6 || len(p) < 2 {
		return Mount{}, fmt.Errorf("want 6 fields, \" - \", type and source")
	}
	id, err1 := strconv.Atoi(f[0])
	parent, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil {
		return Mount{}, fmt.Errorf("mount IDs %q %q are not numbers", f[0], f[1])
	}
	maj, min, ok := strings.Cut(f[2], ":")
	major, err1 := strconv.Atoi(maj)
	minor, err2 := strconv.Atoi(min)
	if !ok || err1 != nil || err2 != nil {
		return Mount{}, fmt.Errorf("device %q is not major:minor", f[2])
	}
	m := Mount{
		ID: id, Parent: parent, Major: major, Minor: minor,
		Root: Unescape(f[3]), Point: Unescape(f[4]), Options: f[5],
		Type: Unescape(p[0]), Source: Unescape(p[1]),
	}
	if len(f) > 6 {
		m.Optional = f[6:]
	}
	if len(p) > 2 {
		m.Super = p[2]
	}
	return m, nil
}

// Unescape undoes the octal escapes (\040 for a space, \011 tab, \012
// newline, \134 backslash) the kernel writes in mountinfo's paths
// (fs/proc_namespace.c, mangle()).
func Unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
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

// ReadMountinfo reads /proc/<pid>/mountinfo.
func ReadMountinfo(pid string) ([]Mount, error) {
	f, err := os.Open("/proc/" + pid + "/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("read mount table: %w", err)
	}
	defer f.Close()
	return ParseMountinfo(f)
}

// Mounts is a mount table, in the kernel's order: a mount comes after the
// mount it sits on.
type Mounts []Mount

// At returns the mount at point that is seen there: of several stacked at
// one point, the last listed, which is on top.
func (ms Mounts) At(point string) (Mount, bool) {
	var top Mount
	found := false
	for _, m := range ms {
		if m.Point == point {
			top, found = m, true
		}
	}
	return top, found
}

// Under lists the mounts at dir or below it, in table order.
func (ms Mounts) Under(dir string) Mounts {
	prefix := strings.TrimSuffix(dir, "/") + "/"
	var out Mounts
	for _, m := range ms {
		if m.Point == dir || strings.HasPrefix(m.Point, prefix) {
			out = append(out, m)
		}
	}
	return out
}
