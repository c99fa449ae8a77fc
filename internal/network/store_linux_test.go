package network_test

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/unboxlab/unbox/internal/network"
)

// TestPrivStoreEndToEnd builds what `unbox network create` and two
// `unbox run --network` would, and checks it from both sides: containers
// reach each other and the host, a published port is reachable from the
// host's 127.0.0.1 and by hairpin, names resolve while the container is
// there and stop when it goes, and removing everything leaves the host as
// it was.
func TestPrivStoreEndToEnd(t *testing.T) {
	privileged(t)
	s := openStore(t)
	var trace []string
	s.Trace = func(cmd string) { trace = append(trace, cmd) }
	n := createNetwork(t, s, network.Network{Name: "e2e"})
	if !n.Subnet.IsValid() || n.Gateway != network.FirstHost(n.Subnet) || !strings.HasPrefix(n.Bridge, "ubx") {
		t.Fatalf("Create = %+v; want a chosen subnet, its first address as gateway, a ubx bridge", n)
	}
	if fwd, _ := network.ReadSysctl(network.ForwardingKey); fwd != "1" {
		t.Errorf("ip_forward = %s with a network; want 1", fwd)
	}

	dir := t.TempDir()
	nsA, nsB := newNS(t, dir, "a"), newNS(t, dir, "b")
	hp := freePort(t)
	a := connect(t, s, "e2e", network.Endpoint{Name: "a", Aliases: []string{"db"}, NetNS: nsA.Path,
		Ports: []network.PortMapping{{HostPort: hp, ContainerPort: 80, Proto: "tcp"}}})
	b := connect(t, s, "e2e", network.Endpoint{Name: "b", NetNS: nsB.Path})
	if a.Addr == b.Addr || !n.Subnet.Contains(a.Addr) || !n.Subnet.Contains(b.Addr) {
		t.Fatalf("addresses a=%s b=%s; want two different ones in %s", a.Addr, b.Addr, n.Subnet)
	}

	serve(t, nsA, ":80", "a")
	serve(t, nsB, ":80", "b")
	gw := n.Gateway.String()
	pub := fmt.Sprintf("%s:%d", gw, hp)
	mustDial(t, nil, a.Addr.String()+":80", "a saw "+gw)                   // host → a, through the bridge
	mustDial(t, nsB, a.Addr.String()+":80", "a saw "+b.Addr.String())      // b → a, on the bridge
	mustDial(t, nsA, b.Addr.String()+":80", "b saw "+a.Addr.String())      // a → b
	mustDial(t, nil, fmt.Sprintf("127.0.0.1:%d", hp), "a saw "+gw)         // the host's loopback, DNAT + masquerade
	mustDial(t, nsB, pub, "a saw "+gw)                                     // b → the published port
	mustDial(t, nsA, pub, "a saw "+gw)                                     // hairpin: a → its own published port
	if got, err := dial(nsB, fmt.Sprintf("%s:%d", gw, hp+1)); err == nil { // nothing there
		t.Errorf("dial an unpublished port on the gateway = %q; want an error", got)
	}

	// A way out: the host serves on the gateway, and sees a's own address
	// (traffic to the host itself is not masqueraded).
	hostAddr := serve(t, nil, gw+":0", "host")
	mustDial(t, nsA, hostAddr.String(), "host saw "+a.Addr.String())

	// Names, with a fake upstream for everything else.
	upstream := fakeUpstream(t, "outside.test.", "192.0.2.99")
	srv := &network.DNSServer{Records: s.Records("e2e"), Upstreams: []string{upstream}}
	if err := srv.Listen(gw + ":0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	for name, want := range map[string]string{"a": a.Addr.String(), "db": a.Addr.String(), "b": b.Addr.String(), "outside.test": "192.0.2.99"} {
		if got := lookupIn(t, nsB, srv.Addr(), name); got != want {
			t.Errorf("from b, %s resolves to %q; want %q", name, got, want)
		}
	}
	if err := s.Disconnect("e2e", "a"); err != nil {
		t.Fatal(err)
	}
	if got := lookupIn(t, nsB, srv.Addr(), "db"); got != "NXDOMAIN" {
		t.Errorf("after a left, db resolves to %q; want NXDOMAIN (from the upstream)", got)
	}
	if links, _ := network.Links(nsA); slices.ContainsFunc(links, func(l network.LinkInfo) bool { return l.Name == "eth0" }) {
		t.Errorf("after Disconnect, a still has eth0: %v", links)
	}
	if _, err := dial(nil, fmt.Sprintf("127.0.0.1:%d", hp)); err == nil {
		t.Errorf("after Disconnect, 127.0.0.1:%d still answers", hp)
	}

	for _, want := range []string{"ip link add " + n.Bridge + " type bridge", "sysctl -w net.ipv4.conf." + n.Bridge + ".route_localnet=1",
		"ip link add " + a.HostLink + " type veth peer name eth0 address " + network.ContainerMAC(a.Addr).String() + " netns a", "nsenter --net=" + nsA.Path + " ip route add default via " + gw,
		fmt.Sprintf("fib daddr type local tcp dport %d counter dnat to %s:80", hp, a.Addr)} {
		if !slices.ContainsFunc(trace, func(c string) bool { return strings.Contains(c, want) }) {
			t.Errorf("trace lacks %q:\n%s", want, strings.Join(trace, "\n"))
		}
	}
}

