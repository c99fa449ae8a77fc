//go:build linux

package main

// The checks of the exercises (exercises.go): each builds namespaces of its
// own, applies what the learner wrote, and sends real packets through it,
// only ever to addresses inside those namespaces.

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/network"
)

var exercises = []kit.Exercise{
	{
		Title: "A cable by hand: a veth pair into a namespace",
		Stub:  "exercises.go:cablePlan",
		Check: checkCable,
		Hint: "network.AddVeth makes both ends at once, the peer right in its namespace; then an\n" +
			"address and up on each end (NS nil is the host).",
	},
	{
		Title: "Routed, not NATed: a default route and ip_forward",
		Stub:  "exercises.go:routePlan",
		Check: checkRoute,
		Hint: "a namespace without a default route has no way past its own subnet; the host forwards\n" +
			"what is not for itself only with net.ipv4.ip_forward=1.",
	},
	{
		Title: "ip netns add by hand: a namespace pinned by a bind mount",
		Stub:  "exercises.go:addNetNS",
		Check: checkAddNetNS,
		Hint: "unshare(2) moves the calling thread: lock the goroutine to it first, bind-mount\n" +
			"/proc/thread-self/ns/net onto the file, and do not unlock the thread afterwards.",
	},
}

// exerciseNames are the names a check gives what it makes: ours by prefix
// (ubx, unbox) and unique to this process.
func exerciseNames(what string) (link, ns string) {
	id := fmt.Sprintf("%d", os.Getpid()%100000)
	return "ubx6x" + id + what, "unbox06x-" + id + "-" + what
}

// exerciseSubnet is a /24 no route of the host uses, in 10.67.0.0/16 (the
// lesson's own networks are in 10.66.0.0/16).
func exerciseSubnet(taken ...netip.Prefix) (netip.Prefix, error) {
	routes, err := network.HostRoutes()
	if err != nil {
		return netip.Prefix{}, err
	}
	pool := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 67, 0, 0}), 16)
	subnet, _, err := network.ChooseSubnet(pool, 24, routes, taken)
	return subnet, err
}

// newExerciseNS creates a named namespace, deleted however the check ends.
func newExerciseNS(s *kit.Session, undo *network.Undo, what string) (*network.NetNS, error) {
	_, name := exerciseNames(what)
	ns, err := network.NamedNetNS(network.NetNSDir, name)
	if err != nil {
		return nil, err
	}
	return ns, undo.Apply(network.Plan{network.AddNetNS{NS: ns}, network.SetUp{NS: ns, Link: "lo"}}, nil)
}

// serveIn opens a server on :80 in ns that answers each connection with
// "<name> saw <address>", closed however the check ends.
func serveIn(s *kit.Session, ns *network.NetNS, name string) error {
	var l net.Listener
	if err := ns.Do(func() (err error) { l, err = net.Listen("tcp4", ":80"); return err }); err != nil {
		return err
	}
	s.Cleanup(l.Close)
	go serveLines(l, name)
	return nil
}

// host pairs: the .1 of a subnet on the host's end, .2 in the namespace.
func ends(subnet netip.Prefix) (host, inside netip.Prefix) {
	gw := network.FirstHost(subnet)
	return netip.PrefixFrom(gw, subnet.Bits()), netip.PrefixFrom(gw.Next(), subnet.Bits())
}

// checkCable applies the learner's plan and connects from the host to a
// server in the namespace.
func checkCable(s *kit.Session) error {
	undo := &network.Undo{}
	s.Cleanup(func() error { return undo.Run(nil) })
	ns, err := newExerciseNS(s, undo, "a")
	if err != nil {
		return err
	}
	subnet, err := exerciseSubnet()
	if err != nil {
		return err
	}
	hostAddr, nsAddr := ends(subnet)
	link, _ := exerciseNames("a")
	plan, err := cablePlan(ns, link, hostAddr, nsAddr)
	if err != nil {
		return fmt.Errorf("cablePlan: %w", err)
	}
	var done []string
	if err := undo.Apply(plan, func(cmd string) { done = append(done, cmd) }); err != nil {
		return kit.Errorf("applying your plan: %w", err)
	}
	s.Cmd("%s", strings.Join(done, "\n"))
	if err := showLinks(s, ns, "ip -n "+ns.Name+" -br addr"); err != nil {
		return err
	}
	if err := serveIn(s, ns, "a"); err != nil {
		return err
	}
	target := netip.AddrPortFrom(nsAddr.Addr(), 80).String()
	s.Cmd("nc %s 80    # from the host, to a server in %s", nsAddr.Addr(), ns.Name)
	line := dialFrom(nil, target)
	s.Host("%s", line)
	if want := "a saw " + hostAddr.Addr().String(); line != want {
		return kit.Errorf("the host's connection to %s: %q; want %q", target, line, want)
	}
	return nil
}

