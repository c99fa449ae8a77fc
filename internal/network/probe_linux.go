package network

import (
	"errors"
	"fmt"
	"net/netip"
	"os"

	"github.com/vishvananda/netlink"
)

// The probes below answer "can this kernel do it?" the only reliable way:
// by doing it once, with names of our own, and undoing it. A module that
// is not loaded yet is loaded on first use (the kernel asks modprobe for
// "rtnl-link-veth", "nft-chain-2-nat", ...), so reading /proc/modules or
// /sys/module would miss features that are only a module away, and
// built-in ones that have no entry there at all.

// ProbeVeth creates a veth pair on the host and deletes it.
func ProbeVeth() error {
	name := fmt.Sprintf("ubxpv%d", os.Getpid()%10000000)
	return probeLink(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: fmt.Sprintf("ubxqv%d", os.Getpid()%10000000)},
		"ip link add "+name+" type veth", "veth")
}

// ProbeBridge creates a bridge on the host and deletes it.
func ProbeBridge() error {
	name := fmt.Sprintf("ubxpb%d", os.Getpid()%10000000)
	return probeLink(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}}, "ip link add "+name+" type bridge", "bridge")
}

func probeLink(l netlink.Link, cmd, kind string) error {
	h := newHandles()
	defer h.close()
	hl, err := h.at(nil)
	if err != nil {
		return err
	}
	if err := hl.LinkAdd(l); err != nil {
		return explain(cmd, err, kind)
	}
	return hl.LinkDel(l)
}

// ProbeNftables applies a table with one rule of every kind the package
// writes (masquerade, DNAT, fib, conntrack status, interface and address
// matches, drop) and deletes it: nf_tables, its NAT chains and each
// expression's module must all be there.
func ProbeNftables() error {
	name := fmt.Sprintf("unbox-probe-%d", os.Getpid())
	subnet := netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 0, 2, 0}), 24)
	t := Ruleset(name, []BridgeNet{{Bridge: "ubx-probe", Subnet: subnet, Localnet: true}}, []Forward{{
		PortMapping: PortMapping{HostPort: 8080, ContainerPort: 80, Proto: "tcp"},
		To:          netip.AddrFrom4([4]byte{192, 0, 2, 2}),
	}})
	if err := ApplyTableNow(t); err != nil {
		return err
	}
	return DeleteTableNow(name)
}

// ErrNeedsLinux is what the parts of this package that touch the kernel
// return on other systems.
var ErrNeedsLinux = errors.New("unbox needs Linux: use the Vagrant VM (see README.md)")

// Requirement is one thing the kernel must offer for this package to
// work, the check that finds out (by trying it: it needs root), and how to
// get it.
type Requirement struct {
	Name  string
	Check func() error
	Fix   string
}

// Requirements are what bridge networks need from the kernel.
var Requirements = []Requirement{
	{Name: "veth", Check: ProbeVeth, Fix: "a kernel with CONFIG_VETH (sudo modprobe veth); or use the Vagrant VM"},
	{Name: "bridge", Check: ProbeBridge, Fix: "a kernel with CONFIG_BRIDGE (sudo modprobe bridge); or use the Vagrant VM"},
	{Name: "nf_tables", Check: ProbeNftables, Fix: "a kernel with nf_tables and its NAT (sudo modprobe -a nf_tables " +
		"nft_chain_nat nft_nat nft_masq nft_ct nft_fib_ipv4); or use the Vagrant VM"},
}
