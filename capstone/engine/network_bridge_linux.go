package engine

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/unboxlab/unbox/internal/network"
)

// bridgeNetwork puts a container on the store's bridge networks: the
// default one and any user-defined ones it is connected to. The runtime
// makes the container's network namespace (empty, but for lo); the
// monitor wires it between the runtime's create and start, while the
// container's init waits for start:
//
//	Prepare  clear what a killed start left; make the default network if
//	         needed (and a network's bridge after a reboot); reserve an
//	         address on each network, for /etc/hosts
//	Attach   one veth pair per network into /proc/<pid>/ns/net, with the
//	         reserved address; the ports published on the first network;
//	         the DNS responders running
//	Detach   every endpoint and lease of the container, and the default
//	         network's bridge when no container is left on it
//
// Why between create and start rather than in an OCI hook (podman runs
// netavark from a prestart-like step of its own): the namespace is the
// container's own, so it goes with the container's last process and a
// crash can leave no namespace behind; it works with any runtime, hooks or
// not; the engine owns the error and the undo; and the user's process
// starts only after its network is whole, since start is what lets it run.
type bridgeNetwork struct{ e *Engine }

// networksOf are the networks c is on, its primary network (NetworkMode)
// first; a record made before networks existed is on its mode.
func networksOf(c *Container) []string {
	mode := c.HostConfig.NetworkMode
	if mode == "" || mode == "default" {
		mode = DefaultNetwork
	}
	if c.NetworkSettings.Networks == nil {
		return []string{mode}
	}
	var out []string
	if _, ok := c.NetworkSettings.Networks[mode]; ok {
		out = append(out, mode)
	}
	for _, n := range sortedKeys(c.NetworkSettings.Networks) {
		if n != mode {
			out = append(out, n)
		}
	}
	return out
}

func (b bridgeNetwork) Prepare(c *Container) (NetworkSetup, error) {
	e := b.e
	if err := b.Detach(c); err != nil {
		return NetworkSetup{}, err
	}
	s, err := e.netStore()
	if err != nil {
		return NetworkSetup{}, err
	}
	var setup NetworkSetup
	var first netip.Addr
	for i, name := range networksOf(c) {
		var want netip.Addr
		if es := c.NetworkSettings.Networks[name]; es != nil && es.IPAMConfig != nil && es.IPAMConfig.IPv4Address != "" {
			want, _ = netip.ParseAddr(es.IPAMConfig.IPv4Address)
		}
		// The default network can go between Ensure and Reserve (its last
		// container stopped): make it again. Once reserved, it stays.
		var n network.Network
		var addr netip.Addr
		for try := 0; ; try++ {
			if n, err = e.ensureNetwork(s, name); err != nil {
				return setup, err
			}
			addr, err = s.Reserve(name, c.Name, want)
			if err == nil {
				break
			}
			if !errors.Is(err, network.ErrNotFound) || try == 5 {
				return setup, &ExitCodeError{Code: 125, Err: fmt.Errorf("network %s: %w", name, err)}
			}
		}
		if i == 0 {
			first = addr
			setup.Gateway = n.Gateway
			if name != DefaultNetwork {
				setup.ResolvConf = []byte(network.ResolvConf(n.Gateway))
			}
		}
	}
	if setup.ResolvConf == nil {
		setup.ResolvConf = containerResolvConf()
	}
	hostAddr := ""
	if first.IsValid() {
		hostAddr = first.String()
	}
	setup.Hosts = hostsFile(c, hostAddr)
	return setup, nil
}

// ensureNetwork makes the default network on first use, and gives any
// network its bridge back when the host lost it.
func (e *Engine) ensureNetwork(s *network.Store, name string) (network.Network, error) {
	want := network.Network{Name: name}
	if name == DefaultNetwork {
		want.Bridge = e.bridgeName(name)
	} else if _, err := s.Get(name); err != nil {
		if errors.Is(err, network.ErrNotFound) {
			return want, &ExitCodeError{Code: 125, Err: fmt.Errorf("network %s not found", name)}
		}
		return want, err
	}
	n, err := s.Ensure(want)
	if err != nil {
		return n, fmt.Errorf("network %s: %w", name, err)
	}
	return n, nil
}

