package network

import (
	"fmt"
	"path/filepath"
	"strings"
)

// NetNSDir is where ip-netns(8) keeps named network namespaces, and where
// `ip netns list` and `ip -n NAME` look for them.
const NetNSDir = "/run/netns"

// NetNS is a network namespace kept alive by a file: a bind mount of the
// namespace (nsfs) on an empty file, so it outlives every process in it and
// anyone can join it by path (setns(2)), an OCI runtime included
// (config.json: linux.namespaces[].path). Name is what `ip netns` shows
// when the file is in NetNSDir.
type NetNS struct {
	Name string
	Path string
}

// NamedNetNS is the handle of a namespace called name in dir (NetNSDir when
// dir is empty). It does not create anything: see [CreateNetNS].
func NamedNetNS(dir, name string) (*NetNS, error) {
	if dir == "" {
		dir = NetNSDir
	}
	if err := checkName("network namespace", name, 255); err != nil {
		return nil, err
	}
	return &NetNS{Name: name, Path: filepath.Join(dir, name)}, nil
}

// checkName refuses names that cannot be a file or link name: empty, too
// long, or holding a slash, a space or a NUL.
func checkName(what, name string, max int) error {
	switch {
	case name == "":
		return fmt.Errorf("%s: empty name", what)
	case len(name) > max:
		return fmt.Errorf("%s %q: longer than %d bytes", what, name, max)
	case name == "." || name == ".." || strings.ContainsAny(name, "/ \t\n\x00"):
		return fmt.Errorf("%s %q: a name may not be . or .., nor hold a slash or white space", what, name)
	}
	return nil
}

// IFNAMSIZ is the kernel's limit on an interface name, with its NUL
// (include/uapi/linux/if.h): names are 15 bytes at most.
const IFNAMSIZ = 16

// CheckLinkName refuses a name the kernel would refuse for a link, and any
// name of a host link that lacks our "ubx" prefix.
func CheckLinkName(name string) error {
	if err := checkName("link", name, IFNAMSIZ-1); err != nil {
		return err
	}
	if strings.ContainsAny(name, ":") {
		return fmt.Errorf("link %q: a link name may not hold ':'", name)
	}
	return nil
}

// checkOurLink is CheckLinkName plus the prefix every host link of ours has.
func checkOurLink(name string) error {
	if err := CheckLinkName(name); err != nil {
		return err
	}
	if !strings.HasPrefix(name, LinkPrefix) {
		return fmt.Errorf("link %q: host links made by unbox start with %q, so clean up can find them", name, LinkPrefix)
	}
	return nil
}

// Prefixes of everything this package makes on a host.
const (
	LinkPrefix  = "ubx"   // interfaces in the host's namespace
	TablePrefix = "unbox" // nftables tables
	NetNSPrefix = "unbox" // named network namespaces
)
