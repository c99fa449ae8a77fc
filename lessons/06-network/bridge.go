//go:build linux

package main

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/network"
)

func (l *lab) stepBridge(s *kit.Session) error {
	gw := netip.PrefixFrom(l.gw, l.subnet.Bits())
	if err := l.apply(s, network.Plan{
		network.AddBridge{Name: bridge},
		network.DelAddr{Link: hostLink("a"), Addr: gw},
		network.AddAddr{Link: bridge, Addr: gw},
		network.SetMaster{Link: hostLink("a"), Master: bridge},
		network.SetUp{Link: bridge},
	}); err != nil {
		return err
	}

	// Container b: the same steps as a, its host end a port of the bridge.
	ns, err := l.newNS(s, "b")
	if err != nil {
		return err
	}
	s.Cmd("ip netns exec %s unshare --mount --uts <container b>", ns.Name)
	b, err := l.startContainer(s, "b")
	if err != nil {
		return err
	}
	if err := l.apply(s, append(l.endpoint("b"), network.SetUp{NS: ns, Link: "lo"})); err != nil {
		return err
	}
	if err := showLinks(s, nil, "ip -br addr show master "+bridge+"; ip -br addr show "+bridge,
		hostLink("a"), hostLink("b"), bridge); err != nil {
		return err
	}

	a := l.ctrs["a"]
	s.Cmd("ip netns exec %s nc %s 80; ip netns exec %s nc %s 80", ns.Name, l.addrs["a"], l.ns["a"].Name, l.addrs["b"])
	s.Inside("b → a: %s", b.dial(l.addrs["a"].String()+":80"))
	s.Inside("a → b: %s", a.dial(l.addrs["b"].String()+":80"))

	fdb, err := network.BridgeFDB(bridge)
	if err != nil {
		return err
	}
	owner := map[string]string{}
	for name, addr := range l.addrs {
		owner[network.ContainerMAC(addr).String()] = name
	}
	var rows [][]string
	for _, e := range fdb {
		if e.Local {
			continue // the bridge's own addresses, not learned
		}
		who := "?"
		if name, ok := owner[e.MAC]; ok {
			who = s.T("%s's eth0", name)
		}
		rows = append(rows, []string{e.MAC, e.Port, who})
	}
	slices.SortFunc(rows, func(x, y []string) int { return strings.Compare(x[0], y[0]) })
	s.Cmd("bridge fdb show br %s | grep -v permanent    # what the bridge has learned", bridge)
	s.Table([]string{"MAC address", "port", "whose"}, rows)
	s.Note("The bridge is a switch: it learned from the frames it saw which port each MAC address\n"+
		"is behind, and sends a frame for a only out of %s. The gateway address moved to the bridge,\n"+
		"so the host is %s to both containers. A container's MAC is 02:42 and its IP address, as\n"+
		"Docker makes them.", hostLink("a"), l.gw)
	return nil
}
