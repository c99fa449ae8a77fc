package mount

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/bitflags"
)

// Mount is one mount(2) call: `mount -t Type -o <Flags and Data> Source Target`.
type Mount struct {
	Source string
	// Target is absolute, inside the root the mount is applied under.
	Target string
	// Type is the filesystem type; empty for a bind mount or a change of
	// propagation.
	Type  string
	Flags uintptr
	// Data is the filesystem's own options, e.g. "mode=755,size=65536k".
	Data string
}

const (
	propagationFlags = unix.MS_PRIVATE | unix.MS_SHARED | unix.MS_SLAVE | unix.MS_UNBINDABLE
	// perMountFlags are the flags of a mount rather than of its filesystem:
	// a bind mount ignores them, and takes them in a second call.
	perMountFlags = unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
)

// optionNames spells mount flags the way mount(8)'s -o does.
var optionNames = []struct {
	bit  uintptr
	name string
}{
	{unix.MS_RDONLY, "ro"},
	{unix.MS_NOSUID, "nosuid"},
	{unix.MS_NODEV, "nodev"},
	{unix.MS_NOEXEC, "noexec"},
	{unix.MS_RELATIME, "relatime"},
	{unix.MS_STRICTATIME, "strictatime"},
	{unix.MS_NOATIME, "noatime"},
	{unix.MS_NODIRATIME, "nodiratime"},
}

// String is the command a person would type for m. A recursive bind's
// per-mount options hold for every mount under it, which mount(8) (util-linux
// 2.38 and later) spells "ro=recursive".
func (m Mount) String() string {
	if p := m.Flags & propagationFlags; p != 0 {
		name := map[uintptr]string{unix.MS_PRIVATE: "private", unix.MS_SHARED: "shared", unix.MS_SLAVE: "slave", unix.MS_UNBINDABLE: "unbindable"}[p]
		if m.Flags&unix.MS_REC != 0 {
			name = "r" + name
		}
		return fmt.Sprintf("mount --make-%s %s", name, m.Target)
	}
	cmd := "mount -t " + m.Type
	if m.isBind() {
		cmd = "mount --bind"
		if m.Flags&unix.MS_REC != 0 {
			cmd = "mount --rbind"
		}
	}
	if opts := m.options(); opts != "" {
		cmd += " -o " + opts
	}
	return fmt.Sprintf("%s %s %s", cmd, m.Source, m.Target)
}

func (m Mount) isBind() bool { return m.Flags&unix.MS_BIND != 0 }

func (m Mount) options() string {
	var opts []string
	recursive := m.isBind() && m.Flags&unix.MS_REC != 0
	for _, o := range optionNames {
		if m.Flags&o.bit != 0 {
			if recursive && o.bit&perMountFlags != 0 {
				opts = append(opts, o.name+"=recursive")
			} else {
				opts = append(opts, o.name)
			}
		}
	}
	if m.Data != "" {
		opts = append(opts, m.Data)
	}
	return strings.Join(opts, ",")
}

// at is m with its target replaced by the path it really went to, for the
// trace and for errors.
func (m Mount) at(path string) Mount {
	m.Target = path
	return m
}

var flagNames = []bitflags.Name{
	{Bit: unix.MS_RDONLY, Name: "MS_RDONLY"},
	{Bit: unix.MS_NOSUID, Name: "MS_NOSUID"},
	{Bit: unix.MS_NODEV, Name: "MS_NODEV"},
	{Bit: unix.MS_NOEXEC, Name: "MS_NOEXEC"},
	{Bit: unix.MS_REMOUNT, Name: "MS_REMOUNT"},
	{Bit: unix.MS_BIND, Name: "MS_BIND"},
	{Bit: unix.MS_MOVE, Name: "MS_MOVE"},
	{Bit: unix.MS_REC, Name: "MS_REC"},
	{Bit: unix.MS_UNBINDABLE, Name: "MS_UNBINDABLE"},
	{Bit: unix.MS_PRIVATE, Name: "MS_PRIVATE"},
	{Bit: unix.MS_SLAVE, Name: "MS_SLAVE"},
	{Bit: unix.MS_SHARED, Name: "MS_SHARED"},
	{Bit: unix.MS_RELATIME, Name: "MS_RELATIME"},
	{Bit: unix.MS_STRICTATIME, Name: "MS_STRICTATIME"},
	{Bit: unix.MS_NOATIME, Name: "MS_NOATIME"},
	{Bit: unix.MS_NODIRATIME, Name: "MS_NODIRATIME"},
}

// FlagNames spells mount(2) flags readably, for errors: "MS_BIND|MS_REC".
func FlagNames(flags uintptr) string { return bitflags.Format(flags, flagNames) }

// mountError is how every failed mount(2) reads: the command, the flags
// when there are any, and the kernel's answer.
func mountError(m Mount, flags uintptr, err error) error {
	if flags == 0 {
		return fmt.Errorf("%s: %w", m, err)
	}
	return fmt.Errorf("%s (%s): %w", m, FlagNames(flags), err)
}
