// Package bitflags spells a bit mask the way the man pages do, for error
// messages: "MS_BIND|MS_REC", "CLONE_NEWUTS|CLONE_NEWPID". Bits without a
// name are kept, in hex, so nothing is hidden. Used by internal/mount and
// internal/reexec.
package bitflags