func (b bridgeNetwork) Attach(c *Container, pid int) error {
	e := b.e
	s, err := e.netStore()
	if err != nil {
		return err
	}
	ports, err := portMappings(c)
	if err != nil {
		return err
	}
	nsPath := "/proc/" + strconv.Itoa(pid) + "/ns/net"
	if c.NetworkSettings.Networks == nil {
		c.NetworkSettings.Networks = map[string]*EndpointSettings{}
	}
	c.NetworkSettings.SandboxKey = nsPath
	for i, name := range networksOf(c) {
		es := c.NetworkSettings.Networks[name]
		if es == nil {
			es = &EndpointSettings{}
			c.NetworkSettings.Networks[name] = es
		}
		var p []network.PortMapping
		if i == 0 {
			p = ports
		}
		if err := e.connectEndpoint(s, c, name, es, nsPath, "eth"+strconv.Itoa(i), p); err != nil {
			return err
		}
		if i == 0 {
			ns := &c.NetworkSettings
			ns.IPAddress, ns.IPPrefixLen, ns.Gateway, ns.MacAddress = es.IPAddress, es.IPPrefixLen, es.Gateway, es.MacAddress
		}
	}
	return nil
}

// connectEndpoint connects c's namespace at nsPath to network name as
// ifName, and records where it is in es.
func (e *Engine) connectEndpoint(s *network.Store, c *Container, name string, es *EndpointSettings, nsPath, ifName string, ports []network.PortMapping) error {
	n, err := s.Get(name)
	if err != nil {
		return err
	}
	var want netip.Addr
	if es.IPAMConfig != nil && es.IPAMConfig.IPv4Address != "" {
		want, _ = netip.ParseAddr(es.IPAMConfig.IPv4Address)
	}
	addr, err := s.Reserve(name, c.Name, want)
	if err != nil {
		return fmt.Errorf("network %s: %w", name, err)
	}
	// The default route is eth0's: the first network's, as Docker's.
	ep := network.Endpoint{Name: c.Name, NetNS: nsPath, IfName: ifName, HostLink: e.hostLink(n, c), Addr: addr, Ports: ports,
		NoRoute: ifName != "eth0", DNS: endpointDNS(c.HostConfig)}
	if name != DefaultNetwork {
		// The short ID is a name too, as Docker's DNS answers it.
		ep.Aliases = append(slices.Clone(es.Aliases), Short(c.ID))
	}
	if ep, err = s.Connect(name, ep); err != nil {
		return &ExitCodeError{Code: 125, Err: err}
	}
	if err := e.ensureDNS(n); err != nil {
		return err
	}
	es.NetworkID = n.ID
	es.IPAddress, es.IPPrefixLen, es.Gateway = ep.Addr.String(), n.Subnet.Bits(), n.Gateway.String()
	es.MacAddress = network.ContainerMAC(ep.Addr).String()
	es.DNSNames = nil
	if name != DefaultNetwork {
		es.DNSNames = append([]string{c.Name}, ep.Aliases...)
	}
	if len(ep.Ports) > 0 {
		c.NetworkSettings.Ports = publishedPorts(ep.Ports)
	}
	return nil
}

// hostLink is the host end of c's veth on n: named from the bridge (so
// from the engine's root) and the container's ID, so it is c's alone.
func (e *Engine) hostLink(n network.Network, c *Container) string {
	return network.LinkName(n.Bridge + "/" + c.ID)
}

// connectRunning connects a running container to one more network, as
// the next free ethN.
func (e *Engine) connectRunning(s *network.Store, c *Container, name string, es *EndpointSettings) error {
	nsPath := "/proc/" + strconv.Itoa(c.State.Pid) + "/ns/net"
	if _, err := e.ensureNetwork(s, name); err != nil {
		return err
	}
	links, err := network.Links(&network.NetNS{Name: c.Name, Path: nsPath})
	if err != nil {
		return fmt.Errorf("connect %s to %s: %w", c.Name, name, err)
	}
	ifName := ""
	for i := 0; ifName == ""; i++ {
		cand := "eth" + strconv.Itoa(i)
		if !slices.ContainsFunc(links, func(l network.LinkInfo) bool { return l.Name == cand }) {
			ifName = cand
		}
	}
	if err := e.connectEndpoint(s, c, name, es, nsPath, ifName, nil); err != nil {
		return errors.Join(err, s.Disconnect(name, c.Name))
	}
	return nil
}

