//go:build linux

package main

import (
	"net"
	"net/netip"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/network"
)

// worldName is the one name the outside world's resolver knows, and
// worldAddr its address: documentation addresses (RFC 2606, RFC 5737).
const worldName = "www.example.com"

var worldAddr = netip.AddrFrom4([4]byte{198, 51, 100, 80})

func (l *lab) stepWayOut(s *kit.Session) error {
	// The outside world: a namespace on a cable of its own, with a server
	// that says who it sees, and a resolver (step 7 forwards to it).
	out, err := l.newNS(s, "out")
	if err != nil {
		return err
	}
	bits := l.outSubnet.Bits()
	if err := l.apply(s, network.Plan{
		network.AddVeth{Name: outLink, Peer: "eth0", PeerNS: out},
		network.AddAddr{Link: outLink, Addr: netip.PrefixFrom(l.outGW, bits)},
		network.SetUp{Link: outLink},
		network.SetUp{NS: out, Link: "lo"},
		network.AddAddr{NS: out, Link: "eth0", Addr: netip.PrefixFrom(l.outAddr, bits)},
		network.SetUp{NS: out, Link: "eth0"},
	}); err != nil {
		return err
	}
	s.Cmd("ip netns exec %s <a server on :80 and a resolver on :53>    # the world's", out.Name)
	if err := l.startWorld(out); err != nil {
		return err
	}

	a := l.ctrs["a"]
	world := netip.AddrPortFrom(l.outAddr, 80).String()
	s.Cmd("ip netns exec %s nc %s 80    # from a, before anything else", l.ns["a"].Name, l.outAddr)
	s.Inside("%s", a.dial(world))

	var plan network.Plan
	for _, name := range []string{"a", "b"} {
		plan = append(plan, network.AddRoute{NS: l.ns[name], Via: l.gw})
	}
	t := network.Ruleset(table, []network.BridgeNet{{Bridge: bridge, Subnet: l.subnet}}, nil)
	plan = append(plan, network.Sysctl{Key: network.ForwardingKey, Value: "1"}, network.ApplyTable{Table: t})
	if err := l.apply(s, plan); err != nil {
		return err
	}
	s.Cmd("ip netns exec %s nc %s 80", l.ns["a"].Name, l.outAddr)
	s.Inside("%s", a.dial(world))
	if err := l.showTable(s, t); err != nil {
		return err
	}
	s.Note("Without a default route, a had no way to %s at all (connect failed at once). With\n"+
		"one, its packets reach the host, ip_forward lets the host route them on, and masquerade rewrites\n"+
		"their source to the address of the interface they leave by: the outside saw %s, never\n"+
		"%s's %s, to which it has no route. conntrack remembers the rewrite and undoes it on every\n"+
		"answer; only a connection's first packet passes the nat chain, hence one packet in the counter.",
		l.outAddr, l.outGW, a.name, l.addrs["a"])
	return nil
}

// startWorld opens the outside world's sockets inside its namespace: a
// server on :80 and an authoritative resolver on :53 that knows one name.
// The lesson's own process serves them; only the sockets are in there.
func (l *lab) startWorld(out *network.NetNS) error {
	var tcp net.Listener
	var dnsTCP net.Listener
	var dnsUDP net.PacketConn
	err := out.Do(func() (err error) {
		if tcp, err = net.Listen("tcp4", ":80"); err != nil {
			return err
		}
		dnsAddr := netip.AddrPortFrom(l.outAddr, 53).String()
		if dnsUDP, err = net.ListenPacket("udp4", dnsAddr); err != nil {
			return err
		}
		dnsTCP, err = net.Listen("tcp4", dnsAddr)
		return err
	})
	if err != nil {
		for _, c := range []interface{ Close() error }{tcp, dnsTCP, dnsUDP} {
			if c != nil {
				c.Close()
			}
		}
		return err
	}
	l.closers = append(l.closers, tcp.Close)
	go serveLines(tcp, "outside")
	resolver := &network.DNSServer{Authoritative: true, Records: func() (network.Records, error) {
		r := network.Records{}
		r.Add(worldAddr, worldName)
		return r, nil
	}}
	if err := resolver.Serve(dnsUDP, dnsTCP); err != nil {
		dnsUDP.Close()
		dnsTCP.Close()
		return err
	}
	l.closers = append(l.closers, resolver.Close)
	return nil
}

// showTable prints our table as the kernel has it, counters and all.
func (l *lab) showTable(s *kit.Session, t *network.Table) error {
	counted, err := network.ReadCounters(t)
	if err != nil {
		return err
	}
	s.Cmd("nft list table ip %s", t.Name)
	s.Show("%s", counted)
	return nil
}
