package engine

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/unboxlab/unbox/internal/network"
)

// DefaultNetwork is the network a container joins when run does not say
// (Docker's "bridge"): made on first use, its bridge removed again when
// the last container on it stops, as podman's netavark does with its
// bridges. Like Docker's default network it has no DNS responder: its
// containers find each other by address only.
const DefaultNetwork = "bridge"

// predefined are the networks every engine has and no one creates or
// removes, with their drivers, as `docker network ls` shows them.
var predefined = map[string]string{DefaultNetwork: "bridge", "host": "host", "none": "null"}

// NetworkSettings is where a container is on its networks, Docker's
// inspect field: the networks it is connected to (kept while it is
// stopped, with the aliases asked for) and, while it runs, its address
// on each and the ports published to it.
type NetworkSettings struct {
	Networks map[string]*EndpointSettings `json:"Networks"`
	// Ports are the published ports while the container runs, as "80/tcp"
	// to the host's side.
	Ports map[string][]PortBinding `json:"Ports"`
	// SandboxKey is the network namespace the container runs in.
	SandboxKey string `json:"SandboxKey"`
	// The primary network's address, as Docker repeats it at the top.
	IPAddress   string `json:"IPAddress"`
	IPPrefixLen int    `json:"IPPrefixLen"`
	Gateway     string `json:"Gateway"`
	MacAddress  string `json:"MacAddress"`
}

// EndpointSettings is a container on one network.
type EndpointSettings struct {
	// IPAMConfig is the address asked for (--ip), if any.
	IPAMConfig *EndpointIPAMConfig `json:"IPAMConfig"`
	Aliases    []string            `json:"Aliases"`
	NetworkID  string              `json:"NetworkID"`
	// The rest is set while the container runs.
	Gateway     string   `json:"Gateway"`
	IPAddress   string   `json:"IPAddress"`
	IPPrefixLen int      `json:"IPPrefixLen"`
	MacAddress  string   `json:"MacAddress"`
	DNSNames    []string `json:"DNSNames"`
}

// EndpointIPAMConfig is an address asked for.
type EndpointIPAMConfig struct {
	IPv4Address string `json:"IPv4Address,omitempty"`
}

// PortBinding is the host's side of a published port, Docker's shape:
// HostIP "" is every address, HostPort "" one chosen at start.
type PortBinding struct {
	HostIP   string `json:"HostIp"`
	HostPort string `json:"HostPort"`
}

// clearRuntime forgets what a run set: addresses and published ports.
func (s *NetworkSettings) clearRuntime() {
	for _, ep := range s.Networks {
		ep.Gateway, ep.IPAddress, ep.IPPrefixLen, ep.MacAddress, ep.DNSNames = "", "", 0, "", nil
	}
	s.Ports, s.SandboxKey = nil, ""
	s.IPAddress, s.IPPrefixLen, s.Gateway, s.MacAddress = "", 0, "", ""
}

// bridged reports whether a network mode puts the container on networks
// of the store (the default one or a user-defined one), rather than in
// none, the host's, or another container's namespace.
func bridged(mode string) bool {
	return mode != "none" && mode != "host" && !strings.HasPrefix(mode, "container:")
}