// checkRoute builds in and out namespaces, each on a cable of the
// checker's own to the host, applies the learner's plan for in, and
// connects from in to a server in out: out must see in's own address.
func checkRoute(s *kit.Session) error {
	undo := &network.Undo{}
	s.Cleanup(func() error { return undo.Run(nil) })
	in, err := newExerciseNS(s, undo, "in")
	if err != nil {
		return err
	}
	out, err := newExerciseNS(s, undo, "out")
	if err != nil {
		return err
	}
	inNet, err := exerciseSubnet()
	if err != nil {
		return err
	}
	outNet, err := exerciseSubnet(inNet)
	if err != nil {
		return err
	}
	inGW, inAddr := ends(inNet)
	outGW, outAddr := ends(outNet)
	inLink, _ := exerciseNames("in")
	outLink, _ := exerciseNames("out")
	var setup network.Plan
	for _, c := range []struct {
		ns       *network.NetNS
		link     string
		gw, addr netip.Prefix
	}{{in, inLink, inGW, inAddr}, {out, outLink, outGW, outAddr}} {
		setup = append(setup,
			network.AddVeth{Name: c.link, Peer: "eth0", PeerNS: c.ns},
			network.AddAddr{Link: c.link, Addr: c.gw},
			network.SetUp{Link: c.link},
			network.AddAddr{NS: c.ns, Link: "eth0", Addr: c.addr},
			network.SetUp{NS: c.ns, Link: "eth0"})
	}
	// The way back is out's default route: the check's, not the learner's.
	setup = append(setup, network.AddRoute{NS: out, Via: outGW.Addr()})
	if err := undo.Apply(setup, nil); err != nil {
		return err
	}
	if err := serveIn(s, out, "out"); err != nil {
		return err
	}
	s.Cmd("# two namespaces on cables to the host: %s (%s) and %s (%s)", in.Name, inAddr, out.Name, outAddr)
	plan, err := routePlan(in, inGW.Addr())
	if err != nil {
		return fmt.Errorf("routePlan: %w", err)
	}
	var done []string
	if err := undo.Apply(plan, func(cmd string) { done = append(done, cmd) }); err != nil {
		return kit.Errorf("applying your plan: %w", err)
	}
	s.Cmd("%s", strings.Join(done, "\n"))
	target := netip.AddrPortFrom(outAddr.Addr(), 80).String()
	s.Cmd("ip netns exec %s nc %s 80", in.Name, outAddr.Addr())
	line := dialFrom(in, target)
	s.Inside("%s", line)
	if want := "out saw " + inAddr.Addr().String(); line != want {
		return kit.Errorf("from %s to %s: %q; want %q (routed by the host, not rewritten)", in.Name, target, line, want)
	}
	return nil
}

// checkAddNetNS lets the learner's addNetNS make a namespace at a path,
// then asks the kernel what that path is and what is in the namespace.
func checkAddNetNS(s *kit.Session) error {
	_, name := exerciseNames("pin")
	ns, err := network.NamedNetNS(network.NetNSDir, name)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(ns.Path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(ns.Path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return err
	}
	f.Close()
	s.Cleanup(func() error { return network.DeleteNetNS(ns) })
	host, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		return err
	}
	s.Cmd("touch %s    # then your addNetNS(%q)", ns.Path, ns.Path)
	if err := addNetNS(ns.Path); err != nil {
		return fmt.Errorf("addNetNS: %w", err)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(ns.Path, &st); err != nil {
		return err
	}
	if st.Type != unix.NSFS_MAGIC {
		return kit.Errorf("%s is not a namespace (its filesystem is %#x, not nsfs): nothing was bound onto it", ns.Path, st.Type)
	}
	var pinned, self unix.Stat_t
	if err := unix.Stat(ns.Path, &pinned); err != nil {
		return err
	}
	if err := unix.Stat("/proc/self/ns/net", &self); err != nil {
		return err
	}
	s.Cmd("stat -f -c %%T %s; ls -iL %s /proc/self/ns/net", ns.Path, ns.Path)
	s.Host("nsfs: namespace inode %d here, %d for this process (%s)", pinned.Ino, self.Ino, host)
	if pinned.Ino == self.Ino {
		return kit.Errorf("the pinned namespace is the host's own: unshare(CLONE_NEWNET) did not happen on that thread")
	}
	if err := showLinks(s, ns, "ip -n "+ns.Name+" -br link"); err != nil {
		return err
	}
	links, err := network.Links(ns)
	if err != nil {
		return err
	}
	if len(links) != 1 || links[0].Name != "lo" {
		return kit.Errorf("the new namespace has links %v; want lo alone", links)
	}
	var strays []string
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		strays = strays[:0]
		tasks, _ := os.ReadDir("/proc/self/task")
		for _, t := range tasks {
			if l, err := os.Readlink("/proc/self/task/" + t.Name() + "/ns/net"); err == nil && l != host {
				strays = append(strays, t.Name())
			}
		}
		if len(strays) == 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(strays) > 0 {
		return kit.Errorf("threads %s of this program are in the new namespace: other goroutines will run "+
			"there (was the thread unlocked?)", strings.Join(strays, ", "))
	}
	s.Host("every thread of this program is still in %s", host)
	return nil
}
