//go:build !linux

// Lesson 05 needs Linux; elsewhere it says so and points at the Vagrant VM.
package main

import "github.com/unboxlab/unbox/internal/kit"

func main() { kit.NeedsLinux() }
