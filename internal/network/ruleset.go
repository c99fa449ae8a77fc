package network

import (
	"fmt"
	"net/netip"
)

// BridgeNet is one bridge network as the rules see it.
type BridgeNet struct {
	Bridge string
	Subnet netip.Prefix
	// Localnet says route_localnet is on for the bridge, so that the host's
	// own connections to 127.0.0.1:PORT can be sent into the network (see
	// Ruleset). It brings two more rules: the masquerade that gives those
	// connections a source the container can answer, and the guard that
	// keeps the bridge from reaching the host's loopback services.
	Localnet bool
}

// Forward is one published port: a PortMapping with a chosen HostPort, and
// the container address it leads to.
type Forward struct {
	PortMapping
	To    netip.Addr
	Owner string // the container, for the rule's comment
}

// Ruleset builds our nftables table for a set of bridge networks and the
// ports published into them. The table is a function of that state and
// nothing else, so it is always rebuilt whole and swapped in one
// transaction; whatever happened before (a crash half-way through adding a
// rule), applying it makes the kernel agree with the state again.
//
// For each network, in chain postrouting (nat, srcnat):
//
//	ip saddr SUBNET oifname != BRIDGE masquerade
//
// Packets from the containers that leave through any other interface get
// the outgoing interface's address as their source, so the replies find
// their way back; conntrack undoes the rewrite on every reply.
//
// For each published port, in chains prerouting and output (nat, dstnat):
//
//	fib daddr type local tcp dport HOST_PORT dnat to CONTAINER:PORT
//
// "fib daddr type local" is "addressed to this host", any of its addresses
// (iptables' -m addrtype --dst-type LOCAL, as Docker writes it), so traffic
// that only passes through the host keeps its destination. Prerouting sees
// connections that arrive from outside and from the containers; output sees
// the host's own. A mapping with a HostIP matches that address instead.
//
// The host's own connections to 127.0.0.1:PORT: DNAT in output turns the
// destination into the container's address, but the source stays
// 127.0.0.1, which the kernel refuses to route out of any interface but lo
// (a "martian") unless route_localnet is on for that interface
// (Documentation/networking/ip-sysctl.rst). So the bridge gets
// route_localnet=1, and postrouting masquerades those packets:
//
//	oifname BRIDGE ip saddr 127.0.0.0/8 masquerade
//
// The other way, Docker's default, is a userspace proxy (docker-proxy): a
// process per published port listens on the host and copies bytes to the
// container. It works without route_localnet and holds the port so no other
// program can take it, but costs a process and a copy of every byte, and
// needs a daemon to keep it running. We are daemonless and want the
// kernel's speed, so we do what podman's netavark does: route_localnet and
// masquerade. The price is that route_localnet, on its own, would let a
// container send packets to the host's 127.0.0.1 services through the
// bridge (CVE-2020-8558, in kube-proxy), so chain guard (filter, raw)
// drops them before routing:
//
//	iifname BRIDGE ip daddr 127.0.0.0/8 drop
//
// Hairpin: a container that connects to its own published port (or to
// another container's, on the same bridge) through the host's address is
// DNATed back into the bridge it came from. The server would then answer
// the client directly, from an address the client did not call, and the
// connection would never form; masquerading such connections makes the
// answer come back through the host:
//
//	oifname BRIDGE ip saddr SUBNET ct status dnat masquerade
//
// Isolation: with two networks or more, the host would route between them
// like any router, and a container could reach every other network's
// containers by address. Docker's networks are isolated from each other
// (its DOCKER-ISOLATION chains), so ours are: chain isolate (filter,
// forward) drops what comes in from one bridge and would leave by another,
// for each pair:
//
//	iifname BRIDGE_A oifname BRIDGE_B ct status ! dnat drop
//
// except connections DNATed to a published port: a published port is open
// to whatever reaches the host, a container of another network too. A
// container that should talk to two networks joins both (its packets then
// stay inside each bridge and are not routed).
func Ruleset(name string, nets []BridgeNet, fwds []Forward) *Table {
	guard := &Chain{Name: "guard", Type: "filter", Hook: "prerouting", Priority: -300}
	isolate := &Chain{Name: "isolate", Type: "filter", Hook: "forward", Priority: 0}
	pre := &Chain{Name: "prerouting", Type: "nat", Hook: "prerouting", Priority: -100}
	out := &Chain{Name: "output", Type: "nat", Hook: "output", Priority: -100}
	post := &Chain{Name: "postrouting", Type: "nat", Hook: "postrouting", Priority: 100}
	loopback := netip.PrefixFrom(netip.AddrFrom4([4]byte{127, 0, 0, 0}), 8)

	for _, n := range nets {
		post.Rules = append(post.Rules, Rule{
			Match:   []Match{{Kind: MatchSaddr, Prefix: n.Subnet}, {Kind: MatchOifname, Not: true, Name: n.Bridge}},
			Verdict: Verdict{Kind: Masquerade},
		})
		if n.Localnet {
			guard.Rules = append(guard.Rules, Rule{
				Match:   []Match{{Kind: MatchIifname, Name: n.Bridge}, {Kind: MatchDaddr, Prefix: loopback}},
				Verdict: Verdict{Kind: Drop},
			})
			post.Rules = append(post.Rules, Rule{
				Match:   []Match{{Kind: MatchOifname, Name: n.Bridge}, {Kind: MatchSaddr, Prefix: loopback}},
				Verdict: Verdict{Kind: Masquerade},
			})
		}
		if hasForwardInto(n.Subnet, fwds) {
			post.Rules = append(post.Rules, Rule{
				Match:   []Match{{Kind: MatchOifname, Name: n.Bridge}, {Kind: MatchSaddr, Prefix: n.Subnet}, {Kind: MatchCtDNAT}},
				Verdict: Verdict{Kind: Masquerade},
			})
		}
	}
	for _, a := range nets {
		for _, b := range nets {
			if a.Bridge == b.Bridge {
				continue
			}
			isolate.Rules = append(isolate.Rules, Rule{
				Match:   []Match{{Kind: MatchIifname, Name: a.Bridge}, {Kind: MatchOifname, Name: b.Bridge}, {Kind: MatchCtDNAT, Not: true}},
				Verdict: Verdict{Kind: Drop},
			})
		}
	}
	for _, f := range fwds {
		dst := Match{Kind: MatchDaddrLocal}
		if f.HostIP.IsValid() {
			dst = Match{Kind: MatchDaddr, Prefix: netip.PrefixFrom(f.HostIP, 32)}
		}
		r := Rule{
			Match:   []Match{dst, {Kind: MatchDport, Proto: f.Proto, Port: f.HostPort}},
			Verdict: Verdict{Kind: DNAT, To: netip.AddrPortFrom(f.To, f.ContainerPort)},
			Comment: fmt.Sprintf("%s -p %s", f.Owner, f.PortMapping),
		}
		if f.Owner == "" {
			r.Comment = ""
		}
		pre.Rules = append(pre.Rules, r)
		out.Rules = append(out.Rules, r)
	}

	t := &Table{Name: name}
	for _, c := range []*Chain{guard, pre, out, isolate, post} {
		if len(c.Rules) > 0 {
			t.Chains = append(t.Chains, c)
		}
	}
	return t
}

func hasForwardInto(subnet netip.Prefix, fwds []Forward) bool {
	for _, f := range fwds {
		if subnet.Contains(f.To) {
			return true
		}
	}
	return false
}
