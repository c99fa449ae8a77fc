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

// ProbeNftables applies, one after the other, a table with each kind of
// rule the package writes and deletes it again, and names the first part
// of nf_tables the kernel lacks with the module that provides it: the
// core with interface and address matches, NAT chains, masquerade, DNAT,
// fib and conntrack.
func ProbeNftables() error {
	name := fmt.Sprintf("unbox-probe-%d", os.Getpid())
	subnet := netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 0, 2, 0}), 24)
	to := netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, 2}), 80)
	local := Match{Kind: MatchDaddrLocal}
	ifname := Match{Kind: MatchIifname, Name: "ubx-probe"}
	saddr := Match{Kind: MatchSaddr, Prefix: subnet}
	dport := Match{Kind: MatchDport, Proto: "tcp", Port: 8080}
	nat := func(hook string, prio int, r Rule) *Chain {
		return &Chain{Name: hook, Type: "nat", Hook: hook, Priority: prio, Rules: []Rule{r}}
	}
	for _, p := range []struct {
		what, module string
		chain        *Chain
	}{
		{"nf_tables", "nf_tables", &Chain{Name: "guard", Type: "filter", Hook: "prerouting", Priority: -300,
			Rules: []Rule{{Match: []Match{ifname, saddr, dport}, Verdict: Verdict{Kind: Drop}}}}},
		{"NAT chains", "nft_chain_nat", &Chain{Name: "postrouting", Type: "nat", Hook: "postrouting", Priority: 100}},
		{"masquerade", "nft_masq", nat("postrouting", 100, Rule{Match: []Match{saddr}, Verdict: Verdict{Kind: Masquerade}})},
		{"DNAT", "nft_nat", nat("prerouting", -100, Rule{Match: []Match{dport}, Verdict: Verdict{Kind: DNAT, To: to}})},
		{"fib daddr type local", "nft_fib_ipv4", nat("prerouting", -100, Rule{Match: []Match{local}, Verdict: Verdict{Kind: DNAT, To: to}})},
		{"ct status", "nft_ct", nat("postrouting", 100, Rule{Match: []Match{{Kind: MatchCtDNAT}}, Verdict: Verdict{Kind: Masquerade}})},
	} {
		err := ApplyTableNow(&Table{Name: name, Chains: []*Chain{p.chain}})
		if derr := DeleteTableNow(name); err == nil {
			err = derr
		}
		if err != nil {
			return fmt.Errorf("%s (module %s): %w", p.what, p.module, err)
		}
	}
	return nil
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
	{Name: "nf_tables", Check: ProbeNftables, Fix: "a kernel with nf_tables and the module named " +
		"(sudo modprobe MODULE); or use the Vagrant VM"},
}
