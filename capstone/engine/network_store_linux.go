package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/unboxlab/unbox/internal/network"
	"github.com/unboxlab/unbox/internal/statefile"
)

// The engine's networks are internal/network's Store, with its state under
// <root>/networks (one directory per network: network.json, endpoints.json,
// leases.json, each written whole under the store's flock) and the PIDs of
// the networks' DNS responders under <state>/networks (they do not survive
// a reboot). Everything on the host is named by the store: bridges and veth
// ends ubx…, one nftables table unbox… for all networks of this root.

// netStore opens the store of the engine's networks.
func (e *Engine) netStore() (*network.Store, error) {
	if e.nets != nil {
		return e.nets, nil
	}
	s, err := network.OpenStore(filepath.Join(e.Root, "networks"), e.tableName())
	if err != nil {
		return nil, err
	}
	e.nets = s
	return s, nil
}

// tableName is the nftables table of this root: "unbox" for the
// machine's /var/lib/unbox, and "unbox-<hash of the root>" for any other,
// so a test's engine never replaces the machine's rules (a table is
// rebuilt whole from one root's state).
func (e *Engine) tableName() string {
	if e.Root == DefaultRoot {
		return network.TablePrefix
	}
	return network.TablePrefix + "-" + rootKey(e.Root)
}

func rootKey(root string) string {
	sum := sha256.Sum256([]byte(root))
	return hex.EncodeToString(sum[:4])
}

// bridgeName is a network's bridge: "ubx0" for the default network and
// "ubx-NAME" for others of the machine's root; a hashed ubx… name for any
// other root, so two roots' networks of one name never clash.
func (e *Engine) bridgeName(name string) string {
	switch {
	case e.Root != DefaultRoot:
		return network.LinkName(e.Root + "\x00" + name)
	case name == DefaultNetwork:
		return network.LinkPrefix + "0"
	}
	return network.BridgeName(name)
}

// NetworkCreateOptions are `unbox network create`'s flags.
type NetworkCreateOptions struct {
	Name string
	// Subnet and Gateway, when set, are the network's ("10.90.0.0/24",
	// "10.90.0.1"); otherwise a /24 that overlaps no host route and no
	// other network is chosen, and its first address is the gateway.
	Subnet, Gateway string
	Labels          map[string]string
	// DNS are the resolvers ("IP" or "IP:PORT") the network's DNS
	// responder forwards names that are not its containers' to; none:
	// the host's (/etc/resolv.conf), as podman's --dns.
	DNS []string
}

// NetworkInfo is a network as `unbox network inspect` shows it, with
// Docker's field names.
type NetworkInfo struct {
	Name       string                      `json:"Name"`
	ID         string                      `json:"Id"`
	Created    time.Time                   `json:"Created"`
	Scope      string                      `json:"Scope"`
	Driver     string                      `json:"Driver"`
	EnableIPv6 bool                        `json:"EnableIPv6"`
	IPAM       NetworkIPAM                 `json:"IPAM"`
	Internal   bool                        `json:"Internal"`
	Containers map[string]NetworkContainer `json:"Containers"`
	Options    map[string]string           `json:"Options"`
	Labels     map[string]string           `json:"Labels"`
	// DNSEnabled says the network answers its containers' names (every
	// user-defined network; not the default one, as in Docker).
	DNSEnabled bool `json:"DNSEnabled"`
}

// NetworkIPAM is the network's addressing.
type NetworkIPAM struct {
	Driver string          `json:"Driver"`
	Config []NetworkSubnet `json:"Config"`
}

// NetworkSubnet is one subnet of a network.
type NetworkSubnet struct {
	Subnet  string `json:"Subnet"`
	Gateway string `json:"Gateway"`
}

// NetworkContainer is a running container on a network, by its ID.
type NetworkContainer struct {
	Name        string   `json:"Name"`
	MacAddress  string   `json:"MacAddress"`
	IPv4Address string   `json:"IPv4Address"`
	Aliases     []string `json:"Aliases,omitempty"`
}

