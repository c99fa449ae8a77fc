package network

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// PortMapping is one published port, as `-p [IP:][HOST:]CONTAINER[/PROTO]`
// writes it: connections to HostPort on the host (on HostIP only, when it
// is set) go to ContainerPort in the container.
type PortMapping struct {
	HostIP   netip.Addr `json:"host_ip,omitzero"`
	HostPort uint16     `json:"host_port"` // 0: not chosen yet
	// HostPortEnd, when set, makes HostPort..HostPortEnd a range the
	// host port is chosen from when it is published (-p 8000-8010:80):
	// the first that is free.
	HostPortEnd   uint16 `json:"host_port_end,omitempty"`
	ContainerPort uint16 `json:"container_port"`
	Proto         string `json:"proto"` // "tcp" or "udp"
}

// String is the mapping as -p takes it.
func (p PortMapping) String() string {
	s := fmt.Sprintf("%d/%s", p.ContainerPort, p.Proto)
	if p.HostPort != 0 || p.HostIP.IsValid() {
		host := ""
		if p.HostPort != 0 {
			host = strconv.Itoa(int(p.HostPort))
		}
		if p.HostPortEnd != 0 {
			host += "-" + strconv.Itoa(int(p.HostPortEnd))
		}
		s = host + ":" + s
	}
	if p.HostIP.IsValid() {
		s = p.HostIP.String() + ":" + s
	}
	return s
}

// ParsePort reads a -p value: "80" (a host port chosen later), "8080:80",
// "127.0.0.1:8080:80", "127.0.0.1::80", each with an optional "/tcp" or
// "/udp". Ports are 1 to 65535.
func ParsePort(s string) (PortMapping, error) {
	p := PortMapping{Proto: "tcp"}
	bad := func(format string, args ...any) (PortMapping, error) {
		return PortMapping{}, fmt.Errorf("-p %s: %s (the form is [IP:][HOST:]CONTAINER[/PROTO], e.g. 8080:80)",
			s, fmt.Sprintf(format, args...))
	}
	rest, proto, hasProto := strings.Cut(s, "/")
	if hasProto {
		if proto != "tcp" && proto != "udp" {
			return bad("protocol %q: tcp or udp", proto)
		}
		p.Proto = proto
	}
	if strings.HasPrefix(rest, "[") {
		return bad("IPv6 addresses are not supported yet")
	}
	fields := strings.Split(rest, ":")
	var hostIP, hostPort, ctrPort string
	switch len(fields) {
	case 1:
		ctrPort = fields[0]
	case 2:
		hostPort, ctrPort = fields[0], fields[1]
	case 3:
		hostIP, hostPort, ctrPort = fields[0], fields[1], fields[2]
	default:
		return bad("too many colons")
	}
	if hostIP != "" {
		ip, err := netip.ParseAddr(hostIP)
		if err != nil || !ip.Is4() {
			return bad("host address %q is not an IPv4 address", hostIP)
		}
		p.HostIP = ip
	}
	var err error
	if hostPort != "" {
		if p.HostPort, err = parsePortNumber(hostPort); err != nil {
			return bad("host port %v", err)
		}
	}
	if p.ContainerPort, err = parsePortNumber(ctrPort); err != nil {
		return bad("container port %v", err)
	}
	return p, nil
}

