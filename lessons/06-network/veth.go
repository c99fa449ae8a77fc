//go:build linux

package main

import (
	"net/netip"
	"strings"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/network"
)

func (l *lab) stepVeth(s *kit.Session) error {
	ns, a := l.ns["a"], l.addrs["a"]
	bits := l.subnet.Bits()
	if err := l.apply(s, network.Plan{
		network.AddVeth{Name: hostLink("a"), Peer: "eth0", PeerNS: ns, PeerMAC: network.ContainerMAC(a)},
		network.AddAddr{Link: hostLink("a"), Addr: netip.PrefixFrom(l.gw, bits)},
		network.SetUp{Link: hostLink("a")},
		network.AddAddr{NS: ns, Link: "eth0", Addr: netip.PrefixFrom(a, bits)},
		network.SetUp{NS: ns, Link: "eth0"},
	}); err != nil {
		return err
	}
	if err := showLinks(s, nil, "ip -br addr show "+hostLink("a"), hostLink("a")); err != nil {
		return err
	}
	if err := showLinks(s, ns, "ip -n "+ns.Name+" -br addr"); err != nil {
		return err
	}
	if err := showRoutes(s, nil, "ip route | grep "+hostLink("a"), hostLink("a")); err != nil {
		return err
	}
	s.Cmd("nc %s 80    # from the host, through the cable, to a's server", a)
	s.Host("%s", dialFrom(nil, a.String()+":80"))
	s.Note("Two interfaces, one in each namespace, joined: a packet sent into one comes out of the other.\n"+
		"Each end has an address of the same subnet, so the kernel added a route on each side, and a TCP\n"+
		"connection crosses. a saw the host as %s, the address of the host's end.", l.gw)
	return nil
}

// showRoutes prints the routes of a namespace (the host's when ns is nil)
// that mention one of only, as `ip route` prints them.
func showRoutes(s *kit.Session, ns *network.NetNS, cmd string, only ...string) error {
	routes, err := network.Routes(ns)
	if err != nil {
		return err
	}
	var lines []string
	for _, r := range routes {
		for _, o := range only {
			if strings.Contains(r, " "+o) {
				lines = append(lines, r)
				break
			}
		}
	}
	s.Cmd("%s", cmd)
	if ns == nil {
		s.Host("%s", strings.Join(lines, "\n"))
	} else {
		s.Inside("%s", strings.Join(lines, "\n"))
	}
	return nil
}
