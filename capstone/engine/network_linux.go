package engine

import (
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Network is a network mode (--network): how a container's network
// namespace is made and what its /etc/hosts and /etc/resolv.conf say. The
// monitor calls it around every start of the container:
//
//	Prepare   before the runtime creates the container: the namespace to
//	          join (or a new one, or the host's), and the init layer's files
//	Attach    once the container exists and its init waits for start: the
//	          namespace is the init's (/proc/<pid>/ns/net); wire it
//	Detach    after the container exits, and from rm and repair for a
//	          container whose monitor died: undo what Prepare and Attach
//	          made (it must be safe to call twice, and with nothing made)
//
// "none" and "host" are here; container:NAME and the bridge networks
// (internal/network: veth pairs, addresses, ports, names) are in
// network_bridge.go, behind the same three calls.
type Network interface {
	Prepare(c *Container) (NetworkSetup, error)
	Attach(c *Container, pid int) error
	Detach(c *Container) error
}

// NetworkSetup is what Prepare decides.
type NetworkSetup struct {
	// Host: the container shares the host's network namespace.
	Host bool
	// NetNS, when set, is a namespace to join (a bind-mounted file);
	// otherwise the runtime makes a new, empty one.
	NetNS string
	// Hosts and ResolvConf are the container's /etc/hosts and
	// /etc/resolv.conf, written into its init layer.
	Hosts, ResolvConf []byte
	// Gateway is the host's address on the container's first network,
	// for --add-host NAME:host-gateway.
	Gateway netip.Addr
}

func defaultNetworks() map[string]Network {
	return map[string]Network{"none": noneNetwork{}, "host": hostNetwork{}}
}

// network is the container's network mode: none, host, another
// container's namespace, or the store's bridge networks (the default one
// when the mode is empty).
func (e *Engine) network(c *Container) (Network, error) {
	mode := c.HostConfig.NetworkMode
	if n, ok := e.Networks[mode]; ok {
		return n, nil
	}
	if ref, ok := strings.CutPrefix(mode, "container:"); ok {
		return containerNetwork{e: e, ref: ref}, nil
	}
	return bridgeNetwork{e: e}, nil
}

// noneNetwork is --network none: a namespace of its own with only the
// loopback interface, up, as Docker's.
type noneNetwork struct{}

func (noneNetwork) Prepare(c *Container) (NetworkSetup, error) {
	return NetworkSetup{Hosts: hostsFile(c, ""), ResolvConf: hostResolvConf()}, nil
}

func (noneNetwork) Attach(_ *Container, pid int) error { return loopbackUp(pid) }

func (noneNetwork) Detach(*Container) error { return nil }

// hostNetwork is --network host: the host's namespace, hosts file and
// resolvers.
type hostNetwork struct{}

func (hostNetwork) Prepare(c *Container) (NetworkSetup, error) {
	hosts, err := os.ReadFile("/etc/hosts")
	if err != nil {
		hosts = hostsFile(c, "")
	}
	return NetworkSetup{Host: true, Hosts: hosts, ResolvConf: hostResolvConf()}, nil
}

func (hostNetwork) Attach(*Container, int) error { return nil }
func (hostNetwork) Detach(*Container) error      { return nil }

// hostsFile is a container's /etc/hosts: the loopback names, and its own
// hostname on addr when it has an address.
func hostsFile(c *Container, addr string) []byte {
	s := "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
	if addr != "" {
		s += addr + "\t" + c.Config.Hostname + "\n"
	}
	return []byte(s)
}

// hostResolvConf is the host's /etc/resolv.conf, which Docker copies into
// containers that have no resolver of their own; empty if there is none.
func hostResolvConf() []byte {
	b, _ := os.ReadFile("/etc/resolv.conf")
	return b
}

// loopbackUp sets lo up in the network namespace of pid: ioctl(2)
// SIOCSIFFLAGS with IFF_UP on a socket made inside it (netdevice(7)). A
// new network namespace has lo, down (network_namespaces(7)). The thread
// that joins the namespace is locked and never unlocked, so the Go runtime
// ends it rather than hand it to other code.
func loopbackUp(pid int) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		errc <- func() error {
			ns, err := unix.Open("/proc/"+strconv.Itoa(pid)+"/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				return err
			}
			defer unix.Close(ns)
			if err := unix.Setns(ns, unix.CLONE_NEWNET); err != nil {
				return fmt.Errorf("setns: %w", err)
			}
			s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				return err
			}
			defer unix.Close(s)
			ifr, err := unix.NewIfreq("lo")
			if err != nil {
				return err
			}
			if err := unix.IoctlIfreq(s, unix.SIOCGIFFLAGS, ifr); err != nil {
				return fmt.Errorf("SIOCGIFFLAGS: %w", err)
			}
			ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
			if err := unix.IoctlIfreq(s, unix.SIOCSIFFLAGS, ifr); err != nil {
				return fmt.Errorf("SIOCSIFFLAGS: %w", err)
			}
			return nil
		}()
	}()
	if err := <-errc; err != nil {
		return fmt.Errorf("set lo up in the container's network namespace: %w", err)
	}
	return nil
}
