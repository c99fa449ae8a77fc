package network

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/miekg/dns"
)

// Records are the names a network's DNS responder answers: lower-case names
// without the trailing dot, each with its addresses (an alias that several
// containers share has several).
type Records map[string][]netip.Addr

// Add records addr under each name.
func (r Records) Add(addr netip.Addr, names ...string) {
	for _, n := range names {
		n = strings.TrimSuffix(strings.ToLower(n), ".")
		if !slices.Contains(r[n], addr) {
			r[n] = append(r[n], addr)
			slices.SortFunc(r[n], netip.Addr.Compare)
		}
	}
}

// RecordSource returns the records as they are now. The responder calls it
// for every query, so names follow containers as they come and go; a
// source backed by a file should cache (see [Store]).
type RecordSource func() (Records, error)

// DNSServer is a network's embedded DNS responder, as Docker's (at
// 127.0.0.11 inside every container) and podman's aardvark-dns (at the
// network's gateway address) are: it answers the containers' names and
// aliases with their addresses, and forwards every other question to the
// Upstreams, the resolvers the host itself uses. With no Upstreams it
// refuses other names (REFUSED), so a container learns at once that the
// name is not one of the network's.
//
// It runs in the host's network namespace, listening on the bridge's
// address: the containers reach it through their default gateway, and it
// reaches the host's resolvers even when they are on the host's loopback
// (systemd-resolved's 127.0.0.53), which a container could not.
//
// Answers carry a short TTL, so a container that restarts with a new
// address is found at it within seconds.
type DNSServer struct {
	Records   RecordSource
	Upstreams []string      // "host:port"
	TTL       uint32        // seconds; 0 means 5
	Timeout   time.Duration // per upstream; 0 means 2s
	// Authoritative makes a responder without upstreams the whole truth:
	// a name it does not know does not exist (NXDOMAIN), rather than
	// being refused. For a stand-in of the world's DNS, in a lesson.
	Authoritative bool
	// Client, when set, is asked about the container a question comes
	// from, by its source address: the names of its other networks, which
	// it is answered too (a container on two networks asks one responder,
	// and Docker's answers the names of all its networks), and resolvers
	// of its own (`run --dns`), asked instead of Upstreams.
	Client func(from netip.Addr) (more Records, upstreams []string)

	mu      sync.Mutex
	servers []*dns.Server
	addr    string
}

// Listen starts the responder on addr ("10.66.0.1:53"), UDP and TCP, and
// returns once it is listening.
func (s *DNSServer) Listen(addr string) error {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return fmt.Errorf("DNS responder: listen udp %s: %w%s", addr, err, portHint(err))
	}
	l, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		pc.Close()
		return fmt.Errorf("DNS responder: listen tcp %s: %w%s", addr, err, portHint(err))
	}
	return s.Serve(pc, l)
}

func portHint(err error) string {
	if errors.Is(err, syscall.EADDRINUSE) {
		return " (another DNS server holds the port on that address or on every address: see `ss -lunp 'sport = :53'`)"
	}
	return ""
}

// Serve starts the responder on sockets the caller made (for instance
// inside a network namespace, with [NetNS.Do]); either may be nil. It
// returns once both are being served.
func (s *DNSServer) Serve(pc net.PacketConn, l net.Listener) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var started sync.WaitGroup
	errc := make(chan error, 2)
	for _, srv := range []*dns.Server{{PacketConn: pc}, {Listener: l}} {
		if srv.PacketConn == nil && srv.Listener == nil {
			continue
		}
		srv.Handler = s
		started.Add(1)
		srv.NotifyStartedFunc = started.Done
		s.servers = append(s.servers, srv)
		go func() {
			if err := srv.ActivateAndServe(); err != nil {
				errc <- err
			}
		}()
	}
	if pc != nil {
		s.addr = pc.LocalAddr().String()
	} else if l != nil {
		s.addr = l.Addr().String()
	}
	done := make(chan struct{})
	go func() { started.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case err := <-errc:
		return fmt.Errorf("DNS responder: %w", err)
	}
}

// Addr is the address the responder listens on.
func (s *DNSServer) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Close stops the responder and closes its sockets.
func (s *DNSServer) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, srv := range s.servers {
		if err := srv.Shutdown(); err != nil {
			errs = append(errs, err)
		}
	}
	s.servers = nil
	return errors.Join(errs...)
}

// ServeDNS answers one query (the dns.Handler interface).
func (s *DNSServer) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	var from netip.Addr
	if ap, err := netip.ParseAddrPort(w.RemoteAddr().String()); err == nil {
		from = ap.Addr().Unmap()
	}
	_ = w.WriteMsg(s.answer(req, w.LocalAddr().Network(), from))
}

