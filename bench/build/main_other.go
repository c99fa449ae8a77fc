//go:build !linux

// Command build times unbox build against podman build; builds are a Linux
// mechanism.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "the bench needs Linux: use the Vagrant VM (see README.md)")
	os.Exit(1)
}
