//go:build linux

package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// mountInfo is one line of /proc/<pid>/mountinfo (proc(5)):
//
//	36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//	(1)(2) (3)   (4)   (5)      (6)      (7)   (8)  (9)    (10)         (11)
//
// Paths are relative to the root of the process whose file it is, and only
// mounts that process can reach are listed: reading another process's
// mountinfo from the host shows its view, not ours.
type mountInfo struct {
	ID, Parent int
	Root       string   // (4) the directory of the filesystem mounted here
	Point      string   // (5) the mount point
	Options    string   // (6) per-mount options
	Optional   []string // (7) shared:N, master:N, propagate_from:N, unbindable
	Type       string   // (9)
	Source     string   // (10)
	Super      string   // (11) per-superblock options
}

// propagation is what findmnt -o PROPAGATION says: "private" when the line
// has no optional fields, else the fields ("shared:1").
func (m mountInfo) propagation() string {
	if len(m.Optional) == 0 {
		return "private"
	}
	return strings.Join(m.Optional, " ")
}

func (m mountInfo) shared() bool {
	for _, o := range m.Optional {
		if strings.HasPrefix(o, "shared:") {
			return true
		}
	}
	return false
}

// mountLine is the line mount(8) prints for m, with the per-mount options.
func (m mountInfo) mountLine() string {
	return fmt.Sprintf("%s on %s type %s (%s)", m.Source, m.Point, m.Type, m.Options)
}

// parseMountinfo parses the text of a mountinfo file.
func parseMountinfo(text string) ([]mountInfo, error) {
	var out []mountInfo
	for n, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		if line == "" {
			continue
		}
		pre, post, ok := strings.Cut(line, " - ")
		f, p := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 6 || len(p) < 2 {
			return nil, fmt.Errorf("mountinfo line %d: %q: want 6 fields, \" - \", type and source", n+1, line)
		}
		id, err1 := strconv.Atoi(f[0])
		parent, err2 := strconv.Atoi(f[1])
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("mountinfo line %d: %q: mount IDs are not numbers", n+1, line)
		}
		m := mountInfo{
			ID: id, Parent: parent,
			Root: unescape(f[3]), Point: unescape(f[4]), Options: f[5],
			Optional: f[6:],
			Type:     p[0], Source: unescape(p[1]),
		}
		if len(p) > 2 {
			m.Super = p[2]
		}
		out = append(out, m)
	}
	return out, nil
}

// unescape undoes the octal escapes the kernel writes for a space (\040),
// tab, newline and backslash in paths.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// readMountinfo reads /proc/<pid>/mountinfo; pid may be "self".
func readMountinfo(pid string) ([]mountInfo, error) {
	b, err := os.ReadFile("/proc/" + pid + "/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("read mount table: %w", err)
	}
	return parseMountinfo(string(b))
}

// rootMount is the mount the process's / is: of the mounts at "/", the last
// one listed, which is the one on top.
func rootMount(ms []mountInfo) (mountInfo, bool) {
	var root mountInfo
	found := false
	for _, m := range ms {
		if m.Point == "/" {
			root, found = m, true
		}
	}
	return root, found
}

// isMountPoint reports whether dir is a mount point in ms.
func isMountPoint(ms []mountInfo, dir string) bool {
	for _, m := range ms {
		if m.Point == dir {
			return true
		}
	}
	return false
}

// under lists the mounts at dir or below it.
func under(ms []mountInfo, dir string) []mountInfo {
	var out []mountInfo
	for _, m := range ms {
		if m.Point == dir || strings.HasPrefix(m.Point, strings.TrimSuffix(dir, "/")+"/") {
			out = append(out, m)
		}
	}
	return out
}