// lookupIn asks the responder at server, from inside ns, for name's A
// record: the address, or the response code's name.
func lookupIn(t *testing.T, ns *network.NetNS, server, name string) string {
	t.Helper()
	var resp *dns.Msg
	err := ns.Do(func() (err error) {
		m := new(dns.Msg).SetQuestion(dns.Fqdn(name), dns.TypeA)
		resp, _, err = new(dns.Client).Exchange(m, server)
		return err
	})
	if err != nil {
		t.Fatalf("query %s for %s from %s: %v", server, name, ns.Name, err)
	}
	if resp.Rcode != dns.RcodeSuccess {
		return dns.RcodeToString[resp.Rcode]
	}
	var addrs []string
	for _, rr := range resp.Answer {
		if a, ok := rr.(*dns.A); ok {
			addrs = append(addrs, a.A.String())
		}
	}
	return strings.Join(addrs, " ")
}

// TestPrivStoreEnsure: Ensure makes a network that is not there, gives
// one whose bridge the host lost (a reboot) its bridge and rules back,
// and leaves a whole one as it is; the errors callers tell apart are
// ErrNotFound and ErrInUse.
func TestPrivStoreEnsure(t *testing.T) {
	privileged(t)
	s := openStore(t)
	n, err := s.Ensure(network.Network{Name: "lazy", Bridge: network.LinkName(t.Name()), Labels: map[string]string{"k": "v"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Remove("lazy") })
	if _, err := network.Link(nil, n.Bridge); err != nil || n.Labels["k"] != "v" {
		t.Fatalf("Ensure of a new network = %+v (bridge: %v); want it made, with its labels", n, err)
	}
	table, err := s.Ruleset()
	if err != nil {
		t.Fatal(err)
	}
	if err := network.DeleteLink(n.Bridge); err != nil {
		t.Fatal(err)
	}
	again, err := s.Ensure(network.Network{Name: "lazy"})
	if err != nil {
		t.Fatal(err)
	}
	if again.Subnet != n.Subnet || again.Bridge != n.Bridge {
		t.Errorf("Ensure after the bridge went = %+v; want the network as it was, %+v", again, n)
	}
	l, err := network.Link(nil, n.Bridge)
	if err != nil || !l.Up || !slices.Contains(l.Addrs, netip.PrefixFrom(n.Gateway, n.Subnet.Bits())) {
		t.Errorf("bridge after Ensure = %+v, %v; want it back, up, with the gateway address", l, err)
	}
	if ok, _ := network.TableExists(table.Name); !ok {
		t.Errorf("table %s missing after Ensure", table.Name)
	}
	dir := t.TempDir()
	connect(t, s, "lazy", network.Endpoint{Name: "c", NetNS: newNS(t, dir, "c").Path})
	if err := s.Remove("lazy"); !errors.Is(err, network.ErrInUse) {
		t.Errorf("Remove of a network in use = %v; want ErrInUse", err)
	}
	if _, err := s.Get("nosuch"); !errors.Is(err, network.ErrNotFound) {
		t.Errorf("Get(nosuch) = %v; want ErrNotFound", err)
	}
}

// TestPrivStoreReserve: an address reserved before the endpoint exists is
// the one Connect uses, a second owner gets another, and Disconnect gives
// a reservation back even when no endpoint was made.
func TestPrivStoreReserve(t *testing.T) {
	privileged(t)
	s := openStore(t)
	n := createNetwork(t, s, network.Network{Name: "res", Bridge: network.LinkName(t.Name())})
	a, err := s.Reserve("res", "a", netip.Addr{})
	if err != nil {
		t.Fatal(err)
	}
	if b, err := s.Reserve("res", "b", netip.Addr{}); err != nil || b == a || !n.Subnet.Contains(b) {
		t.Fatalf("Reserve(b) = %s, %v; want another address of %s than a's %s", b, err, n.Subnet, a)
	}
	ep := connect(t, s, "res", network.Endpoint{Name: "a", NetNS: newNS(t, t.TempDir(), "a").Path, Addr: a})
	if ep.Addr != a {
		t.Errorf("Connect after Reserve = %s; want the reserved %s", ep.Addr, a)
	}
	if ls, err := s.Leases("res"); err != nil || len(ls) != 2 || ls[1].Owner != "b" {
		t.Errorf("Leases = %v, %v; want a's and b's", ls, err)
	}
	if err := s.Disconnect("res", "a"); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove("res"); !errors.Is(err, network.ErrInUse) || !strings.Contains(err.Error(), "has b on it") {
		t.Errorf("Remove with b's reservation = %v; want ErrInUse naming b", err)
	}
	ep = connect(t, s, "res", network.Endpoint{Name: "a", NetNS: newNS(t, t.TempDir(), "a2").Path, Addr: a})
	if err := s.Disconnect("res", "b"); err != nil {
		t.Fatal(err)
	}
	if again, err := s.Reserve("res", "c", netip.Addr{}); err != nil || again != a.Next() {
		t.Errorf("Reserve(c) after b's release = %s, %v; want b's address back, %s", again, err, a.Next())
	}
	s.Disconnect("res", "c")
}
