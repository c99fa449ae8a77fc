package network_test

import (
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/unboxlab/unbox/internal/network"
)

// fakeUpstream is a resolver on the host's loopback that knows one name
// and answers NXDOMAIN for the rest: what a responder forwards to in
// tests, which may send nothing beyond loopback.
func fakeUpstream(t *testing.T, name, addr string) string {
	t.Helper()
	known := &network.DNSServer{Records: func() (network.Records, error) {
		r := network.Records{}
		r.Add(netip.MustParseAddr(addr), name)
		return r, nil
	}}
	h := dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		if strings.EqualFold(req.Question[0].Name, dns.Fqdn(name)) {
			known.ServeDNS(w, req)
			return
		}
		w.WriteMsg(new(dns.Msg).SetRcode(req, dns.RcodeNameError))
	})
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := &dns.Server{PacketConn: pc, Handler: h}
	var started sync.WaitGroup
	started.Add(1)
	d.NotifyStartedFunc = started.Done
	go d.ActivateAndServe()
	started.Wait()
	t.Cleanup(func() { d.Shutdown() })
	return pc.LocalAddr().String()
}

// query asks server one question over net ("udp" or "tcp") and returns
// the answer as "RCODE rr rr...", with the records' data only.
func query(t *testing.T, server, netw, name string, qtype uint16) string {
	t.Helper()
	return queryFrom(t, "", server, netw, name, qtype)
}

// queryFrom is query from a source address of the caller's ("" for any).
func queryFrom(t *testing.T, from, server, netw, name string, qtype uint16) string {
	t.Helper()
	m := new(dns.Msg).SetQuestion(dns.Fqdn(name), qtype)
	c := &dns.Client{Net: netw}
	if from != "" {
		c.Dialer = &net.Dialer{LocalAddr: &net.UDPAddr{IP: net.ParseIP(from)}}
	}
	resp, _, err := c.Exchange(m, server)
	if err != nil {
		t.Fatalf("query %s for %s: %v", server, name, err)
	}
	out := []string{dns.RcodeToString[resp.Rcode]}
	for _, rr := range resp.Answer {
		switch rr := rr.(type) {
		case *dns.A:
			out = append(out, rr.A.String())
		case *dns.PTR:
			out = append(out, rr.Ptr)
		default:
			out = append(out, rr.String())
		}
	}
	return strings.Join(out, " ")
}

func TestDNSServer(t *testing.T) {
	var mu sync.Mutex
	recs := network.Records{}
	recs.Add(netip.MustParseAddr("10.66.0.2"), "a", "DB")
	recs.Add(netip.MustParseAddr("10.66.0.3"), "b", "db")
	source := func() (network.Records, error) {
		mu.Lock()
		defer mu.Unlock()
		return recs, nil
	}
	srv := &network.DNSServer{Records: source}
	if err := srv.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })

	for _, tc := range []struct {
		name  string
		qtype uint16
		want  string
	}{
		{"a", dns.TypeA, "NOERROR 10.66.0.2"},
		{"A.", dns.TypeA, "NOERROR 10.66.0.2"},           // names are not case-sensitive
		{"db", dns.TypeA, "NOERROR 10.66.0.2 10.66.0.3"}, // an alias two containers share
		{"a", dns.TypeAAAA, "NOERROR"},                   // the name exists, without IPv6: NODATA
		{"2.0.66.10.in-addr.arpa", dns.TypePTR, "NOERROR a."},
		{"example.com", dns.TypeA, "REFUSED"}, // not ours, and no upstream to ask
	} {
		for _, netw := range []string{"udp", "tcp"} {
			if got := query(t, srv.Addr(), netw, tc.name, tc.qtype); got != tc.want {
				t.Errorf("query %s %s over %s = %q; want %q", tc.name, dns.TypeToString[tc.qtype], netw, got, tc.want)
			}
		}
	}

	// Containers come and go: the next query sees it.
	mu.Lock()
	recs = network.Records{}
	recs.Add(netip.MustParseAddr("10.66.0.9"), "a")
	mu.Unlock()
	if got := query(t, srv.Addr(), "udp", "a", dns.TypeA); got != "NOERROR 10.66.0.9" {
		t.Errorf("after a moved, a = %q; want NOERROR 10.66.0.9", got)
	}
	if got := query(t, srv.Addr(), "udp", "b", dns.TypeA); got != "REFUSED" {
		t.Errorf("after b left, b = %q; want REFUSED", got)
	}
}

