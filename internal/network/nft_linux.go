package network

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"
)

// ApplyTableNow replaces our table with t in one nf_tables transaction:
// add the table (a no-op if it exists), delete it, add it again with its
// chains and rules. The kernel applies a batch whole or not at all
// (Documentation/networking/nf_tables... "transactions"; nft(8) -f does
// the same), so a packet sees the old rules or the new ones, never a mix,
// and a batch that fails leaves the old table as it was.
func ApplyTableNow(t *Table) error {
	if err := CheckTableName(t.Name); err != nil {
		return err
	}
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	tbl := &nftables.Table{Name: t.Name, Family: nftables.TableFamilyIPv4}
	c.AddTable(tbl)
	c.DelTable(tbl)
	c.AddTable(tbl)
	for _, ch := range t.Chains {
		hook, err := chainHook(ch.Hook)
		if err != nil {
			return err
		}
		prio := nftables.ChainPriority(ch.Priority)
		policy := nftables.ChainPolicyAccept
		nch := c.AddChain(&nftables.Chain{
			Name:     ch.Name,
			Table:    tbl,
			Type:     nftables.ChainType(ch.Type),
			Hooknum:  hook,
			Priority: &prio,
			Policy:   &policy,
		})
		for _, r := range ch.Rules {
			exprs, err := ruleExprs(r)
			if err != nil {
				return fmt.Errorf("nft add rule ip %s %s %s: %w", t.Name, ch.Name, r, err)
			}
			nr := &nftables.Rule{Table: tbl, Chain: nch, Exprs: exprs}
			if r.Comment != "" {
				nr.UserData = userdata.AppendString(nil, userdata.TypeComment, r.Comment)
			}
			c.AddRule(nr)
		}
	}
	if err := c.Flush(); err != nil {
		return nftError("nft -f (table ip "+t.Name+")", err)
	}
	return nil
}

// DeleteTableNow deletes our table called name; a table that is not there
// is no error.
func DeleteTableNow(name string) error {
	if err := CheckTableName(name); err != nil {
		return err
	}
	ok, err := TableExists(name)
	if err != nil || !ok {
		return err
	}
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	c.DelTable(&nftables.Table{Name: name, Family: nftables.TableFamilyIPv4})
	if err := c.Flush(); err != nil && !errors.Is(err, unix.ENOENT) {
		return nftError("nft delete table ip "+name, err)
	}
	return nil
}

// TableExists reports whether the host has the ip table called name.
func TableExists(name string) (bool, error) {
	tables, err := listTables()
	if err != nil {
		return false, err
	}
	for _, t := range tables {
		if t.Family == nftables.TableFamilyIPv4 && t.Name == name {
			return true, nil
		}
	}
	return false, nil
}

func listTables() ([]*nftables.Table, error) {
	c, err := nftables.New()
	if err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	tables, err := c.ListTables()
	if err != nil {
		return nil, nftError("nft list tables", err)
	}
	return tables, nil
}

// Tables lists every nftables table on the host as `nft list tables`
// does ("ip nat", "inet filter", ...), ours and everybody else's: reading
// them is how a lesson shows the host's tables are as they were.
func Tables() ([]string, error) {
	tables, err := listTables()
	if err != nil {
		return nil, err
	}
	out := make([]string, len(tables))
	for i, t := range tables {
		out[i] = familyName(t.Family) + " " + t.Name
	}
	return out, nil
}

func familyName(f nftables.TableFamily) string {
	switch f {
	case nftables.TableFamilyIPv4:
		return "ip"
	case nftables.TableFamilyIPv6:
		return "ip6"
	case nftables.TableFamilyINet:
		return "inet"
	case nftables.TableFamilyARP:
		return "arp"
	case nftables.TableFamilyBridge:
		return "bridge"
	case nftables.TableFamilyNetdev:
		return "netdev"
	}
	return fmt.Sprint(f)
}