// CreateNetwork makes a user-defined bridge network (`unbox network
// create`): its bridge, its rules, and its DNS responder. Bad input (a
// name in use or reserved, a subnet that is not one or overlaps a host
// route or another network, a gateway outside it) is refused with
// nothing made.
func (e *Engine) CreateNetwork(o NetworkCreateOptions) (NetworkInfo, error) {
	bad := func(err error) (NetworkInfo, error) { return NetworkInfo{}, &ExitCodeError{Code: 125, Err: err} }
	if _, ok := predefined[o.Name]; ok || o.Name == "default" {
		return bad(fmt.Errorf("%s is a pre-defined network and cannot be created", o.Name))
	}
	if err := network.CheckName("network", o.Name); err != nil {
		return bad(err)
	}
	n := network.Network{Name: o.Name, Bridge: e.bridgeName(o.Name), Created: time.Now().UTC(), Labels: o.Labels}
	var err error
	if n.ID, err = newID(); err != nil {
		return NetworkInfo{}, err
	}
	if o.Subnet != "" {
		if n.Subnet, err = netip.ParsePrefix(o.Subnet); err != nil || !n.Subnet.Addr().Is4() {
			return bad(fmt.Errorf("invalid subnet %q: want an IPv4 subnet such as 10.90.0.0/24 (IPv6 is not supported yet)", o.Subnet))
		}
		if n.Subnet != n.Subnet.Masked() {
			return bad(fmt.Errorf("invalid subnet %s: it should be %s", o.Subnet, n.Subnet.Masked()))
		}
	}
	if o.Gateway != "" {
		if o.Subnet == "" {
			return bad(errors.New("a --gateway needs its --subnet"))
		}
		if n.Gateway, err = netip.ParseAddr(o.Gateway); err != nil || !n.Gateway.Is4() {
			return bad(fmt.Errorf("invalid gateway %q: want an IPv4 address", o.Gateway))
		}
	}
	for _, d := range o.DNS {
		ap, err := parseResolver(d)
		if err != nil {
			return bad(err)
		}
		n.DNSServers = append(n.DNSServers, ap)
	}
	s, err := e.netStore()
	if err != nil {
		return NetworkInfo{}, err
	}
	if n, err = s.Create(n); err != nil {
		return bad(err)
	}
	if err := e.ensureDNS(n); err != nil {
		return NetworkInfo{}, errors.Join(err, e.removeNetwork(s, n))
	}
	return e.networkInfo(s, n)
}

// parseResolver reads a --dns value: IP or IP:PORT.
func parseResolver(s string) (string, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil && ap.Port() != 0 {
		return ap.String(), nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.AddrPortFrom(a, 53).String(), nil
	}
	return "", fmt.Errorf("invalid --dns %q: want IP or IP:PORT", s)
}

// InspectNetwork returns the network called name (or a prefix of its ID).
func (e *Engine) InspectNetwork(name string) (NetworkInfo, error) {
	if d, ok := predefined[name]; ok {
		return e.predefinedInfo(name, d)
	}
	s, err := e.netStore()
	if err != nil {
		return NetworkInfo{}, err
	}
	n, err := e.findNetwork(s, name)
	if err != nil {
		return NetworkInfo{}, err
	}
	return e.networkInfo(s, n)
}

// findNetwork finds a user-defined network by name or ID prefix.
func (e *Engine) findNetwork(s *network.Store, ref string) (network.Network, error) {
	if network.CheckName("network", ref) == nil {
		if n, err := s.Get(ref); err == nil {
			return n, nil
		} else if !errors.Is(err, network.ErrNotFound) {
			return n, err
		}
	}
	if isHex(ref) {
		nets, err := s.List()
		if err != nil {
			return network.Network{}, err
		}
		var found []network.Network
		for _, n := range nets {
			if strings.HasPrefix(n.ID, ref) {
				found = append(found, n)
			}
		}
		if len(found) == 1 {
			return found[0], nil
		}
	}
	return network.Network{}, networkNotFound(ref)
}

// networkNotFound is Docker's "network NAME not found", which
// errors.Is(err, network.ErrNotFound) recognises (`network rm -f`).
type networkNotFound string

func (n networkNotFound) Error() string      { return "network " + string(n) + " not found" }
func (networkNotFound) Is(target error) bool { return target == network.ErrNotFound }

