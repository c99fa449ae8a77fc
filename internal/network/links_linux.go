package network

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// LinkInfo is one link as `ip -br addr` shows it, and what it is.
type LinkInfo struct {
	Index  int
	Name   string
	Kind   string // "veth", "bridge", "device" (lo, a NIC), ...
	State  string // "UP", "DOWN", "UNKNOWN" (operational state, RFC 2863)
	Up     bool   // administratively up (ip link set ... up)
	MAC    string
	Master string // the bridge this link is a port of
	Addrs  []netip.Prefix
}

// Links lists the links of a namespace (the host's when ns is nil), over
// rtnetlink (RTM_GETLINK, RTM_GETADDR), as `ip addr` does.
func Links(ns *NetNS) ([]LinkInfo, error) {
	h := newHandles()
	defer h.close()
	hl, err := h.at(ns)
	if err != nil {
		return nil, err
	}
	links, err := hl.LinkList()
	if err != nil {
		return nil, fmt.Errorf("ip link: %w", err)
	}
	names := map[int]string{}
	for _, l := range links {
		names[l.Attrs().Index] = l.Attrs().Name
	}
	var out []LinkInfo
	for _, l := range links {
		a := l.Attrs()
		info := LinkInfo{
			Index:  a.Index,
			Name:   a.Name,
			Kind:   l.Type(),
			State:  strings.ToUpper(a.OperState.String()),
			Up:     a.Flags&net.FlagUp != 0,
			MAC:    a.HardwareAddr.String(),
			Master: names[a.MasterIndex],
		}
		addrs, err := hl.AddrList(l, netlink.FAMILY_V4)
		if err != nil {
			return nil, fmt.Errorf("ip addr show %s: %w", a.Name, err)
		}
		for _, ad := range addrs {
			if p, ok := ipNetPrefix(ad.IPNet); ok {
				info.Addrs = append(info.Addrs, p)
			}
		}
		out = append(out, info)
	}
	slices.SortFunc(out, func(a, b LinkInfo) int { return a.Index - b.Index })
	return out, nil
}

// Link returns the named link of a namespace.
func Link(ns *NetNS, name string) (LinkInfo, error) {
	links, err := Links(ns)
	if err != nil {
		return LinkInfo{}, err
	}
	for _, l := range links {
		if l.Name == name {
			return l, nil
		}
	}
	where := "on the host"
	if ns != nil {
		where = "in " + ns.Name
	}
	return LinkInfo{}, fmt.Errorf("no link %s %s", name, where)
}

func hostLinks() ([]string, error) {
	entries, err := os.ReadDir("/sys/class/net")
	if err != nil {
		return nil, err
	}
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = e.Name()
	}
	return out, nil
}

func ipNetPrefix(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), ones), true
}

// Routes lists the IPv4 routes of a namespace's main table as `ip route`
// prints them ("default via 10.66.0.1 dev eth0"), without the flags that
// change on their own (linkdown follows the carrier, which the kernel
// updates in the background).
func Routes(ns *NetNS) ([]string, error) {
	h := newHandles()
	defer h.close()
	hl, err := h.at(ns)
	if err != nil {
		return nil, err
	}
	routes, err := hl.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		return nil, fmt.Errorf("ip route: %w", err)
	}
	links, _ := hl.LinkList()
	names := map[int]string{}
	for _, l := range links {
		names[l.Attrs().Index] = l.Attrs().Name
	}
	var out []string
	for _, r := range routes {
		s := "default"
		if p, ok := ipNetPrefix(r.Dst); ok && p.Bits() > 0 {
			s = prefixString(p)
		}
		if r.Gw != nil {
			s += " via " + r.Gw.String()
		}
		s += " dev " + names[r.LinkIndex]
		if r.Protocol == unix.RTPROT_KERNEL {
			s += " proto kernel"
		}
		if r.Scope == netlink.SCOPE_LINK {
			s += " scope link"
		}
		if r.Src != nil {
			s += " src " + r.Src.String()
		}
		out = append(out, s)
	}
	return out, nil
}

// HostRoutes are the routes of every routing table of the host, for
// [ChooseSubnet]: a subnet that overlaps any of them would take traffic
// meant for somewhere else.
func HostRoutes() ([]HostRoute, error) {
	h := newHandles()
	defer h.close()
	hl, err := h.at(nil)
	if err != nil {
		return nil, err
	}
	routes, err := hl.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return nil, fmt.Errorf("ip route show table all: %w", err)
	}
	links, _ := hl.LinkList()
	names := map[int]string{}
	for _, l := range links {
		names[l.Attrs().Index] = l.Attrs().Name
	}
	var out []HostRoute
	for _, r := range routes {
		p, ok := ipNetPrefix(r.Dst)
		if !ok || p.Bits() == 0 {
			continue // the default route overlaps everything, and is no clash
		}
		out = append(out, HostRoute{Dst: p.Masked(), Dev: names[r.LinkIndex]})
	}
	slices.SortFunc(out, func(a, b HostRoute) int {
		if c := a.Dst.Addr().Compare(b.Dst.Addr()); c != 0 {
			return c
		}
		return a.Dst.Bits() - b.Dst.Bits()
	})
	return slices.Compact(out), nil
}

// FDBEntry is one entry of a bridge's forwarding database: which port a MAC
// address was last seen on.
type FDBEntry struct {
	MAC  string
	Port string
	// Local is an address of the bridge itself or of one of its ports
	// ("permanent" in `bridge fdb`): not learned, but known from the start.
	Local bool
}

// BridgeFDB lists the forwarding database of a bridge, as
// `bridge fdb show br NAME` does (RTM_GETNEIGH, family AF_BRIDGE).
func BridgeFDB(bridge string) ([]FDBEntry, error) {
	h := newHandles()
	defer h.close()
	hl, err := h.at(nil)
	if err != nil {
		return nil, err
	}
	br, err := hl.LinkByName(bridge)
	if err != nil {
		return nil, fmt.Errorf("bridge fdb show br %s: %w", bridge, err)
	}
	neighs, err := hl.NeighList(0, unix.AF_BRIDGE)
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return nil, fmt.Errorf("bridge fdb show br %s: %w", bridge, err)
	}
	links, _ := hl.LinkList()
	names, masters := map[int]string{}, map[int]int{}
	for _, l := range links {
		names[l.Attrs().Index] = l.Attrs().Name
		masters[l.Attrs().Index] = l.Attrs().MasterIndex
	}
	var out []FDBEntry
	for _, n := range neighs {
		port := n.LinkIndex
		if masters[port] != br.Attrs().Index || n.Vlan > 0 {
			continue // another bridge's, or a per-VLAN copy
		}
		out = append(out, FDBEntry{
			MAC:   n.HardwareAddr.String(),
			Port:  names[port],
			Local: n.State&netlink.NUD_PERMANENT != 0,
		})
	}
	return out, nil
}

// NetNSNames lists the named network namespaces in NetNSDir, as
// `ip netns list` does.
func NetNSNames() ([]string, error) {
	entries, err := os.ReadDir(NetNSDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ip netns list: %w", err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out, nil
}
