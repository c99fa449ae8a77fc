package mount

import "fmt"

// Op says what kind of thing a traced [Step] did.
type Op string

// The steps the package takes.
const (
	OpMount   Op = "mount"      // mount(2): a new mount, a remount, a change of propagation
	OpUnmount Op = "umount"     // umount2(2)
	OpMkdir   Op = "mkdir"      // a missing mount target or /dev directory created
	OpCreate  Op = "touch"      // an empty file created to bind a file onto
	OpMknod   Op = "mknod"      // a device node
	OpSymlink Op = "ln"         // a symbolic link
	OpChdir   Op = "cd"         // chdir(2)
	OpPivot   Op = "pivot_root" // pivot_root(2)
)

// Step is one thing the package did, right after it was done.
type Step struct {
	Op Op
	// Path is what it acted on, as resolved: a mount point, a node's path.
	Path string
	// Command is the shell command a person would type for it.
	Command string
	// Call is the system call behind a mount step, with its flags spelled
	// out: "mount(2) MS_BIND|MS_REC", "mount_setattr(2) AT_RECURSIVE
	// MOUNT_ATTR_RDONLY". Empty for the other steps.
	Call string
}

func (s Step) String() string { return s.Command }

// Tracer, when not nil, is called with each [Step] right after the step
// succeeded, in the calling process (so a lesson may look around there
// before the next step). A nil Tracer traces nothing.
type Tracer func(Step)

func (t Tracer) add(op Op, path, format string, args ...any) {
	t.addCall(op, path, "", format, args...)
}

func (t Tracer) addCall(op Op, path, call, format string, args ...any) {
	if t != nil {
		t(Step{Op: op, Path: path, Command: fmt.Sprintf(format, args...), Call: call})
	}
}

// mountCall names a mount(2) call by its flags.
func mountCall(flags uintptr) string {
	if flags == 0 {
		return "mount(2)"
	}
	return "mount(2) " + FlagNames(flags)
}
