//go:build linux

package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/unboxlab/unbox/capstone/engine"
	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/kit/kittest"
	"github.com/unboxlab/unbox/internal/network"
)

// newNetEnv is newEnv plus the leak check of what the network code makes
// besides links (which kittest checks): nftables tables and named
// namespaces of ours.
func newNetEnv(t *testing.T) *env {
	kittest.Require(t, kit.NeedRoot)
	// Registered before newEnv's clean-up, so it runs after it.
	kittest.NoLeaksOf(t, "network object", network.OursOnHost)
	return newEnv(t)
}

// fakeUpstream is a resolver on the host's loopback that the networks'
// DNS responders forward to in these tests (never the host's real ones:
// no test traffic leaves the machine). It knows outside.test.
func fakeUpstream(t *testing.T) string { return fakeUpstreamSaying(t, "192.0.2.7") }

// fakeUpstreamSaying is a fake upstream whose answer for outside.test is
// addr.
func fakeUpstreamSaying(t *testing.T, addr string) string {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg).SetReply(r)
		if q := r.Question[0]; q.Name == "outside.test." && q.Qtype == dns.TypeA {
			rr, _ := dns.NewRR("outside.test. 60 IN A " + addr)
			m.Answer = append(m.Answer, rr)
		} else if q.Name != "outside.test." {
			m.Rcode = dns.RcodeNameError
		}
		w.WriteMsg(m)
	})}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	return pc.LocalAddr().String()
}

// resolve asks, from inside container ref, for name's IPv4 addresses
// (busybox nslookup, through the container's /etc/resolv.conf).
func (e *env) resolve(ref, name string) string {
	e.t.Helper()
	r := e.run("exec", ref, "sh", "-c", "nslookup -type=a "+name+" 2>&1 | awk '/^Name:/{f=1} f&&/^Address/{print $2}'")
	return strings.TrimSpace(r.stdout)
}

// ipOf is a container's address on a network, from inspect.
func (e *env) ipOf(ref, netName string) string {
	e.t.Helper()
	c := e.inspect(ref)
	if es := c.NetworkSettings.Networks[netName]; es != nil {
		return es.IPAddress
	}
	return ""
}

// httpGet fetches path from addr on the host and returns the body.
func httpGet(addr, path string) (string, error) {
	c, err := net.DialTimeout("tcp4", addr, 3*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "GET %s HTTP/1.0\r\n\r\n", path)
	b, err := io.ReadAll(bufio.NewReader(c))
	if err != nil {
		return "", err
	}
	_, body, _ := strings.Cut(string(b), "\r\n\r\n")
	return strings.TrimSpace(body), nil
}

// waitHTTP waits for a published port to answer.
func waitHTTP(t *testing.T, addr, path, want string) {
	t.Helper()
	var got string
	var err error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if got, err = httpGet(addr, path); err == nil && got == want {
			return
		}
	}
	t.Errorf("GET http://%s%s = %q, %v; want %q", addr, path, got, err, want)
}

// freeHostPort is a TCP port nothing listens on now.
func freeHostPort(t *testing.T) int { return freeHostPorts(t, 1)[0] }

