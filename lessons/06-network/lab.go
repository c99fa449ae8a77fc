//go:build linux

package main

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/network"
)

// Names of what the lesson makes on the host. They are fixed, so the
// transcript reads like commands a person would type; if a run was killed
// (SIGKILL: no clean up), the next run finds them and removes them first.
const (
	bridge   = "ubx06-br"
	table    = "unbox06"
	outLink  = "ubx06-out"
	nsPrefix = "unbox06-"
)

func hostLink(ctr string) string { return "ubx06-" + ctr }

// hostNames are the prefixes of one set of host objects: the steps', or
// the --shell's, which has its own, so that neither removes the other's.
type hostNames struct{ link, ns, table string }

var (
	lessonNames = hostNames{link: "ubx06-", ns: nsPrefix, table: table}
	shellNames  = hostNames{link: "ubx06s-", ns: "unbox06s-", table: "unbox06s"}
)

// lab is what the steps share: the network as it grows, and how to take it
// all down again.
type lab struct {
	dir    string // state: the lease file, each container's /etc files
	undo   network.Undo
	subnet netip.Prefix
	gw     netip.Addr
	// candidates and routes are the subnet choice made in step 1, for
	// step 4 to explain.
	candidates []network.Candidate
	leases     *network.Leases
	ns         map[string]*network.NetNS
	ctrs       map[string]*container
	addrs      map[string]netip.Addr
	hostPort   uint16

	// The outside world of step 5: a namespace, its address, its servers.
	outAddr, outGW netip.Addr
	outSubnet      netip.Prefix
	closers        []func() error

	mu      sync.Mutex
	records network.Records // step 7's names, as containers come and go
	dns     *network.DNSServer

	// before is the host as the lesson found it, for step 8.
	forwardingWas string
	tablesBefore  []string
}

// setUp removes what a killed run left, chooses the subnet and makes the
// lesson's state directory. Step 1 calls it, and registers teardown.
func (l *lab) setUp(s *kit.Session) error {
	if err := removeLeftovers(s, lessonNames); err != nil {
		return err
	}
	l.dir = filepath.Join(os.TempDir(), kit.UniqueName("lesson06"))
	l.ns, l.ctrs, l.addrs = map[string]*network.NetNS{}, map[string]*container{}, map[string]netip.Addr{}
	var err error
	if l.forwardingWas, err = network.ReadSysctl(network.ForwardingKey); err != nil {
		return err
	}
	if l.tablesBefore, err = network.Tables(); err != nil {
		return err
	}
	routes, err := network.HostRoutes()
	if err != nil {
		return err
	}
	pool := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 66, 0, 0}), 16)
	if l.subnet, l.candidates, err = network.ChooseSubnet(pool, 24, routes, nil); err != nil {
		return err
	}
	l.gw = network.FirstHost(l.subnet)
	// The outside world gets a documentation range (RFC 5737), the first
	// of two that the host does not route already.
	for _, p := range []netip.Prefix{
		netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 51, 100, 0}), 24),
		netip.PrefixFrom(netip.AddrFrom4([4]byte{203, 0, 113, 0}), 24),
	} {
		if l.outSubnet, _, err = network.ChooseSubnet(p, 24, routes, []netip.Prefix{l.subnet}); err == nil {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("the outside world's subnet: %w", err)
	}
	l.outGW = network.FirstHost(l.outSubnet)
	l.outAddr = l.outGW.Next()
	if err := os.Mkdir(l.dir, 0o755); err != nil {
		return fmt.Errorf("the lesson's directory: %w", err)
	}
	l.leases = &network.Leases{Dir: l.dir, Subnet: l.subnet, Gateway: l.gw}
	l.records = network.Records{}
	l.hostPort = uint16(s.Flags.Uint("host-port"))
	s.Cleanup(func() error { return l.teardown(nil) })
	return nil
}

// apply carries out a plan and prints each command it ran, as one block.
func (l *lab) apply(s *kit.Session, p network.Plan) error {
	var done []string
	err := l.undo.Apply(p, func(cmd string) { done = append(done, cmd) })
	printCmds(s, done)
	return err
}

// printCmds prints commands as one block of `$ ` lines; a command that
// spans lines (nft -f with a here-document) shows its body as is.
func printCmds(s *kit.Session, cmds []string) {
	var block []string
	flush := func() {
		if len(block) > 0 {
			s.Cmd("%s", strings.Join(block, "\n"))
			block = nil
		}
	}
	for _, c := range cmds {
		first, rest, multi := strings.Cut(c, "\n")
		block = append(block, first)
		if multi {
			flush()
			s.Show("%s", rest)
		}
	}
	flush()
}

