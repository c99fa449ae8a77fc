package network_test

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"

	"github.com/unboxlab/unbox/internal/network"
)

// TestPrivTwentyContainersAtOnce connects 20 containers to one bridge from
// 20 goroutines at the same moment: each must get its own address, and
// every one must be reachable from the host and from another container.
func TestPrivTwentyContainersAtOnce(t *testing.T) {
	privileged(t)
	s := openStore(t)
	n := createNetwork(t, s, network.Network{Name: "twenty"})
	dir := t.TempDir()
	const count = 20
	nss := make([]*network.NetNS, count)
	for i := range nss {
		nss[i] = newNS(t, dir, fmt.Sprintf("c%02d", i))
	}

	eps := make([]network.Endpoint, count)
	errs := make([]error, count)
	atOnce(count, func(i int) {
		eps[i], errs[i] = s.Connect("twenty", network.Endpoint{Name: fmt.Sprintf("c%02d", i), NetNS: nss[i].Path})
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Connect c%02d: %v", i, err)
		}
		t.Cleanup(func() {
			if err := s.Disconnect("twenty", eps[i].Name); err != nil {
				t.Error(err)
			}
		})
	}

	seen := map[netip.Addr]string{}
	for _, ep := range eps {
		if other, dup := seen[ep.Addr]; dup {
			t.Errorf("%s and %s both have %s", other, ep.Name, ep.Addr)
		}
		seen[ep.Addr] = ep.Name
		if !n.Subnet.Contains(ep.Addr) || ep.Addr == n.Gateway {
			t.Errorf("%s has %s; want an address of %s other than the gateway", ep.Name, ep.Addr, n.Subnet)
		}
	}
	leases, err := (&network.Leases{Dir: filepath.Join(s.Root, "twenty"), Subnet: n.Subnet, Gateway: n.Gateway}).List()
	if err != nil || len(leases) != count {
		t.Errorf("lease file holds %d leases (%v); want %d", len(leases), err, count)
	}

	for i, ep := range eps {
		serve(t, nss[i], ":80", ep.Name)
	}
	for i, ep := range eps {
		mustDial(t, nil, ep.Addr.String()+":80", ep.Name+" saw "+n.Gateway.String())
		from := eps[(i+1)%count]
		mustDial(t, nss[(i+1)%count], ep.Addr.String()+":80", ep.Name+" saw "+from.Addr.String())
	}
}

