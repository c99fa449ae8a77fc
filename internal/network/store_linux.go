package network

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Store keeps the bridge networks of a host, as the capstone runs them:
//
//	ROOT/lock                       flock(2): every change below happens under it
//	ROOT/forwarding.json            ip_forward as it was before the first network
//	ROOT/NAME/network.json          the Network
//	ROOT/NAME/endpoints.json        its containers (Endpoint), by name
//	ROOT/NAME/leases.json, .lock    its addresses (Leases)
//
// and one nftables table (Table) for all of its networks, which is rebuilt
// from that state after every change ([Ruleset]). Files are written whole
// and renamed into place, so a command killed at any point leaves either
// the old file or the new one; [Store.Sync] makes the rules agree with the
// files again.
type Store struct {
	Root  string
	Table string // our nftables table, "unbox…"
	// Pool is where subnets are chosen from, a /24 each; DefaultPool when
	// not valid.
	Pool netip.Prefix
	// Trace, when set, receives every command the store carries out.
	Trace Trace
}

// OpenStore returns the store at root, creating the directory.
func OpenStore(root, table string) (*Store, error) {
	if err := CheckTableName(table); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("network store: %w", err)
	}
	return &Store{Root: root, Table: table}, nil
}

func (s *Store) lock() (func(), error) { return lockFile(filepath.Join(s.Root, "lock")) }

func (s *Store) dir(name string) string { return filepath.Join(s.Root, name) }

func (s *Store) leases(n Network) *Leases {
	return &Leases{Dir: s.dir(n.Name), Subnet: n.Subnet, Gateway: n.Gateway}
}

// Create makes a network: its state, its bridge and the rules. A zero
// Subnet is chosen from Pool so it overlaps no host route and no other
// network; a zero Gateway is the subnet's first address; an empty Bridge
// is BridgeName(Name). It returns the network as made.
func (s *Store) Create(n Network) (Network, error) {
	if err := CheckName("network", n.Name); err != nil {
		return n, err
	}
	unlock, err := s.lock()
	if err != nil {
		return n, err
	}
	defer unlock()
	if _, err := os.Stat(filepath.Join(s.dir(n.Name), "network.json")); err == nil {
		return n, fmt.Errorf("network %s exists already: choose another name, or remove it first", n.Name)
	}
	return s.create(n)
}

// Ensure makes sure the network n.Name is there, whole: one the store
// does not have is created as Create would; one whose bridge the host
// lost (a reboot: the state under /var/lib survives, links do not; or a
// person's `ip link del`) gets its bridge, forwarding and rules back. It
// returns the network as it is. The engine's default network is made
// this way, on first use.
func (s *Store) Ensure(n Network) (Network, error) {
	if err := CheckName("network", n.Name); err != nil {
		return n, err
	}
	unlock, err := s.lock()
	if err != nil {
		return n, err
	}
	defer unlock()
	have, err := s.get(n.Name)
	if errors.Is(err, ErrNotFound) {
		return s.create(n)
	}
	if err != nil {
		return have, err
	}
	if _, err := os.Stat("/sys/class/net/" + have.Bridge); err == nil {
		return have, nil
	}
	var undo Undo
	if err := undo.Apply(BridgePlan(have), s.Trace); err != nil {
		return have, fmt.Errorf("network %s: restore its bridge: %w", have.Name, err)
	}
	if err := errors.Join(s.forwardingOn(), s.sync()); err != nil {
		return have, errors.Join(err, undo.Run(s.Trace))
	}
	return have, nil
}

