package network_test

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/kit/kittest"
	"github.com/unboxlab/unbox/internal/network"
)

func TestMain(m *testing.M) { kittest.Main(m, nil) }

// needs are the package's kernel requirements as the kit's needs, probed
// once per test binary.
var needs = sync.OnceValue(func() []kit.Need {
	out := []kit.Need{kit.NeedNamespace("net")}
	for _, r := range network.Requirements {
		check := sync.OnceValue(r.Check)
		out = append(out, kit.Need{Name: r.Name, Fix: r.Fix, Check: func() error {
			if os.Geteuid() != 0 {
				return nil // the root need says so already
			}
			return check()
		}})
	}
	return out
})

// privileged starts a privileged test: root and the kernel's network
// features, the kit's leak check, and one for our links, tables, named
// namespaces and ip_forward (network.HostState).
func privileged(t *testing.T) {
	t.Helper()
	kittest.Privileged(t, needs()...)
	kittest.NoLeaksOf(t, "network objects and ip_forward", network.HostState)
}

// newNS creates a network namespace pinned in the test's temp dir and
// deletes it when the test ends.
func newNS(t *testing.T, dir, name string) *network.NetNS {
	t.Helper()
	ns, err := network.NamedNetNS(dir, name)
	if err != nil {
		t.Fatal(err)
	}
	if err := network.CreateNetNS(ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := network.DeleteNetNS(ns); err != nil {
			t.Error(err)
		}
	})
	return ns
}

// serve starts a TCP server in ns (the host's when nil) on addr that
// answers every connection with one line naming itself and the address the
// connection came from. It returns the listening address.
func serve(t *testing.T, ns *network.NetNS, addr, name string) netip.AddrPort {
	t.Helper()
	var l net.Listener
	listen := func() (err error) { l, err = net.Listen("tcp4", addr); return err }
	var err error
	if ns == nil {
		err = listen()
	} else {
		err = ns.Do(listen)
	}
	if err != nil {
		t.Fatalf("listen in %v on %s: %v", ns, addr, err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			remote, _ := netip.ParseAddrPort(c.RemoteAddr().String())
			fmt.Fprintf(c, "%s saw %s\n", name, remote.Addr())
			c.Close()
		}
	}()
	return netip.MustParseAddrPort(l.Addr().String())
}

// dial connects from ns (the host's when nil) to addr and returns the line
// the server sent.
func dial(ns *network.NetNS, addr string) (string, error) {
	var line string
	do := func() error {
		c, err := net.DialTimeout("tcp4", addr, 2*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(2 * time.Second))
		line, err = bufio.NewReader(c).ReadString('\n')
		return err
	}
	var err error
	if ns == nil {
		err = do()
	} else {
		err = ns.Do(do)
	}
	return strings.TrimSpace(line), err
}

// mustDial is dial that fails the test on error and checks the reply.
func mustDial(t *testing.T, ns *network.NetNS, addr, want string) {
	t.Helper()
	got, err := dial(ns, addr)
	if err != nil {
		t.Fatalf("dial %s from %v: %v", addr, nsName(ns), err)
	}
	if got != want {
		t.Errorf("dial %s from %s = %q; want %q", addr, nsName(ns), got, want)
	}
}

func nsName(ns *network.NetNS) string {
	if ns == nil {
		return "the host"
	}
	return ns.Name
}

// openStore opens a store in the test's temp dir with a table of its own.
func openStore(t *testing.T) *network.Store {
	t.Helper()
	s, err := network.OpenStore(t.TempDir(), fmt.Sprintf("unbox-test-%d", os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// createNetwork creates a network and removes it when the test ends.
func createNetwork(t *testing.T, s *network.Store, n network.Network) network.Network {
	t.Helper()
	n, err := s.Create(n)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Remove(n.Name); err != nil {
			t.Error(err)
		}
	})
	return n
}

// connect connects an endpoint and disconnects it when the test ends.
func connect(t *testing.T, s *network.Store, netName string, ep network.Endpoint) network.Endpoint {
	t.Helper()
	ep, err := s.Connect(netName, ep)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Disconnect(netName, ep.Name); err != nil {
			t.Error(err)
		}
	})
	return ep
}

// freePort is a TCP port nothing on the host listens on right now.
func freePort(t *testing.T) uint16 {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return netip.MustParseAddrPort(l.Addr().String()).Port()
}