// ParsePorts reads a -p value that may name ranges, as Docker's does:
// "8000-8002:80-82" is three mappings, port for port (the two ranges of
// one length); "8000-8010:80" is one, its host port the first free one
// of the range when it is published; "80-82" is three, each on a host
// port chosen then. Without ranges it is [ParsePort].
func ParsePorts(s string) ([]PortMapping, error) {
	if !strings.Contains(s, "-") {
		p, err := ParsePort(s)
		if err != nil {
			return nil, err
		}
		return []PortMapping{p}, nil
	}
	bad := func(format string, args ...any) ([]PortMapping, error) {
		return nil, fmt.Errorf("-p %s: %s (the form is [IP:][HOST[-END]:]CONTAINER[-END][/PROTO], e.g. 8000-8002:80-82)",
			s, fmt.Sprintf(format, args...))
	}
	rest, proto, hasProto := strings.Cut(s, "/")
	fields := strings.Split(rest, ":")
	ctr := fields[len(fields)-1]
	host := ""
	if len(fields) >= 2 {
		host = fields[len(fields)-2]
	}
	cLo, cHi, err := portRange(ctr)
	if err != nil {
		return bad("container port %v", err)
	}
	hLo, hHi := uint16(0), uint16(0)
	if host != "" {
		if hLo, hHi, err = portRange(host); err != nil {
			return bad("host port %v", err)
		}
	}
	n := int(cHi) - int(cLo) + 1
	if host != "" && n > 1 && int(hHi)-int(hLo)+1 != n {
		return bad("the host range (%d ports) and the container range (%d) differ in length", int(hHi)-int(hLo)+1, n)
	}
	// Each mapping through ParsePort, so that addresses and protocols are
	// checked in one place.
	prefix := strings.Join(fields[:max(len(fields)-2, 0)], ":")
	var out []PortMapping
	for i := range n {
		spec := strconv.Itoa(int(cLo) + i)
		hostPart := ""
		switch {
		case host == "":
		case n > 1:
			hostPart = strconv.Itoa(int(hLo) + i)
		default:
			hostPart = strconv.Itoa(int(hLo))
		}
		if len(fields) >= 2 {
			spec = hostPart + ":" + spec
		}
		if prefix != "" {
			spec = prefix + ":" + spec
		}
		if hasProto {
			spec += "/" + proto
		}
		p, err := ParsePort(spec)
		if err != nil {
			return nil, err
		}
		if n == 1 && hHi != hLo {
			p.HostPortEnd = hHi
		}
		out = append(out, p)
	}
	return out, nil
}

// portRange reads "N" or "N-M" (N <= M).
func portRange(s string) (lo, hi uint16, err error) {
	a, b, isRange := strings.Cut(s, "-")
	if lo, err = parsePortNumber(a); err != nil {
		return 0, 0, err
	}
	hi = lo
	if isRange {
		if hi, err = parsePortNumber(b); err != nil {
			return 0, 0, err
		}
		if hi < lo {
			return 0, 0, fmt.Errorf("range %s ends before it starts", s)
		}
	}
	return lo, hi, nil
}

func parsePortNumber(s string) (uint16, error) {
	n, err := strconv.Atoi(s)
	switch {
	case s == "":
		return 0, fmt.Errorf("is missing")
	case err != nil:
		return 0, fmt.Errorf("%q is not a number", s)
	case n < 1 || n > 65535:
		return 0, fmt.Errorf("%d is out of range (1-65535)", n)
	}
	return uint16(n), nil
}

// Check refuses a mapping that cannot be published as it is.
func (p PortMapping) Check() error {
	switch {
	case p.Proto != "tcp" && p.Proto != "udp":
		return fmt.Errorf("-p %s: protocol %q: tcp or udp", p, p.Proto)
	case p.ContainerPort == 0:
		return fmt.Errorf("-p %s: container port 0 is out of range (1-65535)", p)
	case p.HostIP.IsValid() && !p.HostIP.Is4():
		return fmt.Errorf("-p %s: IPv6 addresses are not supported yet", p)
	}
	return nil
}

// Overlaps reports whether p and q claim the same host port: the same
// protocol and port, on the same address or where either means every
// address.
func (p PortMapping) Overlaps(q PortMapping) bool {
	return p.Proto == q.Proto && p.HostPort == q.HostPort &&
		(!p.HostIP.IsValid() || !q.HostIP.IsValid() || p.HostIP == q.HostIP)
}

// PortConflict refuses to publish p for owner when one of the published
// forwards claims the same host port, saying which and what to do.
func PortConflict(p PortMapping, owner string, published []Forward) error {
	for _, f := range published {
		if f.Overlaps(p) {
			return fmt.Errorf("-p %s for %s: host port %d/%s is published already, by %s (-p %s): "+
				"choose another host port", p, owner, p.HostPort, p.Proto, f.Owner, f.PortMapping)
		}
	}
	return nil
}