// ListNetworks lists the networks, predefined ones first, then by name;
// with labels, only those that carry each of them (a value "" matches
// any value, as `--filter label=KEY` does).
func (e *Engine) ListNetworks(labels map[string]string) ([]NetworkInfo, error) {
	var out []NetworkInfo
	if len(labels) == 0 {
		for _, name := range []string{DefaultNetwork, "host", "none"} {
			info, err := e.predefinedInfo(name, predefined[name])
			if err != nil {
				return nil, err
			}
			out = append(out, info)
		}
	}
	s, err := e.netStore()
	if err != nil {
		return nil, err
	}
	nets, err := s.List()
	if err != nil {
		return nil, err
	}
	for _, n := range nets {
		if n.Name == DefaultNetwork || !MatchLabels(n.Labels, labels) {
			continue
		}
		info, err := e.networkInfo(s, n)
		if err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	return out, nil
}

func (e *Engine) predefinedInfo(name, driver string) (NetworkInfo, error) {
	sum := sha256.Sum256([]byte("unbox network " + name))
	info := NetworkInfo{Name: name, ID: hex.EncodeToString(sum[:]), Scope: "local", Driver: driver,
		IPAM: NetworkIPAM{Driver: "default", Config: []NetworkSubnet{}}, Containers: map[string]NetworkContainer{},
		Options: map[string]string{}, Labels: map[string]string{}}
	if name != DefaultNetwork {
		return info, nil
	}
	info.Options["com.docker.network.bridge.name"] = e.bridgeName(name)
	s, err := e.netStore()
	if err != nil {
		return info, err
	}
	// The default network exists on the host only while containers are
	// on it.
	if n, err := s.Get(name); err == nil {
		return e.networkInfo(s, n)
	}
	return info, nil
}

func (e *Engine) networkInfo(s *network.Store, n network.Network) (NetworkInfo, error) {
	info := NetworkInfo{Name: n.Name, ID: n.ID, Created: n.Created, Scope: "local", Driver: "bridge",
		IPAM:       NetworkIPAM{Driver: "default", Config: []NetworkSubnet{{Subnet: n.Subnet.String(), Gateway: n.Gateway.String()}}},
		Containers: map[string]NetworkContainer{}, Options: map[string]string{"com.docker.network.bridge.name": n.Bridge},
		Labels: n.Labels, DNSEnabled: n.Name != DefaultNetwork}
	if n.Name == DefaultNetwork {
		sum := sha256.Sum256([]byte("unbox network " + n.Name))
		info.ID = hex.EncodeToString(sum[:])
	}
	if info.Labels == nil {
		info.Labels = map[string]string{}
	}
	if len(n.DNSServers) > 0 {
		info.Options["unbox.dns_servers"] = strings.Join(n.DNSServers, ",")
	}
	eps, err := s.Endpoints(n.Name)
	if err != nil {
		return info, err
	}
	for _, ep := range eps {
		id := ep.Name
		if c, err := e.Lookup(ep.Name); err == nil {
			id = c.ID
		}
		info.Containers[id] = NetworkContainer{Name: ep.Name, MacAddress: network.ContainerMAC(ep.Addr).String(),
			IPv4Address: netip.PrefixFrom(ep.Addr, n.Subnet.Bits()).String(), Aliases: ep.Aliases}
	}
	return info, nil
}

// RemoveNetwork removes a user-defined network no container is on
// (`unbox network rm`): its DNS responder, its bridge, its rules, its
// state. Endpoints left by containers that are no longer running (a
// killed monitor) are cleared first.
func (e *Engine) RemoveNetwork(ref string) error {
	if _, ok := predefined[ref]; ok {
		return fmt.Errorf("%s is a pre-defined network and cannot be removed", ref)
	}
	s, err := e.netStore()
	if err != nil {
		return err
	}
	n, err := e.findNetwork(s, ref)
	if err != nil {
		return err
	}
	return e.removeNetwork(s, n)
}

func (e *Engine) removeNetwork(s *network.Store, n network.Network) error {
	e.clearStaleEndpoints(s, n.Name)
	leases, err := s.Leases(n.Name)
	if err != nil {
		return err
	}
	if len(leases) > 0 {
		var names []string
		for _, l := range leases {
			names = append(names, l.Owner)
		}
		return fmt.Errorf("error while removing network %s: it has active endpoints (%s): stop them or `unbox network disconnect` them first",
			n.Name, strings.Join(names, ", "))
	}
	if err := e.stopDNS(n.Name); err != nil {
		return err
	}
	if err := s.Remove(n.Name); err != nil {
		if errors.Is(err, network.ErrInUse) { // a container joined meanwhile
			err = errors.Join(err, e.ensureDNS(n))
		}
		return err
	}
	return nil
}

// PruneNetworks removes every user-defined network no container is on
// (`unbox network prune`); with labels, only those carrying them. It
// returns the names removed.
func (e *Engine) PruneNetworks(labels map[string]string) ([]string, error) {
	s, err := e.netStore()
	if err != nil {
		return nil, err
	}
	nets, err := s.List()
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, n := range nets {
		if n.Name == DefaultNetwork || !MatchLabels(n.Labels, labels) {
			continue
		}
		if e.networkInUse(n.Name) {
			continue
		}
		if err := e.removeNetwork(s, n); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, n.Name)
	}
	return removed, errors.Join(errs...)
}

// networkInUse reports whether a container, running or not, is
// connected to the network (Docker does not prune those either).
func (e *Engine) networkInUse(name string) bool {
	cs, _ := e.List()
	for _, c := range cs {
		if _, ok := c.NetworkSettings.Networks[name]; ok {
			return true
		}
	}
	return false
}

