package network_test

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/unboxlab/unbox/internal/network"
)

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func addr(s string) netip.Addr  { return netip.MustParseAddr(s) }

func TestParsePort(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want network.PortMapping
	}{
		{"80", network.PortMapping{ContainerPort: 80, Proto: "tcp"}},
		{"8080:80", network.PortMapping{HostPort: 8080, ContainerPort: 80, Proto: "tcp"}},
		{"8080:80/udp", network.PortMapping{HostPort: 8080, ContainerPort: 80, Proto: "udp"}},
		{"127.0.0.1:8080:80", network.PortMapping{HostIP: addr("127.0.0.1"), HostPort: 8080, ContainerPort: 80, Proto: "tcp"}},
		{"127.0.0.1::53/udp", network.PortMapping{HostIP: addr("127.0.0.1"), ContainerPort: 53, Proto: "udp"}},
		{"1:65535", network.PortMapping{HostPort: 1, ContainerPort: 65535, Proto: "tcp"}},
	} {
		got, err := network.ParsePort(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParsePort(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
			continue
		}
		if back, err := network.ParsePort(got.String()); err != nil || back != got {
			t.Errorf("ParsePort(%q.String() = %q) = %+v, %v; want it back", tc.in, got.String(), back, err)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"70000:80", "host port 70000 is out of range (1-65535)"},
		{"8080:0", "container port 0 is out of range (1-65535)"},
		{"8080:", "container port is missing"},
		{"http:80", `host port "http" is not a number`},
		{"8080:80/sctp", `protocol "sctp": tcp or udp`},
		{"localhost:8080:80", `host address "localhost" is not an IPv4 address`},
		{"[::1]:8080:80", "IPv6 addresses are not supported yet"},
		{"1:2:3:4", "too many colons"},
		{"", "container port is missing"},
	} {
		_, err := network.ParsePort(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "e.g. 8080:80") {
			t.Errorf("ParsePort(%q) = %v; want an error saying %q and showing the form", tc.in, err, tc.want)
		}
	}
}