// freeHostPorts is n distinct free ports: each listener is held until all
// are chosen, or the kernel may hand the same port out twice.
func freeHostPorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	for range n {
		l, err := net.Listen("tcp4", ":0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// httpd is a container command that serves /srv/index.html saying what.
func httpd(what string) []string {
	return []string{"sh", "-c", "mkdir -p /srv && echo " + what + " > /srv/index.html && exec httpd -f -p 80 -h /srv"}
}

// TestPrivNetworkScenario is the example: web reaches db by name
// and by alias, the host reaches web on 127.0.0.1:PORT, a name not on the
// network goes to the upstream, db restarted with another address is found
// at it, and network rm refuses a network in use; when all is removed,
// nothing is left (the leak checks).
func TestPrivNetworkScenario(t *testing.T) {
	e := newNetEnv(t)
	up := fakeUpstream(t)
	e.ok("network", "create", "--dns", up, "--label", "app=shop", "mynet")
	e.ok("run", "-d", "--name", "db", "--network", "mynet", "--network-alias", "mysql", "-v", "dbdata:/data", "unbox/busybox", "sleep", "600")
	port := freeHostPort(t)
	e.ok(append([]string{"run", "-d", "--name", "web", "--network", "mynet", "-p", fmt.Sprintf("%d:80", port), "unbox/busybox"}, httpd("web")...)...)

	dbIP := e.ipOf("db", "mynet")
	if dbIP == "" || e.ipOf("web", "mynet") == "" || dbIP == e.ipOf("web", "mynet") {
		t.Fatalf("addresses: db %q, web %q; want two different ones", dbIP, e.ipOf("web", "mynet"))
	}
	for _, name := range []string{"db", "mysql", "DB"} {
		if got := e.resolve("web", name); got != dbIP {
			t.Errorf("from web, %s resolves to %q; want db's %s", name, got, dbIP)
		}
	}
	if got := e.resolve("web", "outside.test"); got != "192.0.2.7" {
		t.Errorf("from web, outside.test resolves to %q; want 192.0.2.7 from the upstream", got)
	}
	if r := e.run("exec", "db", "wget", "-qO-", "http://web/"); strings.TrimSpace(r.stdout) != "web" {
		t.Errorf("db fetching http://web/: %s; want web's page", r)
	}
	waitHTTP(t, fmt.Sprintf("127.0.0.1:%d", port), "/", "web")
	if got := e.out("port", "web"); got != fmt.Sprintf("80/tcp -> 0.0.0.0:%d", port) {
		t.Errorf("port web = %q", got)
	}
	if ps := e.out("ps"); !strings.Contains(ps, fmt.Sprintf(`0.0.0.0:%d->80/tcp`, port)) {
		t.Errorf("ps: %s; want web's published port in PORTS", ps)
	}

	// db restarts with another address (a newcomer took its old one):
	// found at the new one.
	e.ok("stop", "-t", "0", "db")
	e.ok("run", "-d", "--name", "squatter", "--network", "mynet", "unbox/busybox", "sleep", "600")
	if got := e.ipOf("squatter", "mynet"); got != dbIP {
		t.Fatalf("squatter got %s; want db's old address %s (the lowest free)", got, dbIP)
	}
	e.ok("start", "db")
	newIP := e.ipOf("db", "mynet")
	if newIP == dbIP || newIP == "" {
		t.Fatalf("db after restart at %q; want a new address", newIP)
	}
	if got := e.resolve("web", "db"); got != newIP {
		t.Errorf("after db's restart, db resolves to %q; want %s", got, newIP)
	}

	r := e.run("network", "rm", "mynet")
	if r.code != 125 || !strings.Contains(r.stderr, "active endpoints") {
		t.Errorf("network rm of a network in use: %s; want exit 125, active endpoints", r)
	}
	var nets []engine.NetworkInfo
	json.Unmarshal([]byte(e.ok("network", "inspect", "mynet").stdout), &nets)
	if len(nets) != 1 || len(nets[0].Containers) != 3 || nets[0].Labels["app"] != "shop" {
		t.Errorf("network inspect mynet = %+v; want its 3 containers and its label", nets)
	}
	e.ok("rm", "-f", "db", "web", "squatter")
	e.ok("network", "rm", "mynet")
	if ls := e.out("network", "ls", "-q", "--filter", "label=app"); ls != "" {
		t.Errorf("network ls after rm: %q", ls)
	}
}

// TestPrivNetworkIsolation: as Docker's, two networks do not reach each
// other's containers, the default one included; a container on both
// reaches both; a published port is open to another network's containers
// through the host, as to anyone. (busybox's wget -T crashes, so the
// timeout applet bounds each try.)
func TestPrivNetworkIsolation(t *testing.T) {
	e := newNetEnv(t)
	e.ok("network", "create", "front")
	e.ok("network", "create", "back")
	port := freeHostPort(t)
	e.ok(append([]string{"run", "-d", "--name", "xx", "--network", "back", "-p", fmt.Sprintf("%d:80", port), "unbox/busybox"}, httpd("xx")...)...)
	e.ok("run", "-d", "--name", "yy", "--network", "front", "unbox/busybox", "sleep", "600")
	e.ok("run", "-d", "--name", "dd", "unbox/busybox", "sleep", "600") // the default network
	e.ok("run", "-d", "--name", "zz", "--network", "front", "unbox/busybox", "sleep", "600")
	e.ok("network", "connect", "back", "zz")
	xURL := "http://" + e.ipOf("xx", "back") + "/"
	waitHTTP(t, fmt.Sprintf("127.0.0.1:%d", port), "/", "xx")

	if r := e.run("exec", "zz", "timeout", "5", "wget", "-qO-", xURL); strings.TrimSpace(r.stdout) != "xx" {
		t.Errorf("zz, on both networks, fetching %s: %s; want xx's page", xURL, r)
	}
	for _, from := range []string{"yy", "dd"} {
		if r := e.run("exec", from, "timeout", "2", "wget", "-qO-", xURL); r.code == 0 || strings.Contains(r.stdout, "xx") {
			t.Errorf("%s, on another network, fetched %s: %s; want no answer (networks are isolated)", from, xURL, r)
		}
	}
	var nets []engine.NetworkInfo
	json.Unmarshal([]byte(e.ok("network", "inspect", "front").stdout), &nets)
	if len(nets) != 1 || len(nets[0].IPAM.Config) != 1 {
		t.Fatalf("network inspect front = %+v", nets)
	}
	published := fmt.Sprintf("http://%s:%d/", nets[0].IPAM.Config[0].Gateway, port)
	if r := e.run("exec", "yy", "timeout", "5", "wget", "-qO-", published); strings.TrimSpace(r.stdout) != "xx" {
		t.Errorf("yy fetching xx's published port through the host (%s): %s; want xx's page", published, r)
	}
	e.ok("rm", "-f", "xx", "yy", "zz", "dd")
	e.ok("network", "rm", "front", "back")
}

// TestPrivNetworkNames: --add-host, --dns, --dns-search and --dns-option
// as Docker writes them (on the default network the given resolvers
// replace the host's; on a user-defined network the responder stays the
// nameserver and forwards the container's other questions to its --dns),
// and a container on two networks finds the names of both, while one on a
// single network finds only its own network's.
func TestPrivNetworkNames(t *testing.T) {
	e := newNetEnv(t)
	e.ok("run", "-d", "--name", "plain", "--dns", "192.0.2.53", "--dns-search", "example.test", "--dns-option", "ndots:2",
		"--add-host", "db.local:10.1.2.3", "--add-host", "gw=host-gateway", "--add-host", "v6:[2001:db8::1]", "unbox/busybox", "sleep", "600")
	gw := e.inspect("plain").NetworkSettings.Networks["bridge"].Gateway
	resolv := e.ok("exec", "plain", "cat", "/etc/resolv.conf").stdout
	if !strings.Contains(resolv, "nameserver 192.0.2.53\n") || strings.Count(resolv, "nameserver") != 1 ||
		!strings.Contains(resolv, "search example.test\n") || !strings.Contains(resolv, "options ndots:2\n") {
		t.Errorf("resolv.conf with --dns, --dns-search, --dns-option:\n%s", resolv)
	}
	hosts := e.ok("exec", "plain", "cat", "/etc/hosts").stdout
	for _, want := range []string{"10.1.2.3\tdb.local\n", gw + "\tgw\n", "2001:db8::1\tv6\n", "127.0.0.1\tlocalhost"} {
		if gw == "" || !strings.Contains(hosts, want) {
			t.Errorf("/etc/hosts lacks %q:\n%s", want, hosts)
		}
	}
	var hc struct {
		HostConfig struct{ Dns, DnsSearch, DnsOptions, ExtraHosts []string }
	}
	var all []json.RawMessage
	json.Unmarshal([]byte(e.ok("inspect", "plain").stdout), &all)
	if len(all) == 1 {
		json.Unmarshal(all[0], &hc)
	}
	if h := hc.HostConfig; len(h.Dns) != 1 || len(h.DnsSearch) != 1 || len(h.DnsOptions) != 1 || len(h.ExtraHosts) != 3 {
		t.Errorf("inspect's HostConfig = %+v; want Docker's Dns, DnsSearch, DnsOptions, ExtraHosts", h)
	}

	upNet, upOwn := fakeUpstreamSaying(t, "192.0.2.1"), fakeUpstreamSaying(t, "192.0.2.2")
	e.ok("network", "create", "--dns", upNet, "one")
	e.ok("network", "create", "--dns", upNet, "two")
	e.ok("run", "-d", "--name", "own", "--network", "one", "--dns", upOwn, "unbox/busybox", "sleep", "600")
	e.ok("run", "-d", "--name", "other", "--network", "one", "unbox/busybox", "sleep", "600")
	e.ok("run", "-d", "--name", "far", "--network", "two", "unbox/busybox", "sleep", "600")
	e.ok("run", "-d", "--name", "both", "--network", "one", "unbox/busybox", "sleep", "600")
	e.ok("network", "connect", "two", "both")
	if got := e.resolve("own", "outside.test"); got != "192.0.2.2" {
		t.Errorf("from own (--dns its own resolver), outside.test = %q; want 192.0.2.2", got)
	}
	if got := e.resolve("other", "outside.test"); got != "192.0.2.1" {
		t.Errorf("from other, outside.test = %q; want the network's resolver's 192.0.2.1", got)
	}
	if resolv := e.ok("exec", "own", "cat", "/etc/resolv.conf").stdout; !strings.Contains(resolv, "nameserver "+e.inspect("own").NetworkSettings.Networks["one"].Gateway+"\n") {
		t.Errorf("own's resolv.conf does not name its network's responder:\n%s", resolv)
	}
	if got, want := e.resolve("both", "far"), e.ipOf("far", "two"); got != want || want == "" {
		t.Errorf("from both (on one and two), far = %q; want far's %s on two", got, want)
	}
	if got, want := e.resolve("both", "other"), e.ipOf("other", "one"); got != want || want == "" {
		t.Errorf("from both, other = %q; want %s", got, want)
	}
	if got := e.resolve("other", "far"); got != "" {
		t.Errorf("from other (on one only), far = %q; want no answer", got)
	}
	e.ok("rm", "-f", "plain", "own", "other", "far", "both")
	e.ok("network", "rm", "one", "two")
}

// TestPrivNetworkPublish: each -p form, -P with exposed ports, and port.
func TestPrivNetworkPublish(t *testing.T) {
	e := newNetEnv(t)
	ps := freeHostPorts(t, 2)
	p1, p2 := ps[0], ps[1]
	id := e.out(append([]string{"run", "-d", "-p", fmt.Sprintf("%d:80", p1), "-p", fmt.Sprintf("127.0.0.1:%d:80", p2),
		"-p", "80", "--expose", "81", "unbox/busybox"}, httpd("pub")...)...)
	lines := strings.Split(e.out("port", id), "\n")
	if len(lines) != 3 {
		t.Fatalf("port: %q; want three mappings of 80/tcp", lines)
	}
	var random int
	for _, l := range lines {
		hp := strings.TrimPrefix(l, "80/tcp -> ")
		ap, err := netip.ParseAddrPort(hp)
		if err != nil {
			t.Fatalf("port line %q", l)
		}
		if p := int(ap.Port()); p != p1 && p != p2 {
			random = p
		}
	}
	if random == 0 {
		t.Fatalf("port: %q; want a random host port for -p 80", lines)
	}
	for _, p := range []int{p1, p2, random} {
		waitHTTP(t, fmt.Sprintf("127.0.0.1:%d", p), "/", "pub")
	}
	if got := e.out("port", id, "80/tcp"); !strings.Contains(got, fmt.Sprintf("127.0.0.1:%d", p2)) {
		t.Errorf("port %s 80/tcp = %q", id, got)
	}
	if r := e.run("port", id, "81"); r.code != 125 || !strings.Contains(r.stderr, "no public port '81/tcp'") {
		t.Errorf("port of an exposed, unpublished port: %s", r)
	}
	e.ok("rm", "-f", id)
	if _, err := httpGet(fmt.Sprintf("127.0.0.1:%d", p1), "/"); err == nil {
		t.Errorf("127.0.0.1:%d still answers after rm", p1)
	}

	// -P publishes what the image exposes.
	e.ok("run", "--name", "exposer", "unbox/busybox", "true")
	e.ok("commit", "--change", "EXPOSE 80", "exposer", "exposing")
	e.ok("rm", "exposer")
	id = e.out(append([]string{"run", "-d", "-P", "exposing"}, httpd("all")...)...)
	hp := strings.TrimPrefix(e.out("port", id), "80/tcp -> 0.0.0.0:")
	if _, err := strconv.Atoi(hp); err != nil {
		t.Fatalf("port after -P = %q; want 80/tcp on a host port", hp)
	}
	waitHTTP(t, "127.0.0.1:"+hp, "/", "all")
	e.ok("rm", "-f", id)
	e.ok("rmi", "exposing")

	// Ranges, as Docker's -p takes them: a host range for one port gets
	// the first free port of it (the first is another program's here);
	// two ranges of one length map port for port.
	base := freeHostRange(t, 4)
	held, err := net.Listen("tcp4", fmt.Sprintf(":%d", base))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	id = e.out(append([]string{"run", "-d", "-p", fmt.Sprintf("127.0.0.1:%d-%d:80", base, base+2),
		"-p", fmt.Sprintf("%d-%d:80-81", base+2, base+3), "unbox/busybox"}, httpd("ranged")...)...)
	want := []string{fmt.Sprintf("80/tcp -> 127.0.0.1:%d", base+1), fmt.Sprintf("80/tcp -> 0.0.0.0:%d", base+2), fmt.Sprintf("81/tcp -> 0.0.0.0:%d", base+3)}
	if got := strings.Split(e.out("port", id), "\n"); !slices.Equal(got, want) {
		t.Errorf("port with ranges = %q; want %q", got, want)
	}
	waitHTTP(t, fmt.Sprintf("127.0.0.1:%d", base+1), "/", "ranged")
	waitHTTP(t, fmt.Sprintf("127.0.0.1:%d", base+2), "/", "ranged")
	if r := e.run("run", "--rm", "-p", fmt.Sprintf("%d-%d:80", base+1, base+3), "unbox/busybox", "true"); r.code != 125 || !strings.Contains(r.stderr, "taken") {
		t.Errorf("a range whose every port is held: %s; want 125, taken", r)
	}
	e.ok("rm", "-f", id)
}

// freeHostRange is the first of n consecutive host ports that are free
// now (each bound for a moment).
func freeHostRange(t *testing.T, n int) int {
	t.Helper()
	for base := 20000 + rand.IntN(20000); base < 60000; base += n {
		var ls []net.Listener
		for p := base; p < base+n; p++ {
			l, err := net.Listen("tcp4", fmt.Sprintf(":%d", p))
			if err != nil {
				break
			}
			ls = append(ls, l)
		}
		for _, l := range ls {
			l.Close()
		}
		if len(ls) == n {
			return base
		}
	}
	t.Fatalf("no %d consecutive free ports", n)
	return 0
}

// TestPrivNetworkModes: none has lo alone; host has the host's links;
// container:NAME shares the other's; the default network has an address
// but no names (as Docker's).
func TestPrivNetworkModes(t *testing.T) {
	e := newNetEnv(t)
	if got := e.out("run", "--rm", "--network", "none", "unbox/busybox", "ls", "/sys/class/net"); got != "lo" {
		t.Errorf("--network none: links %q; want lo", got)
	}
	host, _ := os.ReadDir("/sys/class/net")
	if got := strings.Fields(e.out("run", "--rm", "--network", "host", "unbox/busybox", "ls", "/sys/class/net")); len(got) != len(host) {
		t.Errorf("--network host: %d links; want the host's %d", len(got), len(host))
	}
	e.ok("run", "-d", "--name", "first", "unbox/busybox", "sleep", "600")
	ip := e.ipOf("first", engine.DefaultNetwork)
	if !strings.HasPrefix(ip, "10.") {
		t.Fatalf("a container on the default network has address %q", ip)
	}
	got := e.out("run", "--rm", "--network", "container:first", "unbox/busybox", "sh", "-c", "ip -4 -o addr show eth0 | awk '{print $4}'")
	if !strings.HasPrefix(got, ip+"/") {
		t.Errorf("--network container:first: eth0 has %q; want first's %s", got, ip)
	}
	e.ok("run", "-d", "--name", "second", "unbox/busybox", "sleep", "600")
	if r := e.run("exec", "second", "ping", "-c1", "-W2", ip); r.code != 0 {
		t.Errorf("second pings first on the default network: %s", r)
	}
	if got := e.resolve("second", "first"); got != "" {
		t.Errorf("on the default network, first resolves to %q; want no names (as Docker's)", got)
	}
	e.ok("rm", "-f", "first", "second")
	// The default network's bridge goes with its last container.
	if ls := e.out("network", "inspect", engine.DefaultNetwork); strings.Contains(ls, `"Subnet"`) {
		t.Errorf("default network after its last container left: %s; want it unmade", ls)
	}
}

// TestPrivNetworkBadInput: each is refused with exit 125, and leaves the
// host, the engine's networks and its containers as they were.
func TestPrivNetworkBadInput(t *testing.T) {
	e := newNetEnv(t)
	e.ok("network", "create", "--subnet", "10.97.0.0/24", "taken")
	busy, err := net.Listen("tcp4", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyPort := busy.Addr().(*net.TCPAddr).Port
	ours := freeHostPort(t)
	e.ok(append([]string{"run", "-d", "--name", "holder", "-p", fmt.Sprintf("%d:80", ours), "unbox/busybox"}, httpd("h")...)...)
	var hostRoute string
	routes, _ := network.HostRoutes()
	for _, r := range routes {
		if r.Dst.Addr().Is4() && r.Dst.Bits() > 0 && r.Dst.Bits() <= 30 && !r.Dst.Addr().IsLoopback() && !strings.HasPrefix(r.Dev, "ubx") {
			hostRoute = r.Dst.String()
			break
		}
	}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"network", "create", "--subnet", "10.1.2.3/24", "n1"}, "it should be 10.1.2.0/24"},
		{[]string{"network", "create", "--subnet", "nonsense", "n1"}, "invalid subnet"},
		{[]string{"network", "create", "--subnet", "fd00::/64", "n1"}, "IPv4"},
		{[]string{"network", "create", "--subnet", "10.97.0.0/25", "n1"}, "overlaps the subnet of another network"},
		{[]string{"network", "create", "--subnet", "10.96.0.0/24", "--gateway", "10.96.1.1", "n1"}, "not in 10.96.0.0/24"},
		{[]string{"network", "create", "taken"}, "exists already"},
		{[]string{"network", "create", "bridge"}, "pre-defined"},
		{[]string{"network", "create", "bad/name"}, "network name"},
		{[]string{"network", "create", "--dns", "nowhere", "n1"}, "invalid --dns"},
		{[]string{"network", "rm", "bridge"}, "pre-defined"},
		{[]string{"network", "rm", "nosuch"}, "network nosuch not found"},
		{[]string{"run", "--rm", "-p", fmt.Sprintf("%d:80", busyPort), "unbox/busybox", "true"}, "in use by another program"},
		{[]string{"run", "--rm", "-p", fmt.Sprintf("%d:80", ours), "unbox/busybox", "true"}, "holder"},
		{[]string{"run", "--rm", "-p", "70000:80", "unbox/busybox", "true"}, "invalid publish spec"},
		{[]string{"run", "--rm", "--network-alias", "x", "unbox/busybox", "true"}, "user-defined networks"},
		{[]string{"run", "--rm", "--network", "nosuch", "unbox/busybox", "true"}, "network nosuch not found"},
		{[]string{"run", "--rm", "--network", "none", "-p", "80", "unbox/busybox", "true"}, "conflicting options"},
		{[]string{"run", "--rm", "--network", "container:nosuch", "unbox/busybox", "true"}, "no such container"},
		{[]string{"run", "--rm", "--network", "taken", "--ip", "10.98.0.5", "unbox/busybox", "true"}, "10.98.0.5"},
		{[]string{"run", "--rm", "--dns", "nonsense", "unbox/busybox", "true"}, "invalid --dns"},
		{[]string{"run", "--rm", "--dns", "127.0.0.1:5353", "unbox/busybox", "true"}, "user-defined network only"},
		{[]string{"run", "--rm", "--add-host", "nocolon", "unbox/busybox", "true"}, "want HOST:IP"},
		{[]string{"run", "--rm", "--add-host", "h:999.1.1.1", "unbox/busybox", "true"}, "invalid IP address"},
		{[]string{"run", "--rm", "--network", "none", "--add-host", "h:host-gateway", "unbox/busybox", "true"}, "no way to the host"},
		{[]string{"run", "--rm", "--network", "container:holder", "--dns", "10.0.0.1", "unbox/busybox", "true"}, "conflicting options: dns"},
		{[]string{"run", "--rm", "--network", "container:holder", "--add-host", "h:10.0.0.1", "unbox/busybox", "true"}, "conflicting options: custom host-to-IP"},
	}
	if hostRoute != "" {
		cases = append(cases, struct {
			args []string
			want string
		}{[]string{"network", "create", "--subnet", hostRoute, "n1"}, "overlaps"})
	}
	for _, tc := range cases {
		before := e.hostState()
		r := e.run(tc.args...)
		if r.code != 125 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("unbox %s: %s; want exit 125 saying %q", strings.Join(tc.args, " "), r, tc.want)
		}
		if after := e.hostState(); after != before {
			t.Errorf("unbox %s changed the host or the engine:\nbefore: %s\nafter:  %s", strings.Join(tc.args, " "), before, after)
		}
	}
	e.ok("rm", "-f", "holder")
	e.ok("network", "rm", "-f", "nosuch", "taken")
	if r := e.run("network", "inspect", "taken"); r.code == 0 {
		t.Errorf("network rm -f nosuch taken left taken: %s", r)
	}
}