// ParsePublish reads -p values ([IP:][HOST_PORT[-END]:]CONTAINER_PORT[-END][/PROTO])
// into Docker's PortBindings, keyed "80/tcp"; a host range for one
// container port stays a range ("8000-8010"), chosen from at start.
func ParsePublish(specs []string) (map[string][]PortBinding, error) {
	out := map[string][]PortBinding{}
	for _, s := range specs {
		ps, err := network.ParsePorts(s)
		if err != nil {
			return nil, fmt.Errorf("invalid publish spec %q: %w", s, err)
		}
		for _, p := range ps {
			b := PortBinding{}
			if p.HostIP.IsValid() {
				b.HostIP = p.HostIP.String()
			}
			if p.HostPort != 0 {
				b.HostPort = strconv.Itoa(int(p.HostPort))
			}
			if p.HostPortEnd != 0 {
				b.HostPort += "-" + strconv.Itoa(int(p.HostPortEnd))
			}
			key := portKey(p.ContainerPort, p.Proto)
			out[key] = append(out[key], b)
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// ParseExpose reads --expose and EXPOSE values: PORT[/PROTO].
func ParseExpose(s string) (string, error) {
	port, proto, _ := strings.Cut(s, "/")
	if proto == "" {
		proto = "tcp"
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 || (proto != "tcp" && proto != "udp") {
		return "", fmt.Errorf("invalid port to expose %q: want PORT[/tcp|udp], PORT 1 to 65535", s)
	}
	return portKey(uint16(n), proto), nil
}

func portKey(port uint16, proto string) string { return strconv.Itoa(int(port)) + "/" + proto }

// portMappings are the ports a start of c publishes: its -p bindings,
// and with -P every exposed port that has none, on a host port chosen
// then.
func portMappings(c *Container) ([]network.PortMapping, error) {
	var out []network.PortMapping
	add := func(key string, b PortBinding) error {
		spec := key
		if b.HostPort != "" || b.HostIP != "" {
			spec = b.HostPort + ":" + key
			if b.HostIP != "" {
				spec = b.HostIP + ":" + spec
			}
		}
		ps, err := network.ParsePorts(spec)
		if err != nil {
			return fmt.Errorf("published port %s: %w", spec, err)
		}
		out = append(out, ps...)
		return nil
	}
	for _, key := range sortedKeys(c.HostConfig.PortBindings) {
		for _, b := range c.HostConfig.PortBindings[key] {
			if err := add(key, b); err != nil {
				return nil, err
			}
		}
	}
	if c.HostConfig.PublishAllPorts {
		for _, key := range sortedKeys(c.Config.ExposedPorts) {
			if _, bound := c.HostConfig.PortBindings[key]; !bound {
				if err := add(key, PortBinding{}); err != nil {
					return nil, err
				}
			}
		}
	}
	return out, nil
}

// publishedPorts is NetworkSettings.Ports for the mappings as made.
func publishedPorts(ps []network.PortMapping) map[string][]PortBinding {
	if len(ps) == 0 {
		return nil
	}
	out := map[string][]PortBinding{}
	for _, p := range ps {
		ip := "0.0.0.0"
		if p.HostIP.IsValid() {
			ip = p.HostIP.String()
		}
		key := portKey(p.ContainerPort, p.Proto)
		out[key] = append(out[key], PortBinding{HostIP: ip, HostPort: strconv.Itoa(int(p.HostPort))})
	}
	return out
}

// PortLines are `unbox port`'s lines for a container's published ports
// ("80/tcp -> 0.0.0.0:8080"), in port order; with private ("80" or
// "80/tcp") only those of that port, without the port in front.
func PortLines(s NetworkSettings, private string) ([]string, error) {
	var want string
	if private != "" {
		k, err := ParseExpose(private)
		if err != nil {
			return nil, err
		}
		want = k
	}
	keys := sortedKeys(s.Ports)
	slices.SortStableFunc(keys, func(a, b string) int {
		pa, _ := strconv.Atoi(strings.Split(a, "/")[0])
		pb, _ := strconv.Atoi(strings.Split(b, "/")[0])
		return pa - pb
	})
	var out []string
	for _, k := range keys {
		if want != "" && k != want {
			continue
		}
		for _, b := range s.Ports[k] {
			hp := netip.MustParseAddr(b.HostIP).String() + ":" + b.HostPort
			if want != "" {
				out = append(out, hp)
			} else {
				out = append(out, k+" -> "+hp)
			}
		}
	}
	if want != "" && len(out) == 0 {
		return nil, fmt.Errorf("no public port '%s' published", want)
	}
	return out, nil
}

// PortsColumn is ps's PORTS column: "0.0.0.0:8080->80/tcp, ...".
func PortsColumn(s NetworkSettings) string {
	var parts []string
	for _, k := range sortedKeys(s.Ports) {
		for _, b := range s.Ports[k] {
			parts = append(parts, b.HostIP+":"+b.HostPort+"->"+k)
		}
	}
	return strings.Join(parts, ", ")
}

// NetworkNames are the networks c is on, by name, sorted; for a mode
// without networks, the mode.
func NetworkNames(c *Container) []string {
	if !bridged(c.HostConfig.NetworkMode) || len(c.NetworkSettings.Networks) == 0 {
		return []string{c.HostConfig.NetworkMode}
	}
	return sortedKeys(c.NetworkSettings.Networks)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// MatchLabels reports whether have carries every label of want (a value
// "" in want matches any value).
func MatchLabels(have, want map[string]string) bool {
	for k, v := range want {
		got, ok := have[k]
		if !ok || (v != "" && got != v) {
			return false
		}
	}
	return true
}