// clearStaleEndpoints disconnects from a network the endpoints whose
// container is gone or no longer running with a live monitor: what a
// killed monitor or start left. A container whose lock is held is left
// alone (a command is at work on it).
func (e *Engine) clearStaleEndpoints(s *network.Store, name string) {
	leases, err := s.Leases(name)
	if err != nil {
		return
	}
	for _, l := range leases { // every endpoint has one; a reservation too
		c, err := e.Lookup(l.Owner)
		if errors.Is(err, ErrNotFound) {
			s.Disconnect(name, l.Owner)
			continue
		}
		if err != nil || e.monitorAlive(c.ID) {
			continue
		}
		if unlock, err := statefile.TryLock(e.dir(c.ID)); err == nil {
			s.Disconnect(name, l.Owner)
			unlock()
		}
	}
}

// EndpointOptions are `unbox network connect`'s flags, and a container's
// place on each network it is created on.
type EndpointOptions struct {
	Aliases []string
	IP      string
}

// ConnectNetwork connects a container to a network (`unbox network
// connect`): at once if it runs, and at every start from now on.
func (e *Engine) ConnectNetwork(ctx context.Context, netRef, ref string, o EndpointOptions) error {
	s, err := e.netStore()
	if err != nil {
		return err
	}
	name := netRef
	if name != DefaultNetwork {
		n, err := e.findNetwork(s, netRef)
		if err != nil {
			return &ExitCodeError{Code: 125, Err: err}
		}
		name = n.Name
	}
	es, err := e.endpointSettings(name, o)
	if err != nil {
		return &ExitCodeError{Code: 125, Err: err}
	}
	c, unlock, err := e.lockRef(ref)
	if err != nil {
		return err
	}
	defer unlock()
	if !bridged(c.HostConfig.NetworkMode) {
		return &ExitCodeError{Code: 125, Err: fmt.Errorf("container %s has --network %s: it cannot join other networks", c.Name, c.HostConfig.NetworkMode)}
	}
	if _, ok := c.NetworkSettings.Networks[name]; ok {
		return &ExitCodeError{Code: 125, Err: fmt.Errorf("container %s is already connected to network %s", c.Name, name)}
	}
	if c.NetworkSettings.Networks == nil {
		c.NetworkSettings.Networks = map[string]*EndpointSettings{}
	}
	c.NetworkSettings.Networks[name] = es
	if c.State.Running && c.State.Pid > 0 && e.monitorAlive(c.ID) {
		if err := e.connectRunning(s, c, name, es); err != nil {
			delete(c.NetworkSettings.Networks, name)
			return err
		}
	}
	return e.save(c)
}

// endpointSettings checks a container's options on a network.
func (e *Engine) endpointSettings(name string, o EndpointOptions) (*EndpointSettings, error) {
	es := &EndpointSettings{Aliases: slices.Clone(o.Aliases)}
	if len(o.Aliases) > 0 && name == DefaultNetwork {
		return nil, errors.New("network-scoped aliases are only supported for user-defined networks")
	}
	for _, a := range o.Aliases {
		if err := network.CheckName("alias", a); err != nil {
			return nil, err
		}
	}
	if o.IP != "" {
		a, err := netip.ParseAddr(o.IP)
		if err != nil || !a.Is4() {
			return nil, fmt.Errorf("invalid --ip %q: want an IPv4 address", o.IP)
		}
		if name == DefaultNetwork {
			return nil, errors.New("user specified IP address is supported only with user-defined networks")
		}
		es.IPAMConfig = &EndpointIPAMConfig{IPv4Address: a.String()}
	}
	return es, nil
}

// DisconnectNetwork takes a container off a network (`unbox network
// disconnect`): at once if it runs, and from its later starts. With
// force, a container that is not on it is no error.
func (e *Engine) DisconnectNetwork(ctx context.Context, netRef, ref string, force bool) error {
	c, unlock, err := e.lockRef(ref)
	if err != nil {
		return err
	}
	defer unlock()
	name := netRef
	if _, ok := c.NetworkSettings.Networks[name]; !ok {
		if force {
			return nil
		}
		return fmt.Errorf("container %s is not connected to network %s", c.Name, netRef)
	}
	s, err := e.netStore()
	if err != nil {
		return err
	}
	if err := e.disconnect(s, c, name); err != nil {
		return err
	}
	delete(c.NetworkSettings.Networks, name)
	return e.save(c)
}

// dnsInfo is a DNS responder's PID file, <state>/networks/<name>/dns.json.
type dnsInfo = monitorInfo

func (e *Engine) dnsDir(name string) string { return filepath.Join(e.State, "networks", name) }

// stopDNS ends a network's DNS responder, if it runs, and waits until
// it is gone.
func (e *Engine) stopDNS(name string) error {
	dir := e.dnsDir(name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	unlock, err := statefile.Lock(dir)
	if err != nil {
		return err
	}
	defer unlock()
	var di dnsInfo
	if err := statefile.ReadJSON(filepath.Join(dir, "dns.json"), &di); err == nil {
		killWait(di.Pid, di.Start)
	}
	return os.RemoveAll(dir)
}
