package engine

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// HostGateway is --add-host's word for the host, as Docker's: the address
// the container reaches the host at (its first network's gateway; the
// host's loopback with --network host).
const HostGateway = "host-gateway"

// checkNameOptions reads --dns, --dns-search, --dns-option and --add-host
// into the host config, as Docker's, refusing what the network mode cannot
// take: a container that joins another's namespace has that one's files
// (Docker: "conflicting options"), and resolv.conf has no port for a
// resolver (a port is taken on user-defined networks, whose responder
// forwards to it).
func checkNameOptions(c *Container, o CreateOptions) error {
	mode := c.HostConfig.NetworkMode
	if strings.HasPrefix(mode, "container:") {
		switch {
		case len(o.DNS) > 0 || len(o.DNSSearch) > 0 || len(o.DNSOptions) > 0:
			return errors.New("conflicting options: dns and the network mode")
		case len(o.ExtraHosts) > 0:
			return errors.New("conflicting options: custom host-to-IP mapping and the network mode")
		}
		return nil
	}
	userNet := bridged(mode) && mode != DefaultNetwork
	for _, d := range o.DNS {
		if _, err := netip.ParseAddr(d); err == nil {
			continue
		}
		ap, err := netip.ParseAddrPort(d)
		if err != nil {
			return fmt.Errorf("invalid --dns %q: want an IP address (or IP:PORT on a user-defined network)", d)
		}
		if !userNet && ap.Port() != 53 {
			return fmt.Errorf("--dns %s: a resolver's port can be given on a user-defined network only (resolv.conf has no port)", d)
		}
	}
	for _, s := range o.DNSSearch {
		if s != "." && !validDomain(s) {
			return fmt.Errorf("invalid --dns-search %q", s)
		}
	}
	for _, opt := range o.DNSOptions {
		if opt == "" || strings.ContainsAny(opt, " \t\n") {
			return fmt.Errorf("invalid --dns-option %q", opt)
		}
	}
	for _, h := range o.ExtraHosts {
		name, ip, ok := strings.Cut(h, "=")
		if !ok {
			// HOST:IP, Docker's first form; the IP may be IPv6 with colons.
			name, ip, ok = strings.Cut(h, ":")
		}
		ip = strings.Trim(ip, "[]")
		if !ok || !validDomain(name) {
			return fmt.Errorf("invalid argument %q for \"--add-host\" flag: want HOST:IP", h)
		}
		if ip == HostGateway {
			if mode == "none" {
				return fmt.Errorf("--add-host %s: %s, but --network none has no way to the host", h, HostGateway)
			}
		} else if _, err := netip.ParseAddr(ip); err != nil {
			return fmt.Errorf("invalid IP address in add-host: %q", ip)
		}
		c.HostConfig.ExtraHosts = append(c.HostConfig.ExtraHosts, name+":"+ip)
	}
	c.HostConfig.DNS, c.HostConfig.DNSSearch, c.HostConfig.DNSOptions = o.DNS, o.DNSSearch, o.DNSOptions
	return nil
}

// validDomain is a host or domain name: labels of letters, digits, '-'
// and '_', separated by dots.
func validDomain(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if l == "" || len(l) > 63 || strings.HasPrefix(l, "-") {
			return false
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

// withNameOptions puts the container's --add-host entries into its
// /etc/hosts and its --dns, --dns-search and --dns-option into its
// /etc/resolv.conf, as Docker writes them. On a user-defined network the
// nameserver stays the network's responder (which forwards this
// container's other questions to its --dns, Endpoint.DNS); elsewhere the
// given resolvers replace the host's.
func withNameOptions(c *Container, s NetworkSetup) NetworkSetup {
	hc := c.HostConfig
	if strings.HasPrefix(hc.NetworkMode, "container:") {
		return s
	}
	if len(hc.ExtraHosts) > 0 {
		hosts := string(s.Hosts)
		if hosts != "" && !strings.HasSuffix(hosts, "\n") {
			hosts += "\n"
		}
		for _, h := range hc.ExtraHosts {
			name, ip, _ := strings.Cut(h, ":")
			if ip == HostGateway {
				ip = "127.0.0.1"
				if s.Gateway.IsValid() {
					ip = s.Gateway.String()
				}
			}
			hosts += ip + "\t" + name + "\n"
		}
		s.Hosts = []byte(hosts)
	}
	if len(hc.DNS) == 0 && len(hc.DNSSearch) == 0 && len(hc.DNSOptions) == 0 {
		return s
	}
	userNet := bridged(hc.NetworkMode) && hc.NetworkMode != DefaultNetwork
	var keep []string
	for _, line := range strings.Split(strings.TrimRight(string(s.ResolvConf), "\n"), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) > 0 && f[0] == "nameserver" && len(hc.DNS) > 0 && !userNet,
			len(f) > 0 && (f[0] == "search" || f[0] == "domain") && len(hc.DNSSearch) > 0,
			len(f) > 0 && f[0] == "options" && len(hc.DNSOptions) > 0:
			continue
		}
		keep = append(keep, line)
	}
	if !userNet {
		for _, d := range hc.DNS {
			if ap, err := netip.ParseAddrPort(d); err == nil {
				d = ap.Addr().String()
			}
			keep = append(keep, "nameserver "+d)
		}
	}
	if len(hc.DNSSearch) > 0 && !(len(hc.DNSSearch) == 1 && hc.DNSSearch[0] == ".") {
		keep = append(keep, "search "+strings.Join(hc.DNSSearch, " "))
	}
	if len(hc.DNSOptions) > 0 {
		keep = append(keep, "options "+strings.Join(hc.DNSOptions, " "))
	}
	s.ResolvConf = []byte(strings.TrimLeft(strings.Join(keep, "\n"), "\n") + "\n")
	return s
}

// endpointDNS is the container's --dns as its endpoints carry them, for
// the network's responder: IP:PORT, port 53 unless given.
func endpointDNS(hc HostConfig) []string {
	var out []string
	for _, d := range hc.DNS {
		if a, err := netip.ParseAddr(d); err == nil {
			d = netip.AddrPortFrom(a, 53).String()
		}
		out = append(out, d)
	}
	return out
}
