//go:build linux && !solution

package main

// The exercises of the README, to fill in. Check one with
// `go run -exec sudo ./lessons/06-network check N`: it runs your code on
// namespaces of its own and sends real packets through what you built.
// (A TODO(exercise N) marks where you write, not unfinished work: the
// lesson runs without them.)

import (
	"net/netip"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/network"
)

// cablePlan is step 2 by hand: the plan that connects the network
// namespace ns to the host with a veth pair, hostEnd on the host with
// hostAddr, eth0 in ns with nsAddr, both up.
//
// TODO(exercise 1): return a network.Plan of five actions: network.AddVeth
// (hostEnd, its peer eth0 created in ns), network.AddAddr and network.SetUp
// for each end (NS nil is the host). The check applies it and connects to
// a server in ns from the host.
func cablePlan(ns *network.NetNS, hostEnd string, hostAddr, nsAddr netip.Prefix) (network.Plan, error) {
	return nil, kit.TODO(1)
}

// routePlan lets the namespace ns reach networks beyond the host, routed
// (no NAT): the other half of step 5.
//
// TODO(exercise 2): a default route in ns via gw (network.AddRoute with no
// Dst), and the host's IP forwarding on (network.Sysctl with
// network.ForwardingKey): without it the host drops packets that are not
// for itself.
func routePlan(ns *network.NetNS, gw netip.Addr) (network.Plan, error) {
	return nil, kit.TODO(2)
}

// addNetNS is `ip netns add` by hand: a new network namespace, kept alive
// by a bind mount of it on the empty file at path, which exists.
//
// TODO(exercise 3): on a goroutine locked to its thread
// (runtime.LockOSThread), unix.Unshare(unix.CLONE_NEWNET), then bind-mount
// the thread's namespace, /proc/thread-self/ns/net, onto path (unix.Mount
// with unix.MS_BIND). The thread is now in the new namespace: do not
// unlock it, so that it ends with the goroutine instead of running the
// rest of the program in there.
func addNetNS(path string) error {
	return kit.TODO(3)
}
