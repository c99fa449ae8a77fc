//go:build linux

package main

import (
	"errors"
	"net/netip"
	"strings"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/network"
)

// recordsNow is the network's names as they are, for the DNS responder.
func (l *lab) recordsNow() (network.Records, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := network.Records{}
	for name, addrs := range l.records {
		out[name] = addrs
	}
	return out, nil
}

func (l *lab) setNames(name string, names ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for n, addrs := range l.records {
		if addrs[0] == l.addrs[name] {
			delete(l.records, n)
		}
	}
	if len(names) > 0 {
		l.records.Add(l.addrs[name], names...)
	}
}

func (l *lab) stepNames(s *kit.Session) error {
	b := l.ctrs["b"]
	s.Cmd("ip netns exec %s cat /etc/resolv.conf    # b's own, bound over the host's when b started", l.ns["b"].Name)
	rc, err := b.do(request{Op: "cat", Name: "/etc/resolv.conf"})
	if err != nil {
		return err
	}
	s.Inside("%s", rc)

	upstream := netip.AddrPortFrom(l.outAddr, 53).String()
	listen := netip.AddrPortFrom(l.gw, 53).String()
	l.setNames("a", "a", "db")
	l.setNames("b", "b")
	l.dns = &network.DNSServer{Records: l.recordsNow, Upstreams: []string{upstream}}
	s.Cmd("# the network's DNS responder, in the lesson's process on the host, on %s (udp, tcp);\n"+
		"# it knows a (alias db) and b, and forwards other names to the world's resolver, %s", listen, upstream)
	if err := l.dns.Listen(listen); err != nil {
		return err
	}

	lookup := func(name string) string {
		addrs, err := b.do(request{Op: "lookup", Name: name})
		if err != nil {
			return "error: " + shortErr(err)
		}
		return addrs
	}
	s.Cmd("ip netns exec %s getent hosts a db b %s; ip netns exec %s nc db 80", l.ns["b"].Name, worldName, l.ns["b"].Name)
	s.Table([]string{"name", "address", "answered by"}, [][]string{
		{"a", lookup("a"), s.T("the responder: a container's name")},
		{"db", lookup("db"), s.T("the responder: a's alias (--network-alias db)")},
		{"b", lookup("b"), s.T("the responder")},
		{worldName, lookup(worldName), s.T("the world's resolver, through the responder")},
	})
	s.Inside("nc db 80: %s", b.dial("db:80"))

	// Container c comes, and goes.
	ns, err := network.NamedNetNS(network.NetNSDir, nsPrefix+"c")
	if err != nil {
		return err
	}
	var cUndo network.Undo
	var cmds []string
	trace := func(cmd string) { cmds = append(cmds, cmd) }
	defer cUndo.Run(nil)
	if err := cUndo.Apply(network.Plan{network.AddNetNS{NS: ns}}, trace); err != nil {
		printCmds(s, cmds)
		return err
	}
	l.ns["c"] = ns
	cmds = append(cmds, "ip netns exec "+ns.Name+" unshare --mount --uts <container c>")
	if _, err := l.startContainer(s, "c"); err != nil {
		printCmds(s, cmds)
		return err
	}
	err = cUndo.Apply(l.endpoint("c"), trace)
	printCmds(s, cmds)
	if err != nil {
		return err
	}
	l.setNames("c", "c")
	s.Inside("getent hosts c: %s", lookup("c"))

	cmds = []string{"ip netns pids " + ns.Name + " | xargs kill    # c goes"}
	errs := []error{l.stopContainer("c")}
	l.setNames("c")
	errs = append(errs, cUndo.Run(trace))
	delete(l.ns, "c")
	printCmds(s, cmds)
	if err := errors.Join(errs...); err != nil {
		return err
	}
	s.Inside("getent hosts c: %s", lookup("c"))

	s.Cmd("ip netns exec %s cat /etc/hosts", l.ns["b"].Name)
	hosts, err := b.do(request{Op: "cat", Name: "/etc/hosts"})
	if err != nil {
		return err
	}
	s.Inside("%s", strings.TrimRight(hosts, "\n"))
	s.Note("b asked %s, as its resolv.conf says, and the responder answered from the network's\n"+
		"names as they are at that moment: c was found while it was there, and not after. podman's\n"+
		"aardvark-dns works like this, on the gateway; Docker puts its responder at 127.0.0.11 inside\n"+
		"each container, through a socket its daemon opens in the container's namespace. /etc/hosts is\n"+
		"the other way: names written into each container's file when it starts, so b's knows only b,\n"+
		"and a container that comes later, or moves, is in nobody's (Docker's old --link rewrote them).", l.gw)
	return nil
}
