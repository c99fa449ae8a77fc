//go:build !linux

package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "unbox needs Linux: use the Vagrant VM (see README.md)")
	os.Exit(1)
}