// ReadCounters returns a copy of t with each rule's Counter as the kernel
// counted it, as `nft list table` shows them. The kernel's table must be t
// as it was applied.
func ReadCounters(t *Table) (*Table, error) {
	c, err := nftables.New()
	if err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	out := &Table{Name: t.Name}
	tbl := &nftables.Table{Name: t.Name, Family: nftables.TableFamilyIPv4}
	for _, ch := range t.Chains {
		rules, err := c.GetRules(tbl, &nftables.Chain{Name: ch.Name, Table: tbl})
		if err != nil {
			return nil, nftError(fmt.Sprintf("nft list chain ip %s %s", t.Name, ch.Name), err)
		}
		if len(rules) != len(ch.Rules) {
			return nil, fmt.Errorf("nft list chain ip %s %s: %d rules in the kernel, %d expected: the table was changed by someone else",
				t.Name, ch.Name, len(rules), len(ch.Rules))
		}
		cp := *ch
		cp.Rules = slices.Clone(ch.Rules)
		for i, r := range rules {
			for _, e := range r.Exprs {
				if cnt, ok := e.(*expr.Counter); ok {
					cp.Rules[i].Counter = &Counter{Packets: cnt.Packets, Bytes: cnt.Bytes}
				}
			}
		}
		out.Chains = append(out.Chains, &cp)
	}
	return out, nil
}

func chainHook(h string) (*nftables.ChainHook, error) {
	switch h {
	case "prerouting":
		return nftables.ChainHookPrerouting, nil
	case "input":
		return nftables.ChainHookInput, nil
	case "forward":
		return nftables.ChainHookForward, nil
	case "output":
		return nftables.ChainHookOutput, nil
	case "postrouting":
		return nftables.ChainHookPostrouting, nil
	}
	return nil, fmt.Errorf("nftables: unknown hook %q", h)
}

// ruleExprs turns a rule into the nf_tables expressions `nft` would send
// for it (the virtual machine of Documentation/networking/nf_tables...:
// load into register 1, compare, then act). `nft --debug=netlink add rule
// ...` prints the same list.
func ruleExprs(r Rule) ([]expr.Any, error) {
	var out []expr.Any
	for _, m := range r.Match {
		e, err := matchExprs(m)
		if err != nil {
			return nil, err
		}
		out = append(out, e...)
	}
	out = append(out, &expr.Counter{})
	switch r.Verdict.Kind {
	case Masquerade:
		out = append(out, &expr.Masq{})
	case Drop:
		out = append(out, &expr.Verdict{Kind: expr.VerdictDrop})
	case DNAT:
		to := r.Verdict.To
		if !to.Addr().Is4() || to.Port() == 0 {
			return nil, fmt.Errorf("dnat to %s: need an IPv4 address and a port", to)
		}
		out = append(out,
			&expr.Immediate{Register: 1, Data: to.Addr().AsSlice()},
			&expr.Immediate{Register: 2, Data: binary.BigEndian.AppendUint16(nil, to.Port())},
			&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 2, Specified: true},
		)
	default:
		return nil, fmt.Errorf("unknown verdict %d", r.Verdict.Kind)
	}
	return out, nil
}

func cmpOp(not bool) expr.CmpOp {
	if not {
		return expr.CmpOpNeq
	}
	return expr.CmpOpEq
}

