package reexec

import (
	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/bitflags"
)

var cloneFlags = []bitflags.Name{
	{Bit: unix.CLONE_NEWNS, Name: "CLONE_NEWNS"},
	{Bit: unix.CLONE_NEWUTS, Name: "CLONE_NEWUTS"},
	{Bit: unix.CLONE_NEWIPC, Name: "CLONE_NEWIPC"},
	{Bit: unix.CLONE_NEWPID, Name: "CLONE_NEWPID"},
	{Bit: unix.CLONE_NEWNET, Name: "CLONE_NEWNET"},
	{Bit: unix.CLONE_NEWUSER, Name: "CLONE_NEWUSER"},
	{Bit: unix.CLONE_NEWCGROUP, Name: "CLONE_NEWCGROUP"},
	{Bit: unix.CLONE_NEWTIME, Name: "CLONE_NEWTIME"},
}

// CloneFlagNames spells clone(2) namespace flags the way the man page does,
// for error messages: "CLONE_NEWUTS|CLONE_NEWPID".
func CloneFlagNames(flags uintptr) string { return bitflags.Format(flags, cloneFlags) }