func (s *DNSServer) answer(req *dns.Msg, network string, from netip.Addr) *dns.Msg {
	m := new(dns.Msg)
	if len(req.Question) != 1 || req.Opcode != dns.OpcodeQuery {
		return m.SetRcode(req, dns.RcodeFormatError)
	}
	q := req.Question[0]
	name := strings.TrimSuffix(strings.ToLower(q.Name), ".")
	var recs Records
	if s.Records != nil {
		var err error
		if recs, err = s.Records(); err != nil {
			return m.SetRcode(req, dns.RcodeServerFailure)
		}
	}
	upstreams := s.Upstreams
	var more Records // the asker's other networks' names
	if s.Client != nil && from.IsValid() {
		var ups []string
		if more, ups = s.Client(from); len(ups) > 0 {
			upstreams = ups
		}
	}
	ttl := s.TTL
	if ttl == 0 {
		ttl = 5
	}
	addrs, ok := recs[name]
	if !ok {
		addrs, ok = more[name]
	}
	if ok && q.Qclass == dns.ClassINET {
		m.SetReply(req)
		m.Authoritative = true
		m.RecursionAvailable = len(upstreams) > 0
		if q.Qtype == dns.TypeA || q.Qtype == dns.TypeANY {
			for _, a := range addrs {
				if a.Is4() {
					m.Answer = append(m.Answer, &dns.A{
						Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: ttl},
						A:   net.IP(a.AsSlice()),
					})
				}
			}
		}
		// Any other type (AAAA above all): the name exists, with no
		// record of that type (NODATA), so the client does not go on
		// asking elsewhere.
		return m
	}
	if q.Qtype == dns.TypePTR && q.Qclass == dns.ClassINET {
		target := reverseName(recs, name)
		if target == "" {
			target = reverseName(more, name)
		}
		if target != "" {
			m.SetReply(req)
			m.Authoritative = true
			m.Answer = append(m.Answer, &dns.PTR{
				Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: ttl},
				Ptr: dns.Fqdn(target),
			})
			return m
		}
	}
	if len(upstreams) == 0 {
		if s.Authoritative {
			m.SetRcode(req, dns.RcodeNameError)
			m.Authoritative = true
			return m
		}
		return m.SetRcode(req, dns.RcodeRefused)
	}
	return s.forward(req, network, upstreams)
}

// forward asks each upstream in turn, over the protocol the question came
// in on, and returns the first answer.
func (s *DNSServer) forward(req *dns.Msg, network string, upstreams []string) *dns.Msg {
	timeout := s.Timeout
	if timeout == 0 {
		timeout = 2 * time.Second
	}
	c := &dns.Client{Net: network, Timeout: timeout}
	for _, up := range upstreams {
		resp, _, err := c.Exchange(req, up)
		if err == nil && resp != nil {
			resp.Id = req.Id
			return resp
		}
	}
	return new(dns.Msg).SetRcode(req, dns.RcodeServerFailure)
}

// reverseName finds the name whose address is the one a PTR question for
// "4.3.2.1.in-addr.arpa" asks about. Of several names (a container's name
// and its aliases), the shortest wins, then the first in order.
func reverseName(recs Records, q string) string {
	rest, ok := strings.CutSuffix(q, ".in-addr.arpa")
	if !ok {
		return ""
	}
	parts := strings.Split(rest, ".")
	if len(parts) != 4 {
		return ""
	}
	slices.Reverse(parts)
	addr, err := netip.ParseAddr(strings.Join(parts, "."))
	if err != nil {
		return ""
	}
	best := ""
	for name, addrs := range recs {
		if slices.Contains(addrs, addr) && (best == "" || len(name) < len(best) || (len(name) == len(best) && name < best)) {
			best = name
		}
	}
	return best
}

// Upstreams reads the nameservers of a resolv.conf(5) file (the host's
// /etc/resolv.conf) as "host:53" addresses, for DNSServer.Upstreams.
func Upstreams(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read the host's resolvers: %w", err)
	}
	defer f.Close()
	return parseNameservers(f)
}

func parseNameservers(r io.Reader) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || f[0] != "nameserver" {
			continue
		}
		addr, err := netip.ParseAddr(f[1])
		if err != nil {
			continue
		}
		out = append(out, netip.AddrPortFrom(addr, 53).String())
	}
	return out, sc.Err()
}

// ResolvConf is a container's /etc/resolv.conf when its network has a DNS
// responder at nameserver. ndots:0 sends a name with no dot straight to
// the responder as it is ("db."), as Docker's does, rather than trying the
// search domains first.
func ResolvConf(nameserver netip.Addr) string {
	return "# Written by unbox: the network's DNS responder answers the containers' names\n" +
		"# and forwards every other name to the host's resolvers.\n" +
		"nameserver " + nameserver.String() + "\n" +
		"options ndots:0\n"
}

// HostsFile is a container's /etc/hosts: localhost, and the container's own
// name and extra names at its address. Names in /etc/hosts are fixed when
// the file is written: a container that comes later, or moves to another
// address, is not in it, which is why names of other containers come from
// the DNS responder instead (Docker's old --link wrote them here).
func HostsFile(addr netip.Addr, names ...string) string {
	s := "127.0.0.1 localhost\n::1       localhost ip6-localhost ip6-loopback\n"
	if addr.IsValid() && len(names) > 0 {
		s += addr.String() + " " + strings.Join(names, " ") + "\n"
	}
	return s
}
