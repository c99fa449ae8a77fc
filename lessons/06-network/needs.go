//go:build linux

package main

import (
	"os"
	"sync"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/network"
)

// needs are what every step needs: root, the namespaces a container is
// made of here, and the kernel's veth, bridge and nf_tables (with NAT),
// each found out by trying it once (network.Requirements).
var needs = append([]kit.Need{kit.NeedRoot}, append(kit.NeedNamespaces("net", "mnt", "uts"), kernelNeeds()...)...)

func kernelNeeds() []kit.Need {
	var out []kit.Need
	for _, r := range network.Requirements {
		check := sync.OnceValue(r.Check)
		out = append(out, kit.Need{Name: r.Name, Fix: r.Fix, Check: func() error {
			if os.Geteuid() != 0 {
				return nil // only root can try; the root need says so already
			}
			return check()
		}})
	}
	return out
}
