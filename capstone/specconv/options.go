//go:build linux

package specconv

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// mountOption is what one option of a spec mount does to mount(2)'s flags:
// set them, or clear them (the "rw", "suid", "exec" forms).
type mountOption struct {
	clear bool
	flag  uintptr
}

// mountOptions are the options that are flags, as mount(8) names them;
// anything else goes to the filesystem as data.
var mountOptions = map[string]mountOption{
	"async":         {true, unix.MS_SYNCHRONOUS},
	"atime":         {true, unix.MS_NOATIME},
	"bind":          {false, unix.MS_BIND},
	"defaults":      {false, 0},
	"dev":           {true, unix.MS_NODEV},
	"diratime":      {true, unix.MS_NODIRATIME},
	"dirsync":       {false, unix.MS_DIRSYNC},
	"exec":          {true, unix.MS_NOEXEC},
	"iversion":      {false, unix.MS_I_VERSION},
	"lazytime":      {false, unix.MS_LAZYTIME},
	"loud":          {true, unix.MS_SILENT},
	"mand":          {false, unix.MS_MANDLOCK},
	"noatime":       {false, unix.MS_NOATIME},
	"nodev":         {false, unix.MS_NODEV},
	"nodiratime":    {false, unix.MS_NODIRATIME},
	"noexec":        {false, unix.MS_NOEXEC},
	"noiversion":    {true, unix.MS_I_VERSION},
	"nolazytime":    {true, unix.MS_LAZYTIME},
	"nomand":        {true, unix.MS_MANDLOCK},
	"norelatime":    {true, unix.MS_RELATIME},
	"nostrictatime": {true, unix.MS_STRICTATIME},
	"nosuid":        {false, unix.MS_NOSUID},
	"rbind":         {false, unix.MS_BIND | unix.MS_REC},
	"relatime":      {false, unix.MS_RELATIME},
	"remount":       {false, unix.MS_REMOUNT},
	"ro":            {false, unix.MS_RDONLY},
	"rw":            {true, unix.MS_RDONLY},
	"silent":        {false, unix.MS_SILENT},
	"strictatime":   {false, unix.MS_STRICTATIME},
	"suid":          {true, unix.MS_NOSUID},
	"sync":          {false, unix.MS_SYNCHRONOUS},
}

// propagationOptions set a mount's propagation (mount_namespaces(7)); the
// r- forms apply to every mount below it too.
var propagationOptions = map[string]uintptr{
	"private":     unix.MS_PRIVATE,
	"rprivate":    unix.MS_PRIVATE | unix.MS_REC,
	"shared":      unix.MS_SHARED,
	"rshared":     unix.MS_SHARED | unix.MS_REC,
	"slave":       unix.MS_SLAVE,
	"rslave":      unix.MS_SLAVE | unix.MS_REC,
	"unbindable":  unix.MS_UNBINDABLE,
	"runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

// recursiveOptions are runc's "rro", "rnosuid", ...: the flag on the mount
// and every mount below it (mount_setattr(2) with AT_RECURSIVE, which
// internal/mount uses for the flags of a recursive bind). The plain "ro"
// on a recursive bind is for its top mount alone (convertMount).
var recursiveOptions = map[string]uintptr{
	"rro":     unix.MS_RDONLY,
	"rnosuid": unix.MS_NOSUID,
	"rnodev":  unix.MS_NODEV,
	"rnoexec": unix.MS_NOEXEC,
}

// ignoredOptions are accepted and do nothing here: "tmpcopyup" is runc's
// extension (copy the image's files into a new tmpfs) that podman passes
// for some tmpfs mounts; the "x-" options are for user space (mount(8)).
func ignoredOption(o string) bool { return o == "tmpcopyup" || strings.HasPrefix(o, "x-") }

// parsedOptions are a spec mount's options, sorted out.
type parsedOptions struct {
	flags       uintptr
	propagation uintptr
	// recursive are the flags asked for with an r- option (rro, ...).
	recursive uintptr
	data      []string
}

// parseMountOptions sorts a mount's options into flags, propagation and
// filesystem data, refusing what this runtime cannot do.
func parseMountOptions(opts []string) (parsedOptions, error) {
	var p parsedOptions
	for _, o := range opts {
		if f, ok := mountOptions[o]; ok {
			if f.clear {
				p.flags &^= f.flag
			} else {
				p.flags |= f.flag
			}
			continue
		}
		if f, ok := propagationOptions[o]; ok {
			p.propagation = f
			continue
		}
		if f, ok := recursiveOptions[o]; ok {
			p.flags |= f
			p.recursive |= f
			continue
		}
		switch {
		case o == "idmap" || o == "ridmap":
			return p, fmt.Errorf("mount option %q: idmapped mounts are not supported by unbox-runtime", o)
		case ignoredOption(o):
			continue
		case o == "":
			continue
		}
		p.data = append(p.data, o)
	}
	return p, nil
}
