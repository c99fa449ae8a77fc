//go:build !linux

package kit

import (
	"fmt"
	"os"
)

// NeedsLinux is the whole main of a lesson built for another system.
func NeedsLinux() {
	fmt.Fprintln(os.Stderr, "unbox needs Linux: use the Vagrant VM (see README.md, \"Vagrant lab\")")
	os.Exit(2)
}