// create is Create and Ensure's work, under the lock, for a network that
// does not exist.
func (s *Store) create(n Network) (Network, error) {
	nets, err := s.list()
	if err != nil {
		return n, err
	}
	if n, err = s.complete(n, nets); err != nil {
		return n, err
	}

	if err := os.MkdirAll(s.dir(n.Name), 0o755); err != nil {
		return n, fmt.Errorf("network %s: %w", n.Name, err)
	}
	var undo Undo
	fail := func(err error) (Network, error) {
		err = errors.Join(err, undo.Run(s.Trace), os.RemoveAll(s.dir(n.Name)))
		return n, errors.Join(err, s.sync())
	}
	if err := writeJSON(filepath.Join(s.dir(n.Name), "network.json"), n); err != nil {
		return fail(err)
	}
	if err := undo.Apply(BridgePlan(n), s.Trace); err != nil {
		return fail(fmt.Errorf("network %s: %w", n.Name, err))
	}
	if err := s.forwardingOn(); err != nil {
		return fail(err)
	}
	if err := s.sync(); err != nil {
		return fail(err)
	}
	return n, nil
}

// complete fills in what Create chooses and checks what it was given.
func (s *Store) complete(n Network, others []Network) (Network, error) {
	routes, err := HostRoutes()
	if err != nil {
		return n, err
	}
	var taken []netip.Prefix
	for _, o := range others {
		taken = append(taken, o.Subnet)
	}
	if n.Subnet.IsValid() {
		if err := CheckSubnet(n.Subnet, routes, taken); err != nil {
			return n, fmt.Errorf("network %s: %w", n.Name, err)
		}
	} else {
		pool := s.Pool
		if !pool.IsValid() {
			pool = DefaultPool
		}
		if n.Subnet, _, err = ChooseSubnet(pool, 24, routes, taken); err != nil {
			return n, fmt.Errorf("network %s: %w", n.Name, err)
		}
	}
	if !n.Gateway.IsValid() {
		n.Gateway = FirstHost(n.Subnet)
	}
	l := Leases{Subnet: n.Subnet}
	if why := l.unusable(n.Gateway); why != "" {
		return n, fmt.Errorf("network %s: gateway %s: %s", n.Name, n.Gateway, why)
	}
	if n.Bridge == "" {
		n.Bridge = BridgeName(n.Name)
	}
	if err := checkOurLink(n.Bridge); err != nil {
		return n, err
	}
	for _, o := range others {
		if o.Bridge == n.Bridge {
			return n, fmt.Errorf("network %s: bridge %s belongs to network %s", n.Name, n.Bridge, o.Name)
		}
	}
	if _, err := os.Stat("/sys/class/net/" + n.Bridge); err == nil {
		return n, fmt.Errorf("network %s: the host has a link %s already (a leftover? `ip link del %s`)", n.Name, n.Bridge, n.Bridge)
	}
	return n, nil
}

// Remove deletes a network that no container is on: its bridge, its rules
// and its state. Removing the last network puts ip_forward back as it was
// before the first.
func (s *Store) Remove(name string) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	n, err := s.get(name)
	if err != nil {
		return err
	}
	eps, err := s.endpoints(name)
	if err != nil {
		return err
	}
	// An address reserved for a container that is not connected yet
	// counts too: it is on its way (see Reserve).
	leases, err := s.leases(n).List()
	if err != nil {
		return err
	}
	var names []string
	for _, e := range eps {
		names = append(names, e.Name)
	}
	for _, l := range leases {
		if !slices.Contains(names, l.Owner) {
			names = append(names, l.Owner)
		}
	}
	if len(names) > 0 {
		slices.Sort(names)
		return fmt.Errorf("%w: network %s has %s on it: disconnect or remove them first", ErrInUse, name, strings.Join(names, ", "))
	}
	s.Trace.log("ip link del " + n.Bridge)
	if err := DeleteLink(n.Bridge); err != nil {
		return fmt.Errorf("network %s: ip link del %s: %w", name, n.Bridge, err)
	}
	if err := os.RemoveAll(s.dir(name)); err != nil {
		return fmt.Errorf("network %s: %w", name, err)
	}
	return errors.Join(s.sync(), s.forwardingRestore())
}

// Get returns the network called name.
func (s *Store) Get(name string) (Network, error) {
	unlock, err := s.lock()
	if err != nil {
		return Network{}, err
	}
	defer unlock()
	return s.get(name)
}

