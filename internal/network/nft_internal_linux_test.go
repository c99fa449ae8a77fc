package network

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// TestRuleExprs checks the nf_tables expressions of each match and verdict
// against what `nft --debug=netlink add rule ip t c <rule>` shows for the
// same rule: register loads, masks, byte orders.
func TestRuleExprs(t *testing.T) {
	r := Rule{
		Match: []Match{
			{Kind: MatchIifname, Name: "ubx0"},
			{Kind: MatchSaddr, Prefix: netip.MustParsePrefix("10.66.0.0/24")},
			{Kind: MatchDaddr, Not: true, Prefix: netip.MustParsePrefix("10.66.0.9/32")},
			{Kind: MatchDaddrLocal},
			{Kind: MatchDport, Proto: "udp", Port: 8080},
			{Kind: MatchCtDNAT},
		},
		Verdict: Verdict{Kind: DNAT, To: netip.MustParseAddrPort("10.66.0.2:80")},
	}
	got, err := ruleExprs(r)
	if err != nil {
		t.Fatal(err)
	}
	want := []expr.Any{
		// iifname "ubx0": [ meta load iifname => reg 1 ] [ cmp eq reg 1 0x30787562 0x00000000 ... ]
		&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte("ubx0\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00")},
		// ip saddr 10.66.0.0/24: [ payload load 4b @ network header + 12 ] [ bitwise ... mask 0x00ffffff ] [ cmp eq ]
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: []byte{255, 255, 255, 0}, Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{10, 66, 0, 0}},
		// ip daddr != 10.66.0.9: no mask for a single address
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{10, 66, 0, 9}},
		// fib daddr type local: [ fib daddr type => reg 1 ] [ cmp eq reg 1 0x00000002 ] (host byte order)
		&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: nativeUint32(unix.RTN_LOCAL)},
		// udp dport 8080: [ meta load l4proto ] [ cmp eq 0x11 ] [ payload load 2b @ transport header + 2 ] [ cmp eq 0x901f ]
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_UDP}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{0x1f, 0x90}},
		// ct status dnat: [ ct load status ] [ bitwise mask 0x20 ] [ cmp neq 0 ]
		&expr.Ct{Register: 1, Key: expr.CtKeySTATUS},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: nativeUint32(0x20), Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{0, 0, 0, 0}},
		&expr.Counter{},
		// dnat to 10.66.0.2:80: [ immediate reg 1 0x0242420a ] [ immediate reg 2 0x5000 ] [ nat dnat ip addr_min reg 1 proto_min reg 2 ]
		&expr.Immediate{Register: 1, Data: []byte{10, 66, 0, 2}},
		&expr.Immediate{Register: 2, Data: []byte{0, 80}},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 2, Specified: true},
	}
	if len(got) != len(want) {
		t.Fatalf("ruleExprs gave %d expressions; want %d", len(got), len(want))
	}
	for i := range want {
		if !sameExpr(got[i], want[i]) {
			t.Errorf("expression %d = %#v; want %#v", i, got[i], want[i])
		}
	}

	masq, err := ruleExprs(Rule{Verdict: Verdict{Kind: Masquerade}})
	if err != nil || len(masq) != 2 {
		t.Fatalf("masquerade = %#v, %v", masq, err)
	}
	if _, ok := masq[1].(*expr.Masq); !ok {
		t.Errorf("masquerade ends in %#v; want a masq expression", masq[1])
	}
	for _, bad := range []Rule{
		{Verdict: Verdict{Kind: DNAT, To: netip.MustParseAddrPort("[::1]:80")}},
		{Match: []Match{{Kind: MatchDport, Proto: "sctp", Port: 1}}, Verdict: Verdict{Kind: Drop}},
		{Match: []Match{{Kind: MatchOifname, Name: "a-name-far-too-long"}}, Verdict: Verdict{Kind: Drop}},
	} {
		if _, err := ruleExprs(bad); err == nil {
			t.Errorf("ruleExprs(%s) succeeded; want an error", bad)
		}
	}
}

// nativeUint32 is v in the host's byte order, as the kernel keeps
// fib results and conntrack status in registers.
func nativeUint32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }

// sameExpr compares two expressions field by field, byte slices by content.
func sameExpr(a, b expr.Any) bool {
	switch a := a.(type) {
	case *expr.Cmp:
		b, ok := b.(*expr.Cmp)
		return ok && a.Op == b.Op && a.Register == b.Register && bytes.Equal(a.Data, b.Data)
	case *expr.Bitwise:
		b, ok := b.(*expr.Bitwise)
		return ok && a.SourceRegister == b.SourceRegister && a.DestRegister == b.DestRegister && a.Len == b.Len &&
			bytes.Equal(a.Mask, b.Mask) && bytes.Equal(a.Xor, b.Xor)
	case *expr.Immediate:
		b, ok := b.(*expr.Immediate)
		return ok && a.Register == b.Register && bytes.Equal(a.Data, b.Data)
	case *expr.Meta:
		b, ok := b.(*expr.Meta)
		return ok && *a == *b
	case *expr.Payload:
		b, ok := b.(*expr.Payload)
		return ok && *a == *b
	case *expr.Fib:
		b, ok := b.(*expr.Fib)
		return ok && *a == *b
	case *expr.Ct:
		b, ok := b.(*expr.Ct)
		return ok && *a == *b
	case *expr.Counter:
		_, ok := b.(*expr.Counter)
		return ok
	case *expr.NAT:
		b, ok := b.(*expr.NAT)
		return ok && *a == *b
	}
	return false
}