func matchExprs(m Match) ([]expr.Any, error) {
	switch m.Kind {
	case MatchIifname, MatchOifname:
		key := expr.MetaKeyIIFNAME
		if m.Kind == MatchOifname {
			key = expr.MetaKeyOIFNAME
		}
		if err := CheckLinkName(m.Name); err != nil {
			return nil, err
		}
		return []expr.Any{
			&expr.Meta{Key: key, Register: 1},
			&expr.Cmp{Op: cmpOp(m.Not), Register: 1, Data: ifname(m.Name)},
		}, nil
	case MatchSaddr, MatchDaddr:
		if !m.Prefix.Addr().Is4() {
			return nil, fmt.Errorf("%s: IPv4 only", m)
		}
		offset := uint32(12) // struct iphdr: saddr at 12, daddr at 16
		if m.Kind == MatchDaddr {
			offset = 16
		}
		p := m.Prefix.Masked()
		out := []expr.Any{&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4}}
		if p.Bits() < 32 {
			mask := binary.BigEndian.AppendUint32(nil, ^uint32(0)<<(32-p.Bits()))
			out = append(out, &expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: make([]byte, 4)})
		}
		return append(out, &expr.Cmp{Op: cmpOp(m.Not), Register: 1, Data: p.Addr().AsSlice()}), nil
	case MatchDaddrLocal:
		return []expr.Any{
			&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
			&expr.Cmp{Op: cmpOp(m.Not), Register: 1, Data: binary.NativeEndian.AppendUint32(nil, unix.RTN_LOCAL)},
		}, nil
	case MatchDport:
		proto := byte(unix.IPPROTO_TCP)
		switch m.Proto {
		case "tcp":
		case "udp":
			proto = unix.IPPROTO_UDP
		default:
			return nil, fmt.Errorf("%s: tcp or udp", m)
		}
		return []expr.Any{
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
			// The destination port is at offset 2 of both headers.
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
			&expr.Cmp{Op: cmpOp(m.Not), Register: 1, Data: binary.BigEndian.AppendUint16(nil, m.Port)},
		}, nil
	case MatchCtDNAT:
		op := expr.CmpOpNeq // status & dnat != 0
		if m.Not {
			op = expr.CmpOpEq
		}
		return []expr.Any{
			&expr.Ct{Register: 1, Key: expr.CtKeySTATUS},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
				Mask: binary.NativeEndian.AppendUint32(nil, ipsDstNAT), Xor: make([]byte, 4)},
			&expr.Cmp{Op: op, Register: 1, Data: make([]byte, 4)},
		}, nil
	}
	return nil, fmt.Errorf("unknown match %d", m.Kind)
}

// ipsDstNAT is IPS_DST_NAT of enum ip_conntrack_status
// (include/uapi/linux/netfilter/nf_conntrack_common.h).
const ipsDstNAT = 1 << 5

// ifname is an interface name as nf_tables compares it: NUL-padded to
// IFNAMSIZ, so "ubx0" does not also match "ubx01".
func ifname(n string) []byte {
	b := make([]byte, IFNAMSIZ)
	copy(b, n)
	return b
}

// nftError adds what to do to an nf_tables error.
func nftError(cmd string, err error) error {
	hint := ""
	switch {
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		hint = ": this needs root (CAP_NET_ADMIN)"
	case errors.Is(err, unix.EPROTONOSUPPORT), errors.Is(err, unix.EAFNOSUPPORT):
		hint = ": this kernel has no nf_tables (modprobe nf_tables)"
	case errors.Is(err, unix.ENOENT), errors.Is(err, unix.EOPNOTSUPP):
		hint = ": the kernel lacks a part of nf_tables these rules use (load its modules: " +
			"modprobe -a nft_chain_nat nft_nat nft_masq nft_ct nft_fib_ipv4)"
	}
	return fmt.Errorf("%s: %w%s", cmd, err, hint)
}

// HostState is what a clean up must leave as it found it: OursOnHost,
// and ip_forward, as "net.ipv4.ip_forward=0". A test that compares it
// before and after sees a leak and a sysctl left changed alike.
func HostState() ([]string, error) {
	ours, err := OursOnHost()
	fwd, ferr := ReadSysctl(ForwardingKey)
	return append(ours, ForwardingKey+"="+fwd), errors.Join(err, ferr)
}

// OursOnHost lists what of ours exists on the host now: links named ubx…
// in the host's namespace, nftables tables named unbox…, and named network
// namespaces unbox… in NetNSDir. A clean host lists nothing; the leak
// checks of the tests and a prune use it.
func OursOnHost() ([]string, error) {
	var out []string
	var errs []error
	links, err := hostLinks()
	if err != nil {
		errs = append(errs, err)
	}
	for _, l := range links {
		if strings.HasPrefix(l, LinkPrefix) {
			out = append(out, "link "+l)
		}
	}
	tables, err := Tables()
	if err != nil {
		errs = append(errs, err)
	}
	for _, t := range tables {
		if _, name, _ := strings.Cut(t, " "); strings.HasPrefix(name, TablePrefix) {
			out = append(out, "nftables table "+t)
		}
	}
	names, err := NetNSNames()
	if err != nil {
		errs = append(errs, err)
	}
	for _, n := range names {
		if strings.HasPrefix(n, NetNSPrefix) {
			out = append(out, "netns "+n)
		}
	}
	return out, errors.Join(errs...)
}