func (s *Store) get(name string) (Network, error) {
	if err := CheckName("network", name); err != nil {
		return Network{}, err
	}
	var n Network
	path := filepath.Join(s.dir(name), "network.json")
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return n, fmt.Errorf("%w: %s (see the list of networks)", ErrNotFound, name)
	}
	if err := readJSON(path, &n); err != nil {
		return n, fmt.Errorf("network %s: %w", name, err)
	}
	return n, nil
}

// List returns every network, by name.
func (s *Store) List() ([]Network, error) {
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	return s.list()
}

func (s *Store) list() ([]Network, error) {
	entries, err := os.ReadDir(s.Root)
	if err != nil {
		return nil, fmt.Errorf("network store: %w", err)
	}
	var out []Network
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(s.Root, e.Name(), "network.json")); err != nil {
			continue // not a network (or one whose Create was cut short)
		}
		n, err := s.get(e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

// Endpoints returns the containers on a network, by name.
func (s *Store) Endpoints(network string) ([]Endpoint, error) {
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	if _, err := s.get(network); err != nil {
		return nil, err
	}
	return s.endpoints(network)
}

func (s *Store) endpoints(network string) ([]Endpoint, error) {
	m := map[string]Endpoint{}
	if err := readJSON(filepath.Join(s.dir(network), "endpoints.json"), &m); err != nil {
		return nil, fmt.Errorf("network %s: %w", network, err)
	}
	out := make([]Endpoint, 0, len(m))
	for _, e := range m {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b Endpoint) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func (s *Store) writeEndpoints(network string, eps []Endpoint) error {
	m := map[string]Endpoint{}
	for _, e := range eps {
		m[e.Name] = e
	}
	return writeJSON(filepath.Join(s.dir(network), "endpoints.json"), m)
}

// Connect puts a container on a network: an address from the network's
// leases (ep.Addr, if given), the veth pair into ep.NetNS, the published
// ports, and its names in the network's records. Everything is checked
// before anything is made: a name already on the network, a port that is
// out of range, already published by us, or in use by another program on
// the host. If a step fails, what was done is undone. It returns the
// endpoint as made (its address, its host link, chosen host ports).
func (s *Store) Connect(network string, ep Endpoint) (Endpoint, error) {
	if err := CheckName("container", ep.Name); err != nil {
		return ep, err
	}
	for _, a := range ep.Aliases {
		if err := CheckName("alias", a); err != nil {
			return ep, err
		}
	}
	if ep.IfName == "" {
		ep.IfName = "eth0"
	}
	if err := CheckLinkName(ep.IfName); err != nil {
		return ep, err
	}
	ns := netNSOf(ep.NetNS)
	if f, err := ns.open(); err != nil {
		return ep, fmt.Errorf("connect %s to %s: %w", ep.Name, network, err)
	} else {
		f.Close()
	}
	for i, p := range ep.Ports {
		if err := p.Check(); err != nil {
			return ep, err
		}
		for _, q := range ep.Ports[:i] {
			if p.HostPort != 0 && p.Overlaps(q) {
				return ep, fmt.Errorf("-p %s and -p %s: the same host port twice", q, p)
			}
		}
	}

	unlock, err := s.lock()
	if err != nil {
		return ep, err
	}
	defer unlock()
	n, err := s.get(network)
	if err != nil {
		return ep, err
	}
	eps, err := s.endpoints(network)
	if err != nil {
		return ep, err
	}
	for _, e := range eps {
		if e.Name == ep.Name {
			return ep, fmt.Errorf("a container named %s is on network %s already: disconnect it first", ep.Name, network)
		}
	}
	if ep.HostLink == "" {
		ep.HostLink = HostLinkName(network, ep.Name)
	}
	if err := checkOurLink(ep.HostLink); err != nil {
		return ep, err
	}
	if ep.Ports, err = s.claimPorts(ep.Name, ep.Ports); err != nil {
		return ep, err
	}
	leases := s.leases(n)
	if ep.Addr.IsValid() {
		ep.Addr, err = leases.AllocateAddr(ep.Name, ep.Addr)
	} else {
		ep.Addr, err = leases.Allocate(ep.Name)
	}
	if err != nil {
		return ep, fmt.Errorf("connect %s to %s: %w", ep.Name, network, err)
	}

	var undo Undo
	fail := func(err error) (Endpoint, error) {
		err = errors.Join(err, undo.Run(s.Trace), leases.Release(ep.Name), s.writeEndpoints(network, eps))
		return ep, errors.Join(err, s.sync())
	}
	if err := s.writeEndpoints(network, append(slices.Clone(eps), ep)); err != nil {
		return fail(err)
	}
	if err := undo.Apply(EndpointPlan(n, ep, ns), s.Trace); err != nil {
		return fail(fmt.Errorf("connect %s to %s: %w", ep.Name, network, err))
	}
	if err := s.sync(); err != nil {
		return fail(err)
	}
	return ep, nil
}

// Reserve gives owner an address on network before its endpoint is made
// (want, if valid, else the lowest free one): the engine writes it in the
// container's /etc/hosts before the container exists, then connects with
// it (Connect takes ep.Addr). An owner that holds one gets it again;
// Disconnect gives it back, endpoint or not.
func (s *Store) Reserve(network, owner string, want netip.Addr) (netip.Addr, error) {
	unlock, err := s.lock()
	if err != nil {
		return netip.Addr{}, err
	}
	defer unlock()
	n, err := s.get(network)
	if err != nil {
		return netip.Addr{}, err
	}
	if want.IsValid() {
		return s.leases(n).AllocateAddr(owner, want)
	}
	return s.leases(n).Allocate(owner)
}

// Leases returns the addresses held on a network, endpoints' and
// reservations', in address order.
func (s *Store) Leases(network string) ([]Lease, error) {
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	n, err := s.get(network)
	if err != nil {
		return nil, err
	}
	return s.leases(n).List()
}

// claimPorts checks ports against every port published on any network of
// the store and against the host's listening sockets, and chooses a host
// port for those that have none.
func (s *Store) claimPorts(owner string, ports []PortMapping) ([]PortMapping, error) {
	if len(ports) == 0 {
		return nil, nil
	}
	nets, err := s.list()
	if err != nil {
		return nil, err
	}
	var published []Forward
	for _, n := range nets {
		eps, err := s.endpoints(n.Name)
		if err != nil {
			return nil, err
		}
		for _, e := range eps {
			for _, p := range e.Ports {
				published = append(published, Forward{PortMapping: p, Owner: e.Name + " on network " + n.Name})
			}
		}
	}
	out := slices.Clone(ports)
	for i := range out {
		p := &out[i]
		if p.HostPort == 0 {
			port, err := freeHostPort(*p, func(q PortMapping) bool { return PortConflict(q, "", published) != nil })
			if err != nil {
				return nil, err
			}
			p.HostPort = port
		}
		if p.HostPortEnd != 0 {
			// The first port of the range that no one holds.
			port, err := freePortIn(*p, published)
			if err != nil {
				return nil, fmt.Errorf("-p %s for %s: %w", p, owner, err)
			}
			p.HostPort, p.HostPortEnd = port, 0
		}
		if err := PortConflict(*p, owner, published); err != nil {
			return nil, err
		}
		if err := HostPortFree(*p); err != nil {
			return nil, fmt.Errorf("-p %s for %s: %w", p, owner, err)
		}
		published = append(published, Forward{PortMapping: *p, Owner: owner})
	}
	return out, nil
}

// freePortIn is the first host port of p's range that neither another
// forward nor a program on the host holds.
func freePortIn(p PortMapping, published []Forward) (uint16, error) {
	for port := int(p.HostPort); port <= int(p.HostPortEnd); port++ {
		q := p
		q.HostPort, q.HostPortEnd = uint16(port), 0
		if PortConflict(q, "", published) == nil && HostPortFree(q) == nil {
			return q.HostPort, nil
		}
	}
	return 0, fmt.Errorf("every host port from %d to %d is taken", p.HostPort, p.HostPortEnd)
}

// HostPortFree checks that no program on the host listens on the port, by
// binding it for a moment: a DNAT rule would silently take that program's
// connections away.
func HostPortFree(p PortMapping) error {
	ip := "0.0.0.0"
	if p.HostIP.IsValid() {
		ip = p.HostIP.String()
	}
	addr := net.JoinHostPort(ip, strconv.Itoa(int(p.HostPort)))
	var err error
	if p.Proto == "udp" {
		var c net.PacketConn
		if c, err = net.ListenPacket("udp4", addr); err == nil {
			c.Close()
		}
	} else {
		var l net.Listener
		if l, err = net.Listen("tcp4", addr); err == nil {
			l.Close()
		}
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, syscall.EADDRINUSE):
		return fmt.Errorf("host port %d/%s is in use by another program on the host "+
			"(`ss -lnp 'sport = :%d'` shows which): choose another host port", p.HostPort, p.Proto, p.HostPort)
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return fmt.Errorf("%s is not an address of this host", ip)
	}
	return fmt.Errorf("check host port %s/%s: %w", addr, p.Proto, err)
}

// freeHostPort lets the kernel choose a free ephemeral port, as bind(2) to
// port 0 does, until it finds one we have not published either.
func freeHostPort(p PortMapping, published func(PortMapping) bool) (uint16, error) {
	for range 20 {
		q := p
		var addr net.Addr
		if p.Proto == "udp" {
			c, err := net.ListenPacket("udp4", ":0")
			if err != nil {
				return 0, err
			}
			addr = c.LocalAddr()
			c.Close()
		} else {
			l, err := net.Listen("tcp4", ":0")
			if err != nil {
				return 0, err
			}
			addr = l.Addr()
			l.Close()
		}
		ap, err := netip.ParseAddrPort(addr.String())
		if err != nil {
			return 0, err
		}
		q.HostPort = ap.Port()
		if !published(q) {
			return q.HostPort, nil
		}
	}
	return 0, fmt.Errorf("-p %s: found no free host port", p)
}

// Disconnect takes a container off a network: its veth pair (deleting the
// host end deletes the end in the container too), its ports, its address
// and its names. A container that is not there is no error.
func (s *Store) Disconnect(network, name string) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	n, err := s.get(network)
	if err != nil {
		return err
	}
	eps, err := s.endpoints(network)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(eps, func(e Endpoint) bool { return e.Name == name })
	if i < 0 {
		return s.leases(n).Release(name)
	}
	ep := eps[i]
	s.Trace.log("ip link del " + ep.HostLink)
	if err := DeleteLink(ep.HostLink); err != nil {
		return fmt.Errorf("disconnect %s from %s: %w", name, network, err)
	}
	if err := s.writeEndpoints(network, slices.Delete(eps, i, i+1)); err != nil {
		return err
	}
	return errors.Join(s.leases(n).Release(name), s.sync())
}

