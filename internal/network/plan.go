package network

import (
	"crypto/sha256"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
)

// Action is one change to the host or to a network namespace. Its Command
// is what a person would type to make the same change.
type Action interface {
	Command() string
}

// Plan is a list of actions, applied in order and undone in reverse.
type Plan []Action

// Commands are the plan's actions as shell commands, one per action.
func (p Plan) Commands() []string {
	out := make([]string, len(p))
	for i, a := range p {
		out[i] = a.Command()
	}
	return out
}

// Trace receives each command as it is carried out, so a caller can show
// exactly what was done. A nil Trace is allowed.
type Trace func(cmd string)

func (t Trace) log(cmd string) {
	if t != nil {
		t(cmd)
	}
}

// AddNetNS creates a named network namespace (`ip netns add`). Undone by
// deleting it.
type AddNetNS struct{ NS *NetNS }

// AddBridge creates a bridge, down, with a fixed MAC address (see
// BridgeMAC). Undone by deleting it.
type AddBridge struct {
	Name string
	MAC  net.HardwareAddr // nil: BridgeMAC(Name)
}

// AddVeth creates a veth pair: Name in the host's namespace and Peer
// directly in PeerNS, so the container's end never appears on the host
// under a name that could clash. Undone by deleting Name (which takes the
// peer with it).
type AddVeth struct {
	Name    string
	Peer    string
	PeerNS  *NetNS
	PeerMAC net.HardwareAddr // nil: the kernel picks a random one
}

// SetMaster makes Link a port of the bridge Master (host namespace).
type SetMaster struct{ Link, Master string }

// SetHairpin lets the bridge send a frame back out of the port it came in
// on (`bridge link set dev LINK hairpin on`). A container that connects to
// its own published port needs it where bridged traffic passes through the
// IP hooks (br_netfilter): DNAT there turns the packet around at layer 2,
// back towards the port it came from, which a bridge otherwise never does.
type SetHairpin struct{ Link string }

// SetUp brings a link up; NS nil is the host's namespace.
type SetUp struct {
	NS   *NetNS
	Link string
}

// AddAddr puts an address on a link: Addr is the address with the prefix
// length of its subnet, as `ip addr add 10.66.0.2/24` takes it.
type AddAddr struct {
	NS   *NetNS
	Link string
	Addr netip.Prefix
}

// DelAddr removes an address from a link (step 3 of the lesson moves the
// gateway address from a veth to the bridge). Undone by adding it back.
type DelAddr struct {
	NS   *NetNS
	Link string
	Addr netip.Prefix
}

// AddRoute adds a route; a Dst that is not valid (the zero Prefix) is the
// default route.
type AddRoute struct {
	NS  *NetNS
	Dst netip.Prefix
	Via netip.Addr
}

// Sysctl writes a value under /proc/sys in the host's namespace. Key is
// dotted, as sysctl(8) spells it ("net.ipv4.ip_forward"). Undone by
// writing back the value it found, even when that was the same value:
// undo restores what was there, whatever happened in between. A key of a
// link the same Undo created needs no undoing: it goes with the link.
type Sysctl struct {
	Key   string
	Value string
}

// ApplyTable replaces our nftables table with Table, whole, in one
// transaction; undone by putting back what was there before (or deleting
// the table if there was none).
type ApplyTable struct{ Table *Table }

// DeleteTable deletes one of our nftables tables, if it exists.
type DeleteTable struct{ Name string }

func (a AddNetNS) Command() string  { return "ip netns add " + a.NS.Name }
func (a AddBridge) Command() string { return "ip link add " + a.Name + " type bridge" }
func (a AddVeth) Command() string {
	mac := ""
	if a.PeerMAC != nil {
		mac = " address " + a.PeerMAC.String()
	}
	return fmt.Sprintf("ip link add %s type veth peer name %s%s netns %s", a.Name, a.Peer, mac, a.PeerNS.Name)
}
func (a SetMaster) Command() string  { return "ip link set " + a.Link + " master " + a.Master }
func (a SetHairpin) Command() string { return "bridge link set dev " + a.Link + " hairpin on" }
func (a SetUp) Command() string      { return ipIn(a.NS) + " link set " + a.Link + " up" }
func (a AddAddr) Command() string {
	return fmt.Sprintf("%s addr add %s dev %s", ipIn(a.NS), a.Addr, a.Link)
}
func (a DelAddr) Command() string {
	return fmt.Sprintf("%s addr del %s dev %s", ipIn(a.NS), a.Addr, a.Link)
}
func (a AddRoute) Command() string {
	dst := "default"
	if a.Dst.IsValid() {
		dst = a.Dst.String()
	}
	return fmt.Sprintf("%s route add %s via %s", ipIn(a.NS), dst, a.Via)
}
func (a Sysctl) Command() string      { return "sysctl -w " + a.Key + "=" + a.Value }
func (a ApplyTable) Command() string  { return "nft -f - <<'EOF'\n" + a.Table.String() + "EOF" }
func (a DeleteTable) Command() string { return "nft delete table ip " + a.Name }

// ipIn is the start of an ip(8) command run in ns: `ip -n NAME` for a
// namespace where `ip netns` looks (/run/netns), nsenter(1) for any other.
func ipIn(ns *NetNS) string {
	switch {
	case ns == nil:
		return "ip"
	case filepath.Dir(ns.Path) == NetNSDir:
		return "ip -n " + ns.Name
	default:
		return "nsenter --net=" + ns.Path + " ip"
	}
}

// sysctlPath is the file under /proc/sys for a dotted key. An interface
// name may itself hold dots; sysctl(8) writes those as slashes, which is
// why the key for interface "a.b" is net.ipv4.conf.a/b.route_localnet.
func sysctlPath(key string) string {
	parts := strings.Split(key, ".")
	for i, p := range parts {
		parts[i] = strings.ReplaceAll(p, "/", ".")
	}
	return filepath.Join(append([]string{"/proc/sys"}, parts...)...)
}

// ForwardingKey is the switch that makes the host route packets between
// interfaces (Documentation/networking/ip-sysctl.rst). Writing it also
// resets every interface's forwarding setting to the same value.
const ForwardingKey = "net.ipv4.ip_forward"

// RouteLocalnetKey is the per-interface switch that lets packets with a
// 127.0.0.0/8 source or destination be routed through dev instead of being
// dropped as martians; see ruleset.go for why published ports need it on
// the bridge.
func RouteLocalnetKey(dev string) string {
	return "net.ipv4.conf." + strings.ReplaceAll(dev, ".", "/") + ".route_localnet"
}

// BridgeMAC is a fixed MAC address for a bridge, from its name. A bridge
// without one takes the lowest MAC address of its ports, so it changes as
// containers come and go, and every container's ARP entry for the gateway
// goes stale at once: packets to the gateway vanish until ARP asks again.
// Docker gives its bridges a fixed address for the same reason. The first
// byte 0x02 marks it locally administered (IEEE 802: no vendor's).
func BridgeMAC(name string) net.HardwareAddr {
	sum := sha256.Sum256([]byte("bridge/" + name))
	return net.HardwareAddr{0x02, sum[0], sum[1], sum[2], sum[3], sum[4]}
}

// ContainerMAC is the MAC address of a container's end of its veth, from
// its IPv4 address, as Docker makes them: 02:42 and the four bytes of the
// address. A learner can read one from the other, and a container that
// comes back with the same address has the same MAC, so no neighbour's
// ARP entry goes stale.
func ContainerMAC(addr netip.Addr) net.HardwareAddr {
	a := addr.As4()
	return net.HardwareAddr{0x02, 0x42, a[0], a[1], a[2], a[3]}
}