func TestDNSServerForwards(t *testing.T) {
	up := fakeUpstream(t, "outside.test", "192.0.2.99")
	srv := &network.DNSServer{
		Records: func() (network.Records, error) {
			r := network.Records{}
			r.Add(netip.MustParseAddr("10.66.0.2"), "a")
			return r, nil
		},
		// The first upstream is not there: the responder goes on to the next.
		Upstreams: []string{"127.0.0.1:1", up},
		Timeout:   200 * time.Millisecond,
	}
	if err := srv.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	for name, want := range map[string]string{
		"a":             "NOERROR 10.66.0.2",
		"outside.test":  "NOERROR 192.0.2.99",
		"nonesuch.test": "NXDOMAIN",
	} {
		if got := query(t, srv.Addr(), "udp", name, dns.TypeA); got != want {
			t.Errorf("query %s = %q; want %q", name, got, want)
		}
	}

	// A responder whose upstreams are all gone says SERVFAIL, at once.
	dead := &network.DNSServer{Upstreams: []string{"127.0.0.1:1"}, Timeout: 200 * time.Millisecond}
	if err := dead.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dead.Close() })
	if got := query(t, dead.Addr(), "udp", "x.test", dns.TypeA); got != "SERVFAIL" {
		t.Errorf("query with no upstream alive = %q; want SERVFAIL", got)
	}
}

// A responder with a Client answers a container the names of its other
// networks and forwards its other questions to its own resolvers; another
// asker gets neither.
func TestDNSServerClient(t *testing.T) {
	upNetwork := fakeUpstream(t, "outside.test", "192.0.2.1")
	upOwn := fakeUpstream(t, "outside.test", "192.0.2.2")
	asker := netip.MustParseAddr("127.0.0.2")
	srv := &network.DNSServer{
		Records: func() (network.Records, error) {
			r := network.Records{}
			r.Add(netip.MustParseAddr("10.66.0.2"), "a")
			return r, nil
		},
		Upstreams: []string{upNetwork},
		Client: func(from netip.Addr) (network.Records, []string) {
			if from != asker {
				return nil, nil
			}
			r := network.Records{}
			r.Add(netip.MustParseAddr("10.67.0.5"), "other")
			r.Add(netip.MustParseAddr("10.67.0.6"), "a") // not the network's own "a"
			return r, []string{upOwn}
		},
	}
	if err := srv.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	for _, tc := range []struct {
		from, name string
		qtype      uint16
		want       string
	}{
		{"127.0.0.2", "other", dns.TypeA, "NOERROR 10.67.0.5"},
		{"127.0.0.2", "a", dns.TypeA, "NOERROR 10.66.0.2"}, // the network's own names come first
		{"127.0.0.2", "5.0.67.10.in-addr.arpa", dns.TypePTR, "NOERROR other."},
		{"127.0.0.2", "2.0.66.10.in-addr.arpa", dns.TypePTR, "NOERROR a."},
		{"127.0.0.2", "outside.test", dns.TypeA, "NOERROR 192.0.2.2"}, // its own resolver
		{"127.0.0.3", "other", dns.TypeA, "NXDOMAIN"},                 // not its network: the upstream's answer
		{"127.0.0.3", "outside.test", dns.TypeA, "NOERROR 192.0.2.1"}, // the network's resolver
	} {
		if got := queryFrom(t, tc.from, srv.Addr(), "udp", tc.name, tc.qtype); got != tc.want {
			t.Errorf("from %s, %s %s = %q; want %q", tc.from, tc.name, dns.TypeToString[tc.qtype], got, tc.want)
		}
	}
}

func TestUpstreamsAndFiles(t *testing.T) {
	dir := t.TempDir()
	conf := dir + "/resolv.conf"
	writeFile(t, conf, "# comment\nnameserver 127.0.0.53\nnameserver 192.0.2.1 # a comment\noptions edns0\n"+
		"nameserver fe80::1%eth0\nsearch example.com\nnameserver bogus\n")
	got, err := network.Upstreams(conf)
	want := []string{"127.0.0.53:53", "192.0.2.1:53", "[fe80::1%eth0]:53"}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("Upstreams = %q, %v; want %q", got, err, want)
	}
	if _, err := network.Upstreams(dir + "/nonesuch"); err == nil {
		t.Errorf("Upstreams of a missing file: no error")
	}
	rc := network.ResolvConf(netip.MustParseAddr("10.66.0.1"))
	if !strings.Contains(rc, "\nnameserver 10.66.0.1\n") || !strings.Contains(rc, "options ndots:0\n") {
		t.Errorf("ResolvConf =\n%s", rc)
	}
	hosts := network.HostsFile(netip.MustParseAddr("10.66.0.2"), "a", "db")
	if !strings.HasPrefix(hosts, "127.0.0.1 localhost\n") || !strings.HasSuffix(hosts, "\n10.66.0.2 a db\n") {
		t.Errorf("HostsFile =\n%s", hosts)
	}
}
