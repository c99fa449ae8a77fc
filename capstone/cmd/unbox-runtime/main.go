//go:build linux

// Command unbox-runtime is an OCI runtime: what runc and crun are, in the
// shape of runc's command line, so that podman (--runtime), containerd
// (ctr run --runc-binary, or the runc shim's BinaryName) and unbox's own
// engine can drive it. It is a thin layer on capstone/container (the
// lifecycle) and capstone/specconv (config.json), one file per command.
//
//	unbox-runtime spec                      # writes a config.json
//	unbox-runtime run -b BUNDLE ID          # create, start, wait, delete
//	unbox-runtime create -b BUNDLE ID; unbox-runtime start ID
//	unbox-runtime state ID; kill ID; delete ID
//
// Build it static (CGO_ENABLED=0): its init re-executes this same file
// inside a container's namespaces, before pivot_root, and a C library it
// would load is the host's, whatever the container's root holds; a static
// binary loads nothing.
//
// The runtime's own GOMAXPROCS is not sized from the cgroup's CPU limit
// (Go 1.25's containermaxprocs), nor watched for changes: a command of a
// few milliseconds has no use for it, and the lookup reads three files at
// every start.
//
//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0
package main

import (
	"os"

	"github.com/unboxlab/unbox/internal/reexec"
)

func main() {
	// The container's init and exec'd processes are this program again:
	// caught here, before any flag parsing (internal/reexec).
	reexec.Init()
	os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr))
}
