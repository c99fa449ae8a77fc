//go:build !linux

package kit

import (
	"fmt"
	"os"
)

// MaybeRunInit does nothing off Linux: there are no re-exec'd children.
func MaybeRunInit() {}

// NeedsLinux is the whole main of a lesson built for another system.
func NeedsLinux() {
	fmt.Fprintln(os.Stderr, "unbox needs Linux: use the Vagrant VM (see README.md, \"Vagrant lab\")")
	os.Exit(2)
}
