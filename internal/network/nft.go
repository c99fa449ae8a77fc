package network

import (
	"fmt"
	"net/netip"
	"strings"
)

// Table is one nftables table of ours, family ip (IPv4), as data: base
// chains hooked into the kernel's packet path, each with its rules. It is
// built in full ([Ruleset]) and replaced in full ([ApplyTableNow]); String
// renders it the way `nft list table` shows it (with two-space indents
// instead of tabs).
type Table struct {
	Name   string
	Chains []*Chain
}

// Chain is a base chain: Type "nat" or "filter", a Hook ("prerouting",
// "output", "postrouting", ...) and a Priority (nft's dstnat is -100, srcnat
// 100, raw -300). Its policy is always accept: our chains only add NAT and
// drop what must never pass, and leave every other decision to the host.
type Chain struct {
	Name     string
	Type     string
	Hook     string
	Priority int
	Rules    []Rule
}

// Rule is a list of matches, all of which must hold, then a counter and a
// verdict.
type Rule struct {
	Match   []Match
	Verdict Verdict
	Comment string
	// Counter is what the kernel counted, filled in by [ReadCounters]; nil
	// in a table that was built, not read.
	Counter *Counter
}

// Counter is a rule's packet and byte count.
type Counter struct{ Packets, Bytes uint64 }

// MatchKind says what a Match compares.
type MatchKind int

// The matches our rules use.
const (
	MatchIifname    MatchKind = iota + 1 // iifname "NAME": the interface a packet came in on
	MatchOifname                         // oifname "NAME": the interface it goes out of
	MatchSaddr                           // ip saddr PREFIX
	MatchDaddr                           // ip daddr PREFIX
	MatchDaddrLocal                      // fib daddr type local: addressed to the host itself
	MatchDport                           // PROTO dport PORT
	MatchCtDNAT                          // ct status dnat: a connection we DNATed
)

// Match is one condition of a rule.
type Match struct {
	Kind   MatchKind
	Not    bool         // != instead of ==
	Name   string       // an interface, for MatchIifname and MatchOifname
	Prefix netip.Prefix // for MatchSaddr and MatchDaddr
	Proto  string       // "tcp" or "udp", for MatchDport
	Port   uint16       // for MatchDport
}

// VerdictKind is what a rule does to a packet it matches.
type VerdictKind int

// The verdicts our rules use.
const (
	Masquerade VerdictKind = iota + 1 // rewrite the source to the outgoing interface's address
	DNAT                              // rewrite the destination to To
	Drop
)

// Verdict is a rule's action.
type Verdict struct {
	Kind VerdictKind
	To   netip.AddrPort // for DNAT
}

func (m Match) String() string {
	op := ""
	if m.Not {
		op = "!= "
	}
	switch m.Kind {
	case MatchIifname:
		return fmt.Sprintf("iifname %s%q", op, m.Name)
	case MatchOifname:
		return fmt.Sprintf("oifname %s%q", op, m.Name)
	case MatchSaddr:
		return "ip saddr " + op + prefixString(m.Prefix)
	case MatchDaddr:
		return "ip daddr " + op + prefixString(m.Prefix)
	case MatchDaddrLocal:
		return "fib daddr type " + op + "local"
	case MatchDport:
		return fmt.Sprintf("%s dport %s%d", m.Proto, op, m.Port)
	case MatchCtDNAT:
		if m.Not {
			// A flag not set, as nft lists it: "!= dnat" would be
			// "status other than dnat alone".
			return "ct status ! dnat"
		}
		return "ct status dnat"
	}
	return fmt.Sprintf("<match %d>", m.Kind)
}

// prefixString writes a single address without /32, as nft does.
func prefixString(p netip.Prefix) string {
	if p.IsSingleIP() {
		return p.Addr().String()
	}
	return p.String()
}

func (v Verdict) String() string {
	switch v.Kind {
	case Masquerade:
		return "masquerade"
	case DNAT:
		return "dnat to " + v.To.String()
	case Drop:
		return "drop"
	}
	return fmt.Sprintf("<verdict %d>", v.Kind)
}

// String is the rule in nft's syntax, as `nft add rule ... <rule>` takes it.
func (r Rule) String() string {
	var parts []string
	for _, m := range r.Match {
		parts = append(parts, m.String())
	}
	if r.Counter != nil {
		parts = append(parts, fmt.Sprintf("counter packets %d bytes %d", r.Counter.Packets, r.Counter.Bytes))
	} else {
		parts = append(parts, "counter")
	}
	parts = append(parts, r.Verdict.String())
	if r.Comment != "" {
		parts = append(parts, fmt.Sprintf("comment %q", r.Comment))
	}
	return strings.Join(parts, " ")
}

// priorityName is how nft(8) names the standard priorities ("PRIORITY"
// table in the man page).
func priorityName(p int) string {
	switch p {
	case -300:
		return "raw"
	case -150:
		return "mangle"
	case -100:
		return "dstnat"
	case 0:
		return "filter"
	case 100:
		return "srcnat"
	}
	return fmt.Sprint(p)
}

// Header is the chain's declaration line.
func (c *Chain) Header() string {
	return fmt.Sprintf("type %s hook %s priority %s; policy accept;", c.Type, c.Hook, priorityName(c.Priority))
}

// String renders the table as `nft list table ip NAME` shows it, and as
// `nft -f` reads it.
func (t *Table) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "table ip %s {\n", t.Name)
	for i, c := range t.Chains {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "  chain %s {\n    %s\n", c.Name, c.Header())
		for _, r := range c.Rules {
			fmt.Fprintf(&b, "    %s\n", r)
		}
		b.WriteString("  }\n")
	}
	b.WriteString("}\n")
	return b.String()
}

// Chain returns the chain called name, or nil.
func (t *Table) Chain(name string) *Chain {
	for _, c := range t.Chains {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// CheckTableName refuses a table name without our prefix: a table of
// someone else's is never ours to replace or delete.
func CheckTableName(name string) error {
	if err := checkName("nftables table", name, 255); err != nil {
		return err
	}
	if !strings.HasPrefix(name, TablePrefix) {
		return fmt.Errorf("nftables table %q: ours start with %q, so that no other table is ever replaced", name, TablePrefix)
	}
	return nil
}
