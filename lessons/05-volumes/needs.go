//go:build linux

package main

import (
	"os"
	"sync"

	"github.com/unboxlab/unbox/internal/cgroups"
	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/overlay"
)

// needs are every step's: root (mounts and namespaces need
// CAP_SYS_ADMIN), the namespaces a container is made of here, and a union
// to run it on, in a temp directory overlayfs takes as an upper dir.
var needs = append(append([]kit.Need{kit.NeedRoot}, kit.NeedNamespaces("mnt", "pid", "uts")...),
	kit.NeedOverlay, needUpperFS)

// needUpperFS is the temp directory, where the lesson keeps its layers,
// upper dirs and volumes, accepting an overlay upper dir (trusted.*
// xattrs, d_type: not NFS, not overlayfs itself, which /tmp is inside a
// container). overlay.Probe tries it; without root it cannot, and the root
// need says so already.
var needUpperFS = kit.Need{
	Name: "overlay upper dir in " + os.TempDir(),
	Check: sync.OnceValue(func() error {
		if os.Geteuid() != 0 {
			return nil
		}
		return overlay.Probe(os.TempDir())
	}),
	Fix: "point TMPDIR at a directory on ext4, xfs, btrfs or tmpfs: go run -exec 'sudo TMPDIR=/var/tmp' ./lessons/05-volumes",
}

// needMemoryCgroup is step 6's: a memory controller to charge the tmpfs to.
var needMemoryCgroup = kit.Need{
	Name: "cgroups (memory)",
	Check: func() error {
		h, err := cgroups.OpenHost(cgroups.DefaultRoot)
		if err != nil {
			return err
		}
		return h.Check("memory")
	},
	Fix: "a kernel with CONFIG_MEMCG and cgroups mounted at /sys/fs/cgroup (any current distribution); use the Vagrant VM",
}