func TestParsePorts(t *testing.T) {
	m := func(ip string, host, end, ctr uint16, proto string) network.PortMapping {
		p := network.PortMapping{HostPort: host, HostPortEnd: end, ContainerPort: ctr, Proto: proto}
		if ip != "" {
			p.HostIP = addr(ip)
		}
		return p
	}
	for _, tc := range []struct {
		in   string
		want []network.PortMapping
	}{
		{"8080:80", []network.PortMapping{m("", 8080, 0, 80, "tcp")}},
		{"8000-8002:80-82", []network.PortMapping{m("", 8000, 0, 80, "tcp"), m("", 8001, 0, 81, "tcp"), m("", 8002, 0, 82, "tcp")}},
		{"127.0.0.1:8000-8001:80-81/udp", []network.PortMapping{m("127.0.0.1", 8000, 0, 80, "udp"), m("127.0.0.1", 8001, 0, 81, "udp")}},
		{"8000-8010:80", []network.PortMapping{m("", 8000, 8010, 80, "tcp")}},
		{"80-81", []network.PortMapping{m("", 0, 0, 80, "tcp"), m("", 0, 0, 81, "tcp")}},
		{"127.0.0.1::80-81", []network.PortMapping{m("127.0.0.1", 0, 0, 80, "tcp"), m("127.0.0.1", 0, 0, 81, "tcp")}},
	} {
		got, err := network.ParsePorts(tc.in)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ParsePorts(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	if got := (network.PortMapping{HostPort: 8000, HostPortEnd: 8010, ContainerPort: 80, Proto: "tcp"}).String(); got != "8000-8010:80/tcp" {
		t.Errorf("a range's String() = %q", got)
	}
	for _, tc := range []struct{ in, want string }{
		{"8000-8002:80-81", "differ in length"},
		{"8002-8000:80", "ends before it starts"},
		{"8000-:80", "host port is missing"},
		{"8000:80-x", `"x" is not a number`},
		{"8000-70000:80", "out of range"},
	} {
		if _, err := network.ParsePorts(tc.in); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParsePorts(%q) = %v; want an error saying %q", tc.in, err, tc.want)
		}
	}
}

func TestPortOverlaps(t *testing.T) {
	p := func(s string) network.PortMapping {
		m, err := network.ParsePort(s)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"8080:80", "8080:81", true},
		{"8080:80", "8081:80", false},
		{"8080:80", "8080:80/udp", false},
		{"127.0.0.1:8080:80", "8080:80", true},
		{"127.0.0.1:8080:80", "192.0.2.1:8080:80", false},
		{"127.0.0.1:8080:80", "127.0.0.1:8080:90", true},
	} {
		if got := p(tc.a).Overlaps(p(tc.b)); got != tc.want {
			t.Errorf("(%s).Overlaps(%s) = %v; want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestChooseSubnet(t *testing.T) {
	routes := []network.HostRoute{
		{Dst: pfx("0.0.0.0/0"), Dev: "eth0"}, // the default route is no clash
		{Dst: pfx("10.66.0.0/24"), Dev: "eth0"},
		{Dst: pfx("10.66.1.128/25"), Dev: "wg0"},
		{Dst: pfx("127.0.0.0/8"), Dev: "lo"},
	}
	got, seen, err := network.ChooseSubnet(pfx("10.66.0.0/16"), 24, routes, []netip.Prefix{pfx("10.66.2.0/23")})
	if err != nil || got != pfx("10.66.4.0/24") {
		t.Fatalf("ChooseSubnet = %s, %v; want 10.66.4.0/24", got, err)
	}
	want := []network.Candidate{
		{Subnet: pfx("10.66.0.0/24"), Clash: "the host's route 10.66.0.0/24 dev eth0"},
		{Subnet: pfx("10.66.1.0/24"), Clash: "the host's route 10.66.1.128/25 dev wg0"},
		{Subnet: pfx("10.66.2.0/24"), Clash: "the subnet of another network, 10.66.2.0/23"},
		{Subnet: pfx("10.66.3.0/24"), Clash: "the subnet of another network, 10.66.2.0/23"},
		{Subnet: pfx("10.66.4.0/24")},
	}
	if !slices.Equal(seen, want) {
		t.Errorf("ChooseSubnet candidates = %v; want %v", seen, want)
	}

	// A pool that is all taken.
	_, _, err = network.ChooseSubnet(pfx("10.66.0.0/23"), 24, routes, nil)
	if err == nil || !strings.Contains(err.Error(), "no free /24 in 10.66.0.0/23") {
		t.Errorf("ChooseSubnet in a full pool = %v; want it to say so", err)
	}
	// The last /24 of the address space: no overflow.
	if got, _, err := network.ChooseSubnet(pfx("255.255.255.0/24"), 24, nil, nil); err != nil || got != pfx("255.255.255.0/24") {
		t.Errorf("ChooseSubnet at the end of the space = %s, %v", got, err)
	}
	if _, _, err := network.ChooseSubnet(pfx("10.0.0.0/16"), 31, nil, nil); err == nil {
		t.Errorf("ChooseSubnet of /31: no error; want one (no room for a gateway and a container)")
	}
}

func TestCheckSubnet(t *testing.T) {
	routes := []network.HostRoute{{Dst: pfx("192.0.2.0/24"), Dev: "eth0"}}
	for _, tc := range []struct {
		subnet string
		want   string
	}{
		{"192.0.2.0/25", "subnet 192.0.2.0/25 overlaps the host's route 192.0.2.0/24 dev eth0: choose another subnet"},
		{"192.0.0.0/16", "overlaps the host's route 192.0.2.0/24 dev eth0"},
		{"10.1.2.3/24", "host bits are set; did you mean 10.1.2.0/24?"},
		{"10.1.2.0/31", "too small"},
		{"10.7.0.0/24", "overlaps the subnet of another network, 10.7.0.0/16"},
	} {
		err := network.CheckSubnet(pfx(tc.subnet), routes, []netip.Prefix{pfx("10.7.0.0/16")})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("CheckSubnet(%s) = %v; want %q", tc.subnet, err, tc.want)
		}
	}
	if err := network.CheckSubnet(pfx("10.8.0.0/24"), routes, nil); err != nil {
		t.Errorf("CheckSubnet of a free subnet = %v", err)
	}
}

func newLeases(t *testing.T, subnet string) *network.Leases {
	s := pfx(subnet)
	return &network.Leases{Dir: t.TempDir(), Subnet: s, Gateway: network.FirstHost(s)}
}

func TestLeases(t *testing.T) {
	l := newLeases(t, "10.66.0.0/29") // .1 gateway, .2 to .6 for containers, .7 broadcast
	alloc := func(owner string) netip.Addr {
		a, err := l.Allocate(owner)
		if err != nil {
			t.Fatalf("Allocate(%s): %v", owner, err)
		}
		return a
	}
	if a, b := alloc("a"), alloc("b"); a != addr("10.66.0.2") || b != addr("10.66.0.3") {
		t.Errorf("first leases = %s, %s; want 10.66.0.2, 10.66.0.3", a, b)
	}
	if again := alloc("a"); again != addr("10.66.0.2") {
		t.Errorf("Allocate(a) again = %s; want its own 10.66.0.2", again)
	}
	if err := l.Release("a"); err != nil {
		t.Fatal(err)
	}
	if c := alloc("c"); c != addr("10.66.0.2") {
		t.Errorf("after a's release, c got %s; want the freed 10.66.0.2", c)
	}
	if err := l.Release("nobody"); err != nil {
		t.Errorf("Release of nothing = %v; want nil", err)
	}
	if _, err := l.AllocateAddr("d", addr("10.66.0.3")); err == nil || !strings.Contains(err.Error(), "b holds it") {
		t.Errorf("AllocateAddr of b's address = %v; want it refused, naming b", err)
	}
	for _, bad := range []string{"10.66.0.0", "10.66.0.1", "10.66.0.7", "10.66.1.2"} {
		if _, err := l.AllocateAddr("d", addr(bad)); err == nil {
			t.Errorf("AllocateAddr(%s) succeeded; want it refused", bad)
		}
	}
	if d, err := l.AllocateAddr("d", addr("10.66.0.6")); err != nil || d != addr("10.66.0.6") {
		t.Errorf("AllocateAddr(10.66.0.6) = %s, %v", d, err)
	}
	alloc("e")
	alloc("f")
	if _, err := l.Allocate("g"); err == nil || !strings.Contains(err.Error(), "no free address in 10.66.0.0/29 for g") {
		t.Errorf("Allocate in a full subnet = %v; want it to say so", err)
	}
	list, err := l.List()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ls := range list {
		got = append(got, ls.Owner+"="+ls.Addr.String())
	}
	want := []string{"c=10.66.0.2", "b=10.66.0.3", "e=10.66.0.4", "f=10.66.0.5", "d=10.66.0.6"}
	if !slices.Equal(got, want) {
		t.Errorf("List = %v; want %v", got, want)
	}
	other := &network.Leases{Dir: l.Dir, Subnet: pfx("10.67.0.0/24"), Gateway: addr("10.67.0.1")}
	if _, err := other.Allocate("x"); err == nil || !strings.Contains(err.Error(), "is for subnet 10.66.0.0/29") {
		t.Errorf("Allocate with another subnet on the same file = %v; want it refused", err)
	}
	if err := os.WriteFile(l.LeaseFile(), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Allocate("x"); err == nil || !strings.Contains(err.Error(), "is damaged") {
		t.Errorf("Allocate with a damaged file = %v; want it to say so", err)
	}
}

// TestLeasesConcurrent: 100 allocations at once, each from its own
// goroutine, each opening and locking the lock file itself as another
// process would: 100 different addresses, all recorded.
func TestLeasesConcurrent(t *testing.T) {
	l := newLeases(t, "10.66.0.0/24")
	const n = 100
	got := make([]netip.Addr, n)
	errs := make([]error, n)
	atOnce(n, func(i int) {
		// Each its own Leases value, as separate processes would have.
		mine := *l
		got[i], errs[i] = mine.Allocate(fmt.Sprintf("c%d", i))
	})
	seen := map[netip.Addr]int{}
	for i, a := range got {
		if errs[i] != nil {
			t.Fatalf("Allocate(c%d): %v", i, errs[i])
		}
		if j, dup := seen[a]; dup {
			t.Errorf("c%d and c%d both got %s", j, i, a)
		}
		seen[a] = i
	}
	list, err := l.List()
	if err != nil || len(list) != n {
		t.Errorf("lease file holds %d leases (%v); want %d: a write was lost", len(list), err, n)
	}
	if _, err := os.Stat(filepath.Join(l.Dir, "leases.lock")); err != nil {
		t.Errorf("no lock file: %v", err)
	}
}

func TestRuleset(t *testing.T) {
	nets := []network.BridgeNet{
		{Bridge: "ubx-a", Subnet: pfx("10.66.0.0/24"), Localnet: true},
		{Bridge: "ubx-b", Subnet: pfx("10.66.1.0/24")},
	}
	fwds := []network.Forward{
		{PortMapping: network.PortMapping{HostPort: 8080, ContainerPort: 80, Proto: "tcp"}, To: addr("10.66.0.2"), Owner: "web"},
		{PortMapping: network.PortMapping{HostIP: addr("127.0.0.1"), HostPort: 5353, ContainerPort: 53, Proto: "udp"}, To: addr("10.66.0.3")},
	}
	got := network.Ruleset("unbox-t", nets, fwds).String()
	want := `table ip unbox-t {
  chain guard {
    type filter hook prerouting priority raw; policy accept;
    iifname "ubx-a" ip daddr 127.0.0.0/8 counter drop
  }

  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    fib daddr type local tcp dport 8080 counter dnat to 10.66.0.2:80 comment "web -p 8080:80/tcp"
    ip daddr 127.0.0.1 udp dport 5353 counter dnat to 10.66.0.3:53
  }

  chain output {
    type nat hook output priority dstnat; policy accept;
    fib daddr type local tcp dport 8080 counter dnat to 10.66.0.2:80 comment "web -p 8080:80/tcp"
    ip daddr 127.0.0.1 udp dport 5353 counter dnat to 10.66.0.3:53
  }

  chain isolate {
    type filter hook forward priority filter; policy accept;
    iifname "ubx-a" oifname "ubx-b" ct status ! dnat counter drop
    iifname "ubx-b" oifname "ubx-a" ct status ! dnat counter drop
  }

  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    ip saddr 10.66.0.0/24 oifname != "ubx-a" counter masquerade
    oifname "ubx-a" ip saddr 127.0.0.0/8 counter masquerade
    oifname "ubx-a" ip saddr 10.66.0.0/24 ct status dnat counter masquerade
    ip saddr 10.66.1.0/24 oifname != "ubx-b" counter masquerade
  }
}
`
	if got != want {
		t.Errorf("Ruleset =\n%s\nwant\n%s", got, want)
	}
	// Only masquerade, as lesson 06's step 5 has it: no empty chains.
	only := network.Ruleset("unbox-t", nets[1:], nil)
	if len(only.Chains) != 1 || only.Chain("postrouting") == nil || len(only.Chain("postrouting").Rules) != 1 {
		t.Errorf("Ruleset of one network without ports =\n%s\nwant one chain with one rule", only)
	}
}

func TestPlanCommands(t *testing.T) {
	n := network.Network{Name: "web", Bridge: "ubx-web", Subnet: pfx("10.66.0.0/24"), Gateway: addr("10.66.0.1")}
	ns := &network.NetNS{Name: "unbox-a", Path: "/run/netns/unbox-a"}
	ep := network.Endpoint{Name: "a", IfName: "eth0", HostLink: "ubx-a", Addr: addr("10.66.0.2")}
	got := append(network.BridgePlan(n).Commands(), network.EndpointPlan(n, ep, ns).Commands()...)
	want := []string{
		"ip link add ubx-web type bridge",
		"ip addr add 10.66.0.1/24 dev ubx-web",
		"sysctl -w net.ipv4.conf.ubx-web.route_localnet=1",
		"ip link set ubx-web up",
		"ip link add ubx-a type veth peer name eth0 address 02:42:0a:42:00:02 netns unbox-a",
		"ip link set ubx-a master ubx-web",
		"bridge link set dev ubx-a hairpin on",
		"ip link set ubx-a up",
		"ip -n unbox-a link set lo up",
		"ip -n unbox-a addr add 10.66.0.2/24 dev eth0",
		"ip -n unbox-a link set eth0 up",
		"ip -n unbox-a route add default via 10.66.0.1",
	}
	if !slices.Equal(got, want) {
		t.Errorf("plan commands =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// A second network of a container adds no default route.
	ep.NoRoute, ep.IfName = true, "eth1"
	if got := network.EndpointPlan(n, ep, ns).Commands(); slices.ContainsFunc(got, func(c string) bool { return strings.Contains(c, "route add") }) {
		t.Errorf("EndpointPlan with NoRoute =\n%s\nwant no route added", strings.Join(got, "\n"))
	}
	// A namespace outside /run/netns is reached with nsenter.
	other := &network.NetNS{Name: "x", Path: "/var/lib/unbox/netns/x"}
	if got := (network.SetUp{NS: other, Link: "lo"}).Command(); got != "nsenter --net=/var/lib/unbox/netns/x ip link set lo up" {
		t.Errorf("SetUp in %s = %q", other.Path, got)
	}
	if got := network.RouteLocalnetKey("ubx.1"); got != "net.ipv4.conf.ubx/1.route_localnet" {
		t.Errorf("RouteLocalnetKey(ubx.1) = %q; want the dot written as a slash, as sysctl(8) does", got)
	}
}

func TestNames(t *testing.T) {
	for _, ok := range []string{"a", "db", "web-1", "my_app.v2", strings.Repeat("x", 63)} {
		if err := network.CheckName("container", ok); err != nil {
			t.Errorf("CheckName(%q) = %v; want nil", ok, err)
		}
	}
	for _, bad := range []string{"", "-a", ".a", "a/b", "a b", "../x", strings.Repeat("x", 64), "é"} {
		if err := network.CheckName("container", bad); err == nil {
			t.Errorf("CheckName(%q) = nil; want an error", bad)
		}
	}
	for _, name := range []string{"a", "mynet", strings.Repeat("n", 40)} {
		if b := network.BridgeName(name); len(b) > 15 || !strings.HasPrefix(b, "ubx") || network.CheckLinkName(b) != nil {
			t.Errorf("BridgeName(%q) = %q; want a ubx name of 15 bytes at most", name, b)
		}
	}
	if a, b := network.HostLinkName("n", "a"), network.HostLinkName("n", "b"); a == b || len(a) > 15 {
		t.Errorf("HostLinkName = %q, %q; want two different names within 15 bytes", a, b)
	}
	if got := network.ContainerMAC(addr("10.66.0.2")).String(); got != "02:42:0a:42:00:02" {
		t.Errorf("ContainerMAC(10.66.0.2) = %s; want 02:42:0a:42:00:02", got)
	}
	if mac := network.BridgeMAC("ubx-web"); mac[0] != 0x02 || mac.String() != network.BridgeMAC("ubx-web").String() {
		t.Errorf("BridgeMAC = %s; want a stable, locally administered address", mac)
	}
}