// TestPrivBadInput: each bad request is a clear error that says what to do,
// and leaves the host and the state exactly as they were.
func TestPrivBadInput(t *testing.T) {
	privileged(t)
	s := openStore(t)
	createNetwork(t, s, network.Network{Name: "bad"})
	dir := t.TempDir()
	nsA, nsB := newNS(t, dir, "a"), newNS(t, dir, "b")
	hp := freePort(t)
	connect(t, s, "bad", network.Endpoint{Name: "a", NetNS: nsA.Path,
		Ports: []network.PortMapping{{HostPort: hp, ContainerPort: 80, Proto: "tcp"}}})

	// A program on the host that listens on a port of its own.
	busy, err := net.Listen("tcp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyPort := netip.MustParseAddrPort(busy.Addr().String()).Port()

	port := func(host, ctr uint16) []network.PortMapping {
		return []network.PortMapping{{HostPort: host, ContainerPort: ctr, Proto: "tcp"}}
	}
	for _, tc := range []struct {
		name string
		ep   network.Endpoint
		want []string
	}{
		{"port published twice", network.Endpoint{Name: "b", NetNS: nsB.Path, Ports: port(hp, 8080)},
			[]string{fmt.Sprintf("host port %d/tcp is published already, by a on network bad", hp), "choose another host port"}},
		{"port in use on the host", network.Endpoint{Name: "b", NetNS: nsB.Path, Ports: port(busyPort, 80)},
			[]string{fmt.Sprintf("host port %d/tcp is in use by another program on the host", busyPort), "choose another host port"}},
		{"container port out of range", network.Endpoint{Name: "b", NetNS: nsB.Path, Ports: port(hp+1, 0)},
			[]string{"container port 0 is out of range (1-65535)"}},
		{"the same name twice", network.Endpoint{Name: "a", NetNS: nsB.Path},
			[]string{"a container named a is on network bad already", "disconnect it first"}},
		{"no namespace", network.Endpoint{Name: "b", NetNS: filepath.Join(dir, "nonesuch")},
			[]string{"connect b to bad", "no such file or directory"}},
		{"a bad name", network.Endpoint{Name: "b/../a", NetNS: nsB.Path},
			[]string{`container name "b/../a"`, "use letters, digits"}},
		{"an address outside the subnet", network.Endpoint{Name: "b", NetNS: nsB.Path, Addr: netip.MustParseAddr("192.0.2.7")},
			[]string{"address 192.0.2.7 for b: not in"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := hostState(t, s)
			_, err := s.Connect("bad", tc.ep)
			if err == nil {
				t.Fatalf("Connect(%+v) succeeded; want an error", tc.ep)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Connect error = %q; want it to say %q", err, w)
				}
			}
			if after := hostState(t, s); after != before {
				t.Errorf("a failed Connect changed the host or the state:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}

	routes, err := network.HostRoutes()
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(routes, func(r network.HostRoute) bool { return r.Dst.Bits() <= 24 && !strings.HasPrefix(r.Dev, "ubx") })
	if i < 0 {
		t.Fatalf("the host has no route of /24 or wider to collide with: %v", routes)
	}
	clash := netip.PrefixFrom(routes[i].Dst.Addr(), 24).Masked()
	for _, tc := range []struct {
		name string
		n    network.Network
		want []string
	}{
		{"a subnet on a host route", network.Network{Name: "clash", Subnet: clash},
			[]string{"subnet " + clash.String() + " overlaps the host's route " + routes[i].String(), "choose another subnet"}},
		{"a name in use", network.Network{Name: "bad"}, []string{"network bad exists already"}},
		{"a gateway outside the subnet", network.Network{Name: "gw", Subnet: netip.MustParsePrefix("10.250.7.0/24"),
			Gateway: netip.MustParseAddr("10.250.8.1")}, []string{"gateway 10.250.8.1: not in 10.250.7.0/24"}},
		{"a bridge without our prefix", network.Network{Name: "br", Bridge: "docker0"}, []string{`host links made by unbox start with "ubx"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := hostState(t, s)
			_, err := s.Create(tc.n)
			if err == nil {
				t.Fatalf("Create(%+v) succeeded; want an error", tc.n)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Create error = %q; want it to say %q", err, w)
				}
			}
			if after := hostState(t, s); after != before {
				t.Errorf("a failed Create changed the host or the state:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}

	if err := s.Remove("bad"); err == nil || !strings.Contains(err.Error(), "network bad has a on it") {
		t.Errorf("Remove of a network in use = %v; want it refused, naming a", err)
	}
}

// hostState is everything a failed request must leave as it was: our
// links, tables and namespaces, our table's rules, and the store's files.
func hostState(t *testing.T, s *network.Store) string {
	t.Helper()
	ours, err := network.OursOnHost()
	if err != nil {
		t.Fatal(err)
	}
	links, err := network.Links(nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range links {
		names = append(names, l.Name)
	}
	rules, err := s.Ruleset()
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	filepath.WalkDir(s.Root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasSuffix(p, ".lock") && filepath.Base(p) != "lock" {
			b, _ := os.ReadFile(p)
			files = append(files, p+":\n"+string(b))
		}
		return nil
	})
	return fmt.Sprintf("%s\nlinks: %s\n%s\n%s", strings.Join(ours, "\n"), strings.Join(names, " "), rules, strings.Join(files, "\n"))
}

// TestPrivFailedPlanUndoesItself: when an action fails, what the plan did
// before it is undone, and the trace shows both.
func TestPrivFailedPlanUndoesItself(t *testing.T) {
	privileged(t)
	name := fmt.Sprintf("ubxt%d", os.Getpid())
	var trace []string
	var u network.Undo
	err := u.Apply(network.Plan{
		network.AddBridge{Name: name},
		network.SetUp{Link: name},
		network.AddAddr{Link: name + "x", Addr: netip.MustParsePrefix("10.250.9.1/24")}, // no such link
	}, func(cmd string) { trace = append(trace, cmd) })
	if err == nil || !strings.Contains(err.Error(), "no link "+name+"x on the host") {
		t.Fatalf("Apply = %v; want the missing link named", err)
	}
	if _, err := network.Link(nil, name); err == nil {
		t.Errorf("bridge %s is still there after the plan failed", name)
	}
	want := []string{"ip link add " + name + " type bridge", "ip link set " + name + " up",
		"ip addr add 10.250.9.1/24 dev " + name + "x", "ip link del " + name}
	if !slices.Equal(trace, want) {
		t.Errorf("trace = %q; want %q", trace, want)
	}
	if cmds := u.Commands(); len(cmds) != 0 {
		t.Errorf("after the failed plan, Undo still holds %q", cmds)
	}
}

// TestPrivUndoRestoresWhatWasThere: an undo deletes what its plans
// created, and puts back what they changed on things that were there: the
// sysctl and the address of a link it did not make.
func TestPrivUndoRestoresWhatWasThere(t *testing.T) {
	privileged(t)
	dir := t.TempDir()
	ns := newNS(t, dir, "u")
	was, err := network.ReadSysctl(network.ForwardingKey)
	if err != nil {
		t.Fatal(err)
	}
	flip := map[string]string{"0": "1", "1": "0"}[was]
	var u network.Undo
	if err := u.Apply(network.Plan{
		network.Sysctl{Key: network.ForwardingKey, Value: flip},
		network.SetUp{NS: ns, Link: "lo"},
		network.AddAddr{NS: ns, Link: "lo", Addr: netip.MustParsePrefix("10.250.10.1/32")},
	}, nil); err != nil {
		t.Fatal(err)
	}
	if now, _ := network.ReadSysctl(network.ForwardingKey); now != flip {
		t.Fatalf("ip_forward = %s after the plan; want %s", now, flip)
	}
	wantUndo := []string{"nsenter --net=" + ns.Path + " ip addr del 10.250.10.1/32 dev lo",
		"nsenter --net=" + ns.Path + " ip link set lo down", "sysctl -w net.ipv4.ip_forward=" + was}
	if got := u.Commands(); !slices.Equal(got, wantUndo) {
		t.Errorf("Undo.Commands = %q; want %q", got, wantUndo)
	}
	if err := u.Run(nil); err != nil {
		t.Fatal(err)
	}
	if now, _ := network.ReadSysctl(network.ForwardingKey); now != was {
		t.Errorf("ip_forward = %s after undo; want %s", now, was)
	}
	lo, err := network.Link(ns, "lo")
	if err != nil {
		t.Fatal(err)
	}
	if lo.Up || slices.Contains(lo.Addrs, netip.MustParsePrefix("10.250.10.1/32")) {
		t.Errorf("lo after undo = %+v; want down, without 10.250.10.1", lo)
	}
}

// TestPrivNetNS: a new namespace has only lo, down; Do runs in it; delete
// unpins it.
func TestPrivNetNS(t *testing.T) {
	privileged(t)
	ns, err := network.NamedNetNS(network.NetNSDir, fmt.Sprintf("unbox-test-%d", os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	if err := network.CreateNetNS(ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { network.DeleteNetNS(ns) })
	if !ns.Exists() {
		t.Fatalf("%s does not exist after CreateNetNS", ns.Path)
	}
	if err := network.CreateNetNS(ns); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("CreateNetNS twice = %v; want it refused", err)
	}
	if names, _ := network.NetNSNames(); !slices.Contains(names, ns.Name) {
		t.Errorf("ip netns list = %v; want %s in it", names, ns.Name)
	}
	links, err := network.Links(ns)
	if err != nil {
		t.Fatal(err)
	}
	if len(links) != 1 || links[0].Name != "lo" || links[0].Up {
		t.Errorf("links of a new namespace = %+v; want lo alone, down", links)
	}
	host, _ := os.Readlink("/proc/thread-self/ns/net")
	var inside string
	if err := ns.Do(func() (err error) { inside, err = os.Readlink("/proc/thread-self/ns/net"); return err }); err != nil {
		t.Fatal(err)
	}
	if inside == host || inside == "" {
		t.Errorf("Do ran in %q; want a namespace other than the host's %q", inside, host)
	}
	if back, _ := os.Readlink("/proc/thread-self/ns/net"); back != host {
		t.Errorf("after Do, this thread is in %q; want the host's %q", back, host)
	}
	if err := network.DeleteNetNS(ns); err != nil {
		t.Fatal(err)
	}
	if ns.Exists() {
		t.Errorf("%s exists after DeleteNetNS", ns.Path)
	}
	if err := ns.Do(func() error { return nil }); err == nil {
		t.Errorf("Do in a deleted namespace succeeded; want an error")
	}
}

// TestPrivOtherTablesUntouched: the host's other tables, and their rules,
// are the same after a network is created and removed, and our table is
// the only one that came and went.
func TestPrivOtherTablesUntouched(t *testing.T) {
	privileged(t)
	c, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	// Someone else's table, with a chain and a rule, in the ip family.
	foreign := &nftables.Table{Name: fmt.Sprintf("ubxforeign%d", os.Getpid()), Family: nftables.TableFamilyIPv4}
	c.AddTable(foreign)
	ch := c.AddChain(&nftables.Chain{Name: "in", Table: foreign})
	c.AddRule(&nftables.Rule{Table: foreign, Chain: ch, Exprs: []expr.Any{&expr.Counter{}}})
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.DelTable(foreign)
		if err := c.Flush(); err != nil {
			t.Error(err)
		}
	})
	before, err := network.Tables()
	if err != nil {
		t.Fatal(err)
	}
	s := openStore(t)
	n, err := s.Create(network.Network{Name: "untouched"})
	if err != nil {
		t.Fatal(err)
	}
	during, _ := network.Tables()
	if want := append(slices.Clone(before), "ip "+s.Table); !sameSet(during, want) {
		t.Errorf("tables with a network = %v; want %v", during, want)
	}
	table, err := s.Ruleset()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := network.ReadCounters(table); err != nil {
		t.Errorf("ReadCounters: %v (the kernel's table differs from the one built)", err)
	}
	if err := s.Remove(n.Name); err != nil {
		t.Fatal(err)
	}
	after, _ := network.Tables()
	if !sameSet(after, before) {
		t.Errorf("tables after Remove = %v; want %v, as before", after, before)
	}
	rules, err := c.GetRules(foreign, ch)
	if err != nil || len(rules) != 1 {
		t.Errorf("the foreign table's chain has %d rules (%v); want its 1 rule, untouched", len(rules), err)
	}
	if err := network.ApplyTableNow(&network.Table{Name: foreign.Name}); err == nil ||
		!strings.Contains(err.Error(), `ours start with "unbox"`) {
		t.Errorf("ApplyTableNow on a table without our prefix = %v; want it refused", err)
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
