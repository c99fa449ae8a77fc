//go:build linux

package main

import (
	"os"

	"github.com/unboxlab/unbox/internal/cgroups"
	"github.com/unboxlab/unbox/internal/kit"
)

// needs are every step's: a container needs root, overlayfs, a user
// namespace and the six others, and a cgroup filesystem with the pids
// controller.
var needs = append([]kit.Need{kit.NeedRoot, kit.NeedOverlay, kit.NeedUserNS, needCgroups},
	kit.NeedNamespaces("user", "mnt", "uts", "ipc", "net", "pid", "cgroup")...)

var needCgroups = kit.Need{
	Name: "cgroups (pids)",
	Check: func() error {
		h, err := cgroups.OpenHost(cgroups.DefaultRoot)
		if err != nil {
			return err
		}
		if os.Geteuid() != 0 {
			return nil // the root need says what is missing
		}
		return h.Check(controllers...)
	},
	Fix: "a kernel with CONFIG_CGROUP_PIDS and cgroups mounted at /sys/fs/cgroup (every distribution does); use the Vagrant VM",
}