// disconnect takes c off one network now: its endpoint and its lease.
func (e *Engine) disconnect(s *network.Store, c *Container, name string) error {
	if err := s.Disconnect(name, c.Name); err != nil && !errors.Is(err, network.ErrNotFound) {
		return err
	}
	if name == DefaultNetwork {
		e.dropDefaultNetwork(s)
	}
	return nil
}

// dropDefaultNetwork removes the default network's bridge, rules and
// state when no container is on it.
func (e *Engine) dropDefaultNetwork(s *network.Store) {
	if eps, err := s.Endpoints(DefaultNetwork); err == nil && len(eps) == 0 {
		_ = s.Remove(DefaultNetwork) // ErrInUse: a container joined meanwhile
	}
}

// Detach takes c off every network of the store where it has an
// endpoint or an address: the endpoints of this container (its host
// link is named from its ID), not another's of the same name.
func (b bridgeNetwork) Detach(c *Container) error {
	e := b.e
	s, err := e.netStore()
	if err != nil {
		return err
	}
	nets, err := s.List()
	if err != nil {
		return err
	}
	var errs []error
	for _, n := range nets {
		eps, err := s.Endpoints(n.Name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		i := slices.IndexFunc(eps, func(ep network.Endpoint) bool { return ep.Name == c.Name })
		if i >= 0 && eps[i].HostLink != e.hostLink(n, c) {
			continue // another container's, of the same name
		}
		if err := s.Disconnect(n.Name, c.Name); err != nil && !errors.Is(err, network.ErrNotFound) {
			errs = append(errs, err)
		}
		if n.Name == DefaultNetwork {
			e.dropDefaultNetwork(s)
		}
	}
	c.NetworkSettings.clearRuntime()
	return errors.Join(errs...)
}

// containerResolvConf is the host's /etc/resolv.conf for a container on
// the default network, without the nameservers on the host's loopback
// (systemd-resolved's 127.0.0.53), which a container cannot reach, as
// Docker filters them.
func containerResolvConf() []byte {
	b, err := os.ReadFile("/etc/resolv.conf")
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "nameserver" {
			if a, err := netip.ParseAddr(f[1]); err == nil && a.IsLoopback() {
				continue
			}
		}
		out = append(out, line)
	}
	return []byte(strings.Join(out, "\n"))
}

// containerNetwork is --network container:NAME: the other container's
// network namespace, joined by path, with its hosts file and resolvers.
// The other container must be running; if it restarts, this one keeps the
// namespace it joined (as in Docker) and must be restarted to follow.
type containerNetwork struct {
	e   *Engine
	ref string
}

func (cn containerNetwork) Prepare(c *Container) (NetworkSetup, error) {
	other, err := cn.e.Lookup(cn.ref)
	if err != nil {
		return NetworkSetup{}, fmt.Errorf("--network container:%s: %w", cn.ref, err)
	}
	if other.ID == c.ID {
		return NetworkSetup{}, errors.New("--network container: a container cannot join its own network namespace")
	}
	if !other.State.Running || other.State.Pid <= 0 {
		return NetworkSetup{}, fmt.Errorf("--network container:%s: cannot join the network of a container that is not running", cn.ref)
	}
	etc := filepath.Join(cn.e.dir(other.ID), "init", "etc")
	hosts, _ := os.ReadFile(filepath.Join(etc, "hosts"))
	resolv, _ := os.ReadFile(filepath.Join(etc, "resolv.conf"))
	return NetworkSetup{NetNS: "/proc/" + strconv.Itoa(other.State.Pid) + "/ns/net", Hosts: hosts, ResolvConf: resolv}, nil
}

func (containerNetwork) Attach(*Container, int) error { return nil }
func (containerNetwork) Detach(*Container) error      { return nil }
