//go:build !linux

package reexec

// Init does nothing off Linux: there are no re-exec'd children.
func Init() {}

// IsChild is false off Linux.
func IsChild() bool { return false }
