//go:build !linux

// Command mini runs one container with everything from lessons 01 to 04;
// containers are a Linux mechanism.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "mini needs Linux: use the Vagrant VM (see README.md)")
	os.Exit(1)
}
