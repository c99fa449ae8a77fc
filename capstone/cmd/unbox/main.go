//go:build linux

// Command unbox is a container engine with Docker's commands and no
// daemon, as podman is: each command opens the engine's state on disk
// (/var/lib/unbox, /run/unbox), acts, and exits; each running container
// has a small monitor process of its own (capstone/engine). Containers
// are started through an OCI runtime: unbox-runtime, linked into this
// very binary, by default, or any runc-compatible binary (--runtime).
//
//	unbox run --rm unbox/busybox echo hello
//	unbox run -d --name web -v data:/srv unbox/busybox httpd -f -h /srv
//	unbox ps; unbox logs web; unbox exec -it web sh; unbox rm -f web
//
// The same binary is the containers' monitors and their inits, caught
// here before any flag parsing (internal/reexec), and --init's reaper, the
// PID 1 of a container run with it (engine.Reap).
package main

import (
	"os"

	"github.com/unboxlab/unbox/capstone/engine"
	"github.com/unboxlab/unbox/internal/reexec"
)

func main() {
	if os.Args[0] == engine.InitPath {
		os.Exit(engine.Reap(os.Args[1:])) // --init, as the container's PID 1
	}
	reexec.Init()
	os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr))
}