// newNS makes a named network namespace for a container, as part of the
// lesson's undo.
func (l *lab) newNS(s *kit.Session, name string) (*network.NetNS, error) {
	ns, err := network.NamedNetNS(network.NetNSDir, nsPrefix+name)
	if err != nil {
		return nil, err
	}
	if err := l.apply(s, network.Plan{network.AddNetNS{NS: ns}}); err != nil {
		return nil, err
	}
	l.ns[name] = ns
	return ns, nil
}

// startContainer starts container name in its namespace, with its own
// /etc/hostname, /etc/hosts and /etc/resolv.conf (written now, as a runtime
// writes them when it creates the container; step 7 looks at them).
func (l *lab) startContainer(s *kit.Session, name string) (*container, error) {
	addr, err := l.leases.Allocate(name)
	if err != nil {
		return nil, err
	}
	l.addrs[name] = addr
	cfg, err := writeEtc(filepath.Join(l.dir, name), name, addr, l.gw)
	if err != nil {
		return nil, err
	}
	c, err := startContainer(s.Ctx, l.ns[name], cfg)
	if err != nil {
		return nil, err
	}
	l.ctrs[name] = c
	return c, nil
}

// endpoint is the plan that connects container name to the bridge (step
// 3's part of network.EndpointPlan; the default route comes in step 5).
func (l *lab) endpoint(name string) network.Plan {
	ns := l.ns[name]
	return network.Plan{
		network.AddVeth{Name: hostLink(name), Peer: "eth0", PeerNS: ns, PeerMAC: network.ContainerMAC(l.addrs[name])},
		network.SetMaster{Link: hostLink(name), Master: bridge},
		network.SetUp{Link: hostLink(name)},
		network.AddAddr{NS: ns, Link: "eth0", Addr: netip.PrefixFrom(l.addrs[name], l.subnet.Bits())},
		network.SetUp{NS: ns, Link: "eth0"},
	}
}

// stopContainer ends a container and gives its address back.
func (l *lab) stopContainer(name string) error {
	if c := l.ctrs[name]; c != nil {
		c.stop()
		delete(l.ctrs, name)
	}
	return l.leases.Release(name)
}

// teardown stops the containers, undoes every plan in reverse and removes
// the state directory. It is safe to call twice: step 8 calls it with a
// trace, the session's clean up again without one.
func (l *lab) teardown(trace network.Trace) error {
	var errs []error
	for name := range l.ctrs {
		errs = append(errs, l.stopContainer(name))
	}
	if l.dns != nil {
		errs = append(errs, l.dns.Close())
		l.dns = nil
	}
	for i := len(l.closers) - 1; i >= 0; i-- {
		errs = append(errs, l.closers[i]())
	}
	l.closers = nil
	errs = append(errs, l.undo.Run(trace))
	if l.dir != "" {
		errs = append(errs, os.RemoveAll(l.dir))
	}
	return errors.Join(errs...)
}

// removeLeftovers deletes what a killed run of this lesson left on the
// host: our links, our table and our namespaces, found by their names.
func removeLeftovers(s *kit.Session, n hostNames) error {
	var found []string
	var errs []error
	links, err := network.Links(nil)
	if err != nil {
		return err
	}
	for _, lk := range links {
		if strings.HasPrefix(lk.Name, n.link) {
			found = append(found, "link "+lk.Name)
			errs = append(errs, network.DeleteLink(lk.Name))
		}
	}
	if ok, err := network.TableExists(n.table); err != nil {
		return err
	} else if ok {
		found = append(found, "nftables table ip "+n.table)
		errs = append(errs, network.DeleteTableNow(n.table))
	}
	names, err := network.NetNSNames()
	if err != nil {
		return err
	}
	for _, name := range names {
		if strings.HasPrefix(name, n.ns) {
			found = append(found, "netns "+name)
			errs = append(errs, network.DeleteNetNS(&network.NetNS{Name: name, Path: filepath.Join(network.NetNSDir, name)}))
		}
	}
	if len(found) > 0 {
		s.Warn("an earlier run was killed before it could clean up; removed what it left: %s", strings.Join(found, ", "))
	}
	return errors.Join(errs...)
}