// Sync rebuilds the nftables table from the state, for a command that
// finds the rules and the files disagree (after a crash).
func (s *Store) Sync() error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	return s.sync()
}

// Ruleset is the table the store's state calls for.
func (s *Store) Ruleset() (*Table, error) {
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	return s.ruleset()
}

func (s *Store) ruleset() (*Table, error) {
	nets, err := s.list()
	if err != nil {
		return nil, err
	}
	var bns []BridgeNet
	var fwds []Forward
	for _, n := range nets {
		bns = append(bns, BridgeNet{Bridge: n.Bridge, Subnet: n.Subnet, Localnet: true})
		eps, err := s.endpoints(n.Name)
		if err != nil {
			return nil, err
		}
		for _, e := range eps {
			for _, p := range e.Ports {
				fwds = append(fwds, Forward{PortMapping: p, To: e.Addr, Owner: e.Name})
			}
		}
	}
	if len(bns) == 0 {
		return nil, nil
	}
	return Ruleset(s.Table, bns, fwds), nil
}

func (s *Store) sync() error {
	t, err := s.ruleset()
	if err != nil {
		return err
	}
	if t == nil {
		exists, err := TableExists(s.Table)
		if err != nil || !exists {
			return err
		}
		s.Trace.log(DeleteTable{Name: s.Table}.Command())
		return DeleteTableNow(s.Table)
	}
	s.Trace.log(ApplyTable{Table: t}.Command())
	return ApplyTableNow(t)
}

