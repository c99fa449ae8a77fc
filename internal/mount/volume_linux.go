package mount

import (
	"fmt"
	"path"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Volumes as mounts: what `docker run -v` and `--tmpfs` turn into. The
// parsing of -v itself is in package volume, which knows volume names and
// where a volume lives; what a volume becomes once it has a host directory
// is here, as data ([Bind], [ParseTmpfs]), applied by [MountAll] like any
// other mount.

// propagationNames are the propagation modes `docker run -v SRC:DST:MODE`
// takes (mount_namespaces(7), "Shared subtrees").
var propagationNames = map[string]uintptr{
	"private":  unix.MS_PRIVATE,
	"rprivate": unix.MS_PRIVATE | unix.MS_REC,
	"slave":    unix.MS_SLAVE,
	"rslave":   unix.MS_SLAVE | unix.MS_REC,
	"shared":   unix.MS_SHARED,
	"rshared":  unix.MS_SHARED | unix.MS_REC,
}

// ParsePropagation reads a propagation mode as Docker spells it: private,
// rprivate, slave, rslave, shared, rshared. The "r" forms apply to every
// mount under the target too.
func ParsePropagation(name string) (uintptr, bool) {
	p, ok := propagationNames[name]
	return p, ok
}

// DefaultPropagation is Docker's for a volume or bind mount: rprivate. A
// mount the host makes later under the source does not reach the container,
// and nothing the container mounts there reaches the host.
const DefaultPropagation = unix.MS_PRIVATE | unix.MS_REC

// Bind is a volume as `docker run -v SRC:DST[:ro][,MODE]` mounts it, as two
// or three calls:
//
//	mount --rbind SRC DST                      MS_BIND|MS_REC: SRC with every mount under it
//	mount -o remount,bind,ro=recursive DST     only with readOnly (see below)
//	mount --make-rprivate DST                  the propagation, Docker's default when 0
//
// Read-only cannot be asked for in the call that makes a bind mount:
// mount(2) ignores every flag but MS_REC there ("Creating a bind mount"), so
// MS_BIND|MS_RDONLY makes a writable mount. The flag goes on in a second
// call, which [MountAll] makes: MS_REMOUNT|MS_BIND|MS_RDONLY changes the
// flags of one mount, and for a recursive bind mount_setattr(2) with
// AT_RECURSIVE changes those of every mount under it too, so that a
// read-only volume has no writable submount.
func Bind(source, target string, readOnly bool, propagation uintptr) []Mount {
	flags := uintptr(unix.MS_BIND | unix.MS_REC)
	if readOnly {
		flags |= unix.MS_RDONLY
	}
	if propagation == 0 {
		propagation = DefaultPropagation
	}
	return []Mount{
		{Source: source, Target: target, Flags: flags},
		{Target: target, Flags: propagation},
	}
}

// RootPropagation is how a container's / must be made before its volumes
// are mounted, for ms to work: MS_REC|MS_SLAVE when one of ms asks for
// slave or shared propagation, MS_REC|MS_PRIVATE otherwise (as Docker
// decides, moby daemon/oci_linux.go).
//
// A volume can only receive the host's later mounts if the container's
// copy of its source still does: a new mount namespace's copies of the
// host's shared mounts are peers of them, but [MakePrivate] cuts every copy
// off, and a bind mount of a private mount is private, whatever it is made
// afterwards. Made slaves instead, the copies (and binds of them) go on
// receiving, and still send nothing back to the host.
func RootPropagation(ms []Mount) uintptr {
	for _, m := range ms {
		if m.Flags&(unix.MS_SLAVE|unix.MS_SHARED) != 0 {
			return unix.MS_SLAVE | unix.MS_REC
		}
	}
	return DefaultPropagation
}

// makeRootPropagation is the first step of [EnterRoot]: `mount
// --make-rprivate /` ([MakePrivate]) by default, or `mount --make-rslave /`.
// Shared is refused: the container's own mounts (its /proc, its volumes)
// would appear on the host, and pivot_root(2) refuses a shared parent.
func makeRootPropagation(path string, flags uintptr, trace Tracer) error {
	switch flags {
	case 0, unix.MS_PRIVATE | unix.MS_REC:
		return MakePrivate(path, trace)
	case unix.MS_SLAVE | unix.MS_REC:
		m := Mount{Target: path, Flags: flags}
		if err := unix.Mount("", path, "", flags, ""); err != nil {
			return mountError(m, flags, err)
		}
		trace.addCall(OpMount, path, mountCall(flags), "%s", m)
		return nil
	}
	return fmt.Errorf("root propagation %s: want MS_REC|MS_PRIVATE or MS_REC|MS_SLAVE (a shared root would show the container's mounts on the host)",
		FlagNames(flags))
}

// tmpfsFlags are the mount flags `--tmpfs DST:OPTS` takes, set or cleared.
var tmpfsFlags = map[string]struct {
	flag  uintptr
	clear bool
}{
	"ro": {unix.MS_RDONLY, false}, "rw": {unix.MS_RDONLY, true},
	"noexec": {unix.MS_NOEXEC, false}, "exec": {unix.MS_NOEXEC, true},
	"nosuid": {unix.MS_NOSUID, false}, "suid": {unix.MS_NOSUID, true},
	"nodev": {unix.MS_NODEV, false}, "dev": {unix.MS_NODEV, true},
	"noatime": {unix.MS_NOATIME, false}, "atime": {unix.MS_NOATIME, true},
	"nodiratime": {unix.MS_NODIRATIME, false}, "diratime": {unix.MS_NODIRATIME, true},
	"relatime": {unix.MS_RELATIME, false}, "norelatime": {unix.MS_RELATIME, true},
	"strictatime": {unix.MS_STRICTATIME, false}, "nostrictatime": {unix.MS_STRICTATIME, true},
}

// TmpfsDefaultFlags are Docker's for --tmpfs: no programs, no set-uid, no
// devices (moby daemon/oci_linux.go); "exec", "suid" and "dev" undo them.
const TmpfsDefaultFlags = unix.MS_NOEXEC | unix.MS_NOSUID | unix.MS_NODEV

// ParseTmpfs reads `docker run --tmpfs DST[:OPTS]`, such as
// "/run:size=64m,mode=755", into the mount it makes: a tmpfs at DST with
// [TmpfsDefaultFlags] and the options, later ones winning. The options are
// the mount flags (ro, rw, exec, noexec, suid, nosuid, dev, nodev, and the
// atime ones) and tmpfs's own (Documentation/filesystems/tmpfs.rst): size
// and nr_blocks ([ParseSize], or a percentage of memory for size),
// nr_inodes, mode (octal), uid, gid, huge. Anything else is an error, which
// names the flag, before anything is mounted: Docker passes unknown options
// to the kernel and fails only when the container starts.
func ParseTmpfs(spec string) (Mount, error) {
	fail := func(format string, args ...any) (Mount, error) {
		return Mount{}, fmt.Errorf("--tmpfs %s: %s", spec, fmt.Sprintf(format, args...))
	}
	target, opts, _ := strings.Cut(spec, ":")
	if err := CheckTarget(target); err != nil {
		return fail("%v", err)
	}
	m := Mount{Source: "tmpfs", Target: target, Type: "tmpfs", Flags: TmpfsDefaultFlags}
	var data []string
	seen := map[string]int{} // a data option given twice: the last one counts
	for _, o := range strings.Split(opts, ",") {
		if o == "" {
			continue
		}
		if f, ok := tmpfsFlags[o]; ok {
			if f.clear {
				m.Flags &^= f.flag
			} else {
				m.Flags |= f.flag
			}
			continue
		}
		key, value, hasValue := strings.Cut(o, "=")
		if err := checkTmpfsOption(key, value, hasValue); err != nil {
			return fail("%v", err)
		}
		if i, ok := seen[key]; ok {
			data[i] = o
			continue
		}
		seen[key] = len(data)
		data = append(data, o)
	}
	m.Data = strings.Join(data, ",")
	return m, nil
}

// CheckTarget accepts a volume's target: an absolute path other than /, with
// nothing in it that a mount table or an options string could misread. It
// is resolved inside the container's root when mounted ([MountAll]).
func CheckTarget(target string) error {
	switch {
	case target == "":
		return fmt.Errorf("no target: want an absolute path in the container, such as /run")
	case !strings.HasPrefix(target, "/"):
		return fmt.Errorf("target %q is not an absolute path", target)
	case path.Clean(target) == "/":
		return fmt.Errorf("target %q: a volume cannot replace the container's /", target)
	case strings.ContainsAny(target, "\x00\n,"):
		return fmt.Errorf("target %q holds a newline, NUL or comma", target)
	}
	return nil
}

// checkTmpfsOption checks one key=value option of tmpfs.
func checkTmpfsOption(key, value string, hasValue bool) error {
	if !hasValue {
		return fmt.Errorf("unknown option %q: want ro, rw, [no]exec, [no]suid, [no]dev, size=, mode=, uid=, gid=, nr_inodes=, nr_blocks= or huge=", key)
	}
	switch key {
	case "size", "nr_blocks", "nr_inodes":
		if key != "nr_blocks" && strings.HasSuffix(value, "%") {
			if _, err := strconv.ParseUint(strings.TrimSuffix(value, "%"), 10, 32); err != nil {
				return fmt.Errorf("%s %q: want a whole percentage of memory, such as 50%%", key, value)
			}
			return nil
		}
		if _, err := ParseSize(value); err != nil {
			return fmt.Errorf("%s %q: %w", key, value, err)
		}
	case "mode":
		if n, err := strconv.ParseUint(value, 8, 32); err != nil || n > 0o7777 {
			return fmt.Errorf("mode %q: want octal permission bits, such as 1777 or 755", value)
		}
	case "uid", "gid":
		if _, err := strconv.ParseUint(value, 10, 32); err != nil {
			return fmt.Errorf("%s %q: want a number", key, value)
		}
	case "huge":
		switch value {
		case "never", "always", "within_size", "advise":
		default:
			return fmt.Errorf("huge %q: want never, always, within_size or advise", value)
		}
	default:
		return fmt.Errorf("unknown tmpfs option %q (see Documentation/filesystems/tmpfs.rst)", key)
	}
	return nil
}

// sizeSuffixes are memparse's (lib/cmdline.c), which tmpfs reads sizes with.
var sizeSuffixes = map[byte]uint{'k': 10, 'm': 20, 'g': 30, 't': 40, 'p': 50, 'e': 60}

// ParseSize reads a size as the kernel's memparse does for tmpfs's size=:
// decimal bytes with an optional suffix k, m, g, t, p or e (either case),
// powers of 1024: "65536k", "64m", "1G". Only what the kernel reads the
// same way is accepted: no "64mb", no fractions, no octal "010m".
func ParseSize(s string) (uint64, error) {
	want := fmt.Errorf("want bytes with an optional k, m or g suffix, such as 64m")
	if s == "" {
		return 0, want
	}
	digits, shift := s, uint(0)
	if last := s[len(s)-1] | 0x20; last >= 'a' && last <= 'z' {
		sh, ok := sizeSuffixes[last]
		if !ok {
			return 0, want
		}
		digits, shift = s[:len(s)-1], sh
	}
	if digits == "" || (len(digits) > 1 && digits[0] == '0') || strings.TrimLeft(digits, "0123456789") != "" {
		return 0, want
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || (shift > 0 && n > (^uint64(0))>>shift) {
		return 0, fmt.Errorf("%s: too large", s)
	}
	return n << shift, nil
}
