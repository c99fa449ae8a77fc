//go:build !linux

// Command unbox-runtime is an OCI runtime, and containers are a Linux
// mechanism.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "unbox-runtime needs Linux: use the Vagrant VM (see README.md)")
	os.Exit(1)
}