// forwardingOn turns ip_forward on, remembering what it was when no
// network of the store existed yet.
func (s *Store) forwardingOn() error {
	path := filepath.Join(s.Root, "forwarding.json")
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		was, err := ReadSysctl(ForwardingKey)
		if err != nil {
			return err
		}
		if err := writeJSON(path, map[string]string{"was": was}); err != nil {
			return err
		}
	}
	cur, err := ReadSysctl(ForwardingKey)
	if err != nil || cur == "1" {
		return err
	}
	s.Trace.log(Sysctl{Key: ForwardingKey, Value: "1"}.Command())
	return WriteSysctl(ForwardingKey, "1")
}

// forwardingRestore puts ip_forward back when the last network is gone.
func (s *Store) forwardingRestore() error {
	nets, err := s.list()
	if err != nil || len(nets) > 0 {
		return err
	}
	path := filepath.Join(s.Root, "forwarding.json")
	var was map[string]string
	if err := readJSON(path, &was); err != nil {
		return err
	}
	if v := was["was"]; v != "" {
		if cur, err := ReadSysctl(ForwardingKey); err == nil && cur != v {
			s.Trace.log(Sysctl{Key: ForwardingKey, Value: v}.Command())
			if err := WriteSysctl(ForwardingKey, v); err != nil {
				return err
			}
		}
	}
	return ignoreNotExist(os.Remove(path))
}

