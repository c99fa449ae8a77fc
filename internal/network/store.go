package network

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"time"
)

// Network is a bridge network: a bridge on the host with the gateway
// address, and a subnet its containers take their addresses from.
type Network struct {
	Name    string       `json:"name"`
	Bridge  string       `json:"bridge"`
	Subnet  netip.Prefix `json:"subnet"`
	Gateway netip.Addr   `json:"gateway"`

	// What the engine keeps with a network, written in the same file so
	// that a network and its metadata appear (and go) at once: its ID
	// and creation time, its labels (which compose selects networks by),
	// and the resolvers its DNS responder forwards other names to
	// ("host:port"; none: the host's /etc/resolv.conf).
	ID         string            `json:"id,omitempty"`
	Created    time.Time         `json:"created,omitzero"`
	Labels     map[string]string `json:"labels,omitempty"`
	DNSServers []string          `json:"dns_servers,omitempty"`
}

// Errors a caller tells apart, wrapped with the network's name.
var (
	// ErrNotFound: no network of that name.
	ErrNotFound = errors.New("no such network")
	// ErrInUse: the network has containers on it.
	ErrInUse = errors.New("network in use")
)

// Endpoint is one container's place on a network: the veth pair that
// connects its namespace to the bridge, its address, the names it answers
// to, and the ports published to it.
type Endpoint struct {
	Name     string        `json:"name"`              // the container's name, a DNS name on the network
	Aliases  []string      `json:"aliases,omitempty"` // more names (--network-alias)
	NetNS    string        `json:"netns"`             // path of the container's network namespace
	IfName   string        `json:"ifname"`            // the link inside, "eth0" by default
	HostLink string        `json:"host_link"`         // the veth end on the host, ubx…
	Addr     netip.Addr    `json:"addr"`              // chosen by the network's Leases unless given
	Ports    []PortMapping `json:"ports,omitempty"`
	// NoRoute: the container's default route goes through another of its
	// networks (its first, as Docker's), so this one adds only the route
	// to its own subnet, which comes with the address.
	NoRoute bool `json:"no_route,omitempty"`
	// DNS are the container's own resolvers ("IP:PORT", `run --dns`):
	// the network's responder forwards this container's questions for
	// names not of its networks to them (see [Store.Client]).
	DNS []string `json:"dns,omitempty"`
}

// BridgePlan is what creating a network does: the bridge, the gateway
// address on it (which also gives the host its route to the subnet),
// route_localnet for published ports (see [Ruleset]), and the bridge up.
func BridgePlan(n Network) Plan {
	return Plan{
		AddBridge{Name: n.Bridge},
		AddAddr{Link: n.Bridge, Addr: netip.PrefixFrom(n.Gateway, n.Subnet.Bits())},
		Sysctl{Key: RouteLocalnetKey(n.Bridge), Value: "1"},
		SetUp{Link: n.Bridge},
	}
}

// EndpointPlan is what connecting a container does: a veth pair with one
// end in the container's namespace, the host end a port of the bridge (in
// hairpin mode, see SetHairpin), the
// container's address on its end, its loopback up, and a default route
// through the gateway (unless ep.NoRoute: a second network).
func EndpointPlan(n Network, ep Endpoint, ns *NetNS) Plan {
	p := Plan{
		AddVeth{Name: ep.HostLink, Peer: ep.IfName, PeerNS: ns, PeerMAC: ContainerMAC(ep.Addr)},
		SetMaster{Link: ep.HostLink, Master: n.Bridge},
		SetHairpin{Link: ep.HostLink},
		SetUp{Link: ep.HostLink},
		SetUp{NS: ns, Link: "lo"},
		AddAddr{NS: ns, Link: ep.IfName, Addr: netip.PrefixFrom(ep.Addr, n.Subnet.Bits())},
		SetUp{NS: ns, Link: ep.IfName},
	}
	if ep.NoRoute {
		return p
	}
	return append(p, AddRoute{NS: ns, Via: n.Gateway})
}

// netNSOf is the handle of the namespace at path, named by its file.
func netNSOf(path string) *NetNS { return &NetNS{Name: filepath.Base(path), Path: path} }

// CheckName refuses a network, container or alias name that is not a
// plain DNS label-like word (letters, digits, '_', '.', '-'; 63 at most).
func CheckName(what, name string) error {
	ok := len(name) > 0 && len(name) <= 63
	for i, c := range name {
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		ok = ok && (alnum || i > 0 && (c == '_' || c == '.' || c == '-'))
	}
	if !ok {
		return fmt.Errorf("%s name %q: use letters, digits, '_', '.' and '-', starting with a letter or digit, 63 at most", what, name)
	}
	return nil
}

// LinkName is a host link name for key within IFNAMSIZ: "ubx" and 11 hex
// digits of its SHA-256. Callers that keep several stores on one host (a
// test's engine beside the machine's) name their links from a key that
// includes the store, so the names never clash.
func LinkName(key string) string { return hashedLink(key) }

// hashedLink is a host link name for key within IFNAMSIZ: "ubx" and 11 hex
// digits of its SHA-256.
func hashedLink(key string) string {
	sum := sha256.Sum256([]byte(key))
	return LinkPrefix + hex.EncodeToString(sum[:])[:11]
}

// BridgeName is the bridge of a network called name: "ubx-NAME" when that
// fits in a link name, else a hashed name.
func BridgeName(name string) string {
	if b := LinkPrefix + "-" + name; len(b) < IFNAMSIZ {
		return b
	}
	return hashedLink("network/" + name)
}

// HostLinkName is the host end of the veth of container on network.
func HostLinkName(network, container string) string {
	return hashedLink("endpoint/" + network + "/" + container)
}
