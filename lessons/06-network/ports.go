//go:build linux

package main

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/network"
)

func (l *lab) stepPorts(s *kit.Session) error {
	p := network.PortMapping{HostPort: l.hostPort, ContainerPort: 80, Proto: "tcp"}
	if err := p.Check(); err != nil || p.HostPort == 0 {
		return fmt.Errorf("--host-port %d: a port from 1 to 65535", l.hostPort)
	}
	if err := network.HostPortFree(p); err != nil {
		return fmt.Errorf("-p %s: %w, or run the lesson with --host-port N to publish another", p, err)
	}
	// No Owner: a rule's comment naming the container would take the
	// listing past the width of a page.
	fwd := network.Forward{PortMapping: p, To: l.addrs["a"]}
	t := network.Ruleset(table, []network.BridgeNet{{Bridge: bridge, Subnet: l.subnet, Localnet: true}}, []network.Forward{fwd})
	if err := l.apply(s, network.Plan{
		network.Sysctl{Key: network.RouteLocalnetKey(bridge), Value: "1"},
		network.SetHairpin{Link: hostLink("a")},
		network.SetHairpin{Link: hostLink("b")},
		network.ApplyTable{Table: t},
	}); err != nil {
		return err
	}

	port := int(p.HostPort)
	hostAt := func(a netip.Addr) string { return netip.AddrPortFrom(a, uint16(port)).String() }
	loopback := fmt.Sprintf("127.0.0.1:%d", port)
	rows := [][]string{
		{s.T("outside"), hostAt(l.outGW), saw(dialFrom(l.ns["out"], hostAt(l.outGW))), s.T("prerouting: DNAT")},
		{s.T("the host"), loopback, saw(dialFrom(nil, loopback)), s.T("output: DNAT, then masquerade")},
		{"b", hostAt(l.gw), saw(l.ctrs["b"].dial(hostAt(l.gw))), s.T("prerouting: DNAT, then masquerade")},
		{"a", hostAt(l.outGW), saw(l.ctrs["a"].dial(hostAt(l.outGW))), s.T("the same, and back out of its port")},
	}
	s.Cmd("nc ADDRESS %d    # from each place in turn", port)
	s.Table([]string{"from", "to", "a saw", "rules"}, rows)
	if err := l.showTable(s, t); err != nil {
		return err
	}

	s.Cmd("# and what a runtime must refuse: -p %d:81 for b, -p 70000:80", port)
	taken := network.PortMapping{HostPort: p.HostPort, ContainerPort: 81, Proto: "tcp"}
	s.Host("%s", wrap(network.PortConflict(taken, "b", []network.Forward{{PortMapping: p, Owner: "a"}}).Error()))
	_, err := network.ParsePort("70000:80")
	s.Host("%s", wrap(err.Error()))
	s.Note("One rule, in two chains: prerouting catches connections that arrive from outside and from the\n"+
		"containers, output the host's own. The outside's address reached a unchanged, so a server sees\n"+
		"its real clients. The host's 127.0.0.1 needs two more things: route_localnet on the bridge, or\n"+
		"the kernel would refuse to send a packet from 127.0.0.1 out of it, and masquerade, or a would\n"+
		"answer its own loopback; guard drops anything else for 127.0.0.0/8 that comes in from the\n"+
		"bridge. Docker's docker-proxy does the 127.0.0.1 case in userspace instead: a process per port\n"+
		"that copies bytes. Hairpin: a reached itself through the host's address because its bridge port\n"+
		"may send frames back the way they came, and masquerade makes a answer via the host (%s).", l.gw)
	return nil
}

// saw keeps the address of a server's "a saw ADDRESS", or the whole line
// when it is something else (an error).
func saw(line string) string {
	if addr, ok := strings.CutPrefix(line, "a saw "); ok {
		return addr
	}
	return line
}

// wrap breaks text into lines of at most 84 characters at spaces, so that
// an evidence line stays within 100 columns with its label.
func wrap(text string) string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(text) {
		if line != "" && len(line)+1+len(w) > 84 {
			lines = append(lines, line)
			line = "  " + w
			continue
		}
		if line != "" && line != "  " {
			line += " "
		}
		line += w
	}
	return strings.Join(append(lines, line), "\n")
}