func ignoreNotExist(err error) error {
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// Records is a network's names for its DNS responder: each container's
// name and aliases at its address, read from the network's state when it
// has changed since the last call (so a container that connects or goes
// away is answered, or not, from the next query on).
func (s *Store) Records(network string) RecordSource {
	var mu sync.Mutex
	var seen [3]int64 // inode, size, mtime of endpoints.json
	var cache Records
	path := filepath.Join(s.dir(network), "endpoints.json")
	return func() (Records, error) {
		mu.Lock()
		defer mu.Unlock()
		var st unix.Stat_t
		if err := unix.Stat(path, &st); err != nil {
			if errors.Is(err, unix.ENOENT) {
				return Records{}, nil
			}
			return nil, err
		}
		key := [3]int64{int64(st.Ino), st.Size, st.Mtim.Nano()}
		if cache != nil && key == seen {
			return cache, nil
		}
		m := map[string]Endpoint{}
		if err := readJSON(path, &m); err != nil {
			return nil, err
		}
		recs := Records{}
		for _, e := range m {
			recs.Add(e.Addr, append([]string{e.Name}, e.Aliases...)...)
		}
		cache, seen = recs, key
		return recs, nil
	}
}

// Client is what network's DNS responder asks about the container a
// question comes from (DNSServer.Client): the names of every other network
// that container is on, and its own resolvers. It reads the state files
// without the store's lock, as Records does: each is written whole and
// renamed into place, so a read sees one version or the next. Networks
// named in skip lend no names (Docker's default network has none).
func (s *Store) Client(network string, skip ...string) func(from netip.Addr) (Records, []string) {
	return func(from netip.Addr) (Records, []string) {
		eps, err := s.endpoints(network)
		if err != nil {
			return nil, nil
		}
		i := slices.IndexFunc(eps, func(e Endpoint) bool { return e.Addr == from })
		if i < 0 {
			return nil, nil
		}
		asker := eps[i]
		nets, err := s.list()
		if err != nil {
			return nil, asker.DNS
		}
		more := Records{}
		for _, n := range nets {
			if n.Name == network || slices.Contains(skip, n.Name) {
				continue
			}
			others, err := s.endpoints(n.Name)
			if err != nil || !slices.ContainsFunc(others, func(e Endpoint) bool { return e.Name == asker.Name }) {
				continue
			}
			for _, e := range others {
				more.Add(e.Addr, append([]string{e.Name}, e.Aliases...)...)
			}
		}
		return more, asker.DNS
	}
}