// hostState is what a refused command must leave as it was: our links,
// tables and namespaces, the engine's containers and networks.
func (e *env) hostState() string {
	e.t.Helper()
	ours, _ := network.OursOnHost()
	return fmt.Sprint(ours, " containers:", strings.Fields(e.out("ps", "-aq")), " networks:", strings.Fields(e.out("network", "ls", "-q")))
}

// TestPrivNetworkTwenty: twenty containers started at once on one network
// get twenty addresses, find each other by name, and publish twenty
// reachable ports.
func TestPrivNetworkTwenty(t *testing.T) {
	e := newNetEnv(t)
	e.ok("network", "create", "--dns", fakeUpstream(t), "crowd")
	const n = 20
	var wg sync.WaitGroup
	errs := make([]string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := e.run(append([]string{"run", "-d", "--name", fmt.Sprintf("c%02d", i), "--network", "crowd", "-p", "80", "unbox/busybox"}, httpd(fmt.Sprintf("c%02d", i))...)...)
			if r.code != 0 {
				errs[i] = r.String()
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != "" {
			t.Fatalf("run c%02d: %s", i, err)
		}
	}
	ips := map[string]string{}
	for i := range n {
		name := fmt.Sprintf("c%02d", i)
		ip := e.ipOf(name, "crowd")
		if other, dup := ips[ip]; dup || ip == "" {
			t.Errorf("%s has address %q, as has %s", name, ip, other)
		}
		ips[ip] = name
		hp := strings.TrimPrefix(e.out("port", name, "80"), "0.0.0.0:")
		waitHTTP(t, "127.0.0.1:"+hp, "/", name)
	}
	// Every container resolves every name (one exec each, a loop inside).
	var names []string
	for i := range n {
		names = append(names, fmt.Sprintf("c%02d", i))
	}
	script := "for n in " + strings.Join(names, " ") + "; do echo $n $(nslookup -type=a $n 2>&1 | awk '/^Name:/{f=1} f&&/^Address/{print $2}'); done"
	for _, from := range names {
		for _, line := range strings.Split(e.out("exec", from, "sh", "-c", script), "\n") {
			f := strings.Fields(line)
			if len(f) != 2 || ips[f[1]] != f[0] {
				t.Errorf("from %s: %q; want each name with its address", from, line)
			}
		}
	}
	ids := strings.Fields(e.out("ps", "-aq"))
	e.ok(append([]string{"rm", "-f"}, ids...)...)
	e.ok("network", "rm", "crowd")
}

// TestPrivNetworkFaults: a CLI killed with SIGKILL in the middle of `run
// -p`, a monitor killed while its container runs, and a DNS responder
// killed: the next commands repair, network rm works, nothing is left.
func TestPrivNetworkFaults(t *testing.T) {
	e := newNetEnv(t)
	e.ok("network", "create", "--dns", fakeUpstream(t), "faulty")
	for i, delay := range []time.Duration{20 * time.Millisecond, 100 * time.Millisecond, 300 * time.Millisecond, time.Second} {
		cmd := e.cmd(append([]string{"run", "-d", "--name", fmt.Sprintf("k%d", i), "--network", "faulty", "-p", "80", "unbox/busybox"}, httpd("k")...)...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
	}
	// A running container whose monitor is killed.
	e.ok("run", "-d", "--name", "orphan", "--network", "faulty", "unbox/busybox", "sleep", "600")
	c := e.inspect("orphan")
	var mi struct{ Pid int }
	b, _ := os.ReadFile(filepath.Join(e.state, "containers", engine.Short(c.ID), "monitor.json"))
	json.Unmarshal(b, &mi)
	if mi.Pid <= 0 {
		t.Fatalf("monitor.json of orphan: %s", b)
	}
	syscall.Kill(mi.Pid, syscall.SIGKILL)
	// The DNS responder killed: the next start on its network restarts it.
	var di struct{ Pid int }
	b, _ = os.ReadFile(filepath.Join(e.state, "networks", "faulty", "dns.json"))
	json.Unmarshal(b, &di)
	if di.Pid <= 0 {
		t.Fatalf("dns.json of faulty: %s", b)
	}
	syscall.Kill(di.Pid, syscall.SIGKILL)
	e.ok("run", "-d", "--name", "asker", "--network", "faulty", "unbox/busybox", "sleep", "600")
	e.ok("run", "-d", "--name", "answer", "--network", "faulty", "unbox/busybox", "sleep", "600")
	if got, want := e.resolve("asker", "answer"), e.ipOf("answer", "faulty"); got != want {
		t.Errorf("after the DNS responder was killed, answer resolves to %q; want %s", got, want)
	}
	e.ok("rm", "-f", "asker", "answer")
	// Whatever the kills left: ps -a reports it, rm -f removes it, and
	// then the network is free.
	ids := strings.Fields(e.out("ps", "-aq"))
	if len(ids) > 0 {
		e.ok(append([]string{"rm", "-f"}, ids...)...)
	}
	if r := e.run("network", "rm", "faulty"); r.code != 0 {
		t.Errorf("network rm after the faults were repaired: %s", r)
	}
	if left, _ := os.ReadDir(filepath.Join(e.root, "networks")); slices.ContainsFunc(left, func(d os.DirEntry) bool { return d.IsDir() }) {
		t.Errorf("networks' state left: %v", names(left))
	}
}
