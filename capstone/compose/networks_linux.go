package compose

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/unboxlab/unbox/capstone/engine"
)

// A project's networks are the engine's user-defined bridge networks
// (`unbox network`), named and labelled as Docker Compose names and labels
// them: PROJECT_default, which compose-go adds for every service that
// names no network, and the file's top-level networks as PROJECT_KEY (or
// their name:). Each has its bridge, its subnet and its DNS responder, so
// a service's container is found there by its service's name (and the
// file's aliases, and its container name): web reaches db as "db".

// networkOptions is what the engine creates the network key with.
func (c *Compose) networkOptions(key string, n types.NetworkConfig) engine.NetworkCreateOptions {
	o := engine.NetworkCreateOptions{Name: n.Name, Labels: map[string]string{}}
	for k, v := range n.Labels {
		o.Labels[k] = v
	}
	o.Labels[LabelProject], o.Labels[LabelNetwork], o.Labels[LabelVersion] = c.P.Name, key, Version
	if len(n.Ipam.Config) > 0 {
		o.Subnet, o.Gateway = n.Ipam.Config[0].Subnet, n.Ipam.Config[0].Gateway
	}
	if dns := n.DriverOpts[DNSServersOption]; dns != "" {
		o.DNS = strings.Split(dns, ",")
	}
	return o
}

// ensureNetworks makes the project's networks that are not there yet, as
// Compose does: an external one must exist; one of the same name that
// another project (or a person) made is used, with a warning.
func (c *Compose) ensureNetworks(ctx context.Context) error {
	have, err := c.E.ListNetworks(nil)
	if err != nil {
		return err
	}
	byName := map[string]engine.NetworkInfo{}
	for _, n := range have {
		byName[n.Name] = n
	}
	for _, key := range slices.Sorted(mapKeys(c.P.Networks)) {
		n := c.P.Networks[key]
		got, ok := byName[n.Name]
		switch {
		case bool(n.External) && !ok:
			return fmt.Errorf("network %s declared as external, but could not be found (`unbox network create %s` makes it)", n.Name, n.Name)
		case bool(n.External):
		case ok && got.Labels[LabelProject] != c.P.Name:
			fmt.Fprintf(c.Out, "WARNING: a network with name %s exists but was not created for project %q: it is used as it is (set `external: true` to say so)\n", n.Name, c.P.Name)
		case !ok:
			if _, err := c.E.CreateNetwork(c.networkOptions(key, n)); err != nil {
				// Another up of the project may have made it meanwhile.
				if _, ierr := c.E.InspectNetwork(n.Name); ierr != nil {
					return fmt.Errorf("network %s: %w", n.Name, err)
				}
				continue
			}
			c.progress("Network", n.Name, "Created")
		}
	}
	return nil
}

// removeNetworks removes the project's networks (those labelled with its
// name), as down does; one another container is still on stays, with a
// warning, as in Compose.
func (c *Compose) removeNetworks() error {
	labels := map[string]string{LabelProject: c.P.Name}
	removed, err := c.E.PruneNetworks(labels)
	for _, n := range removed {
		c.progress("Network", n, "Removed")
	}
	if err != nil {
		return err
	}
	left, err := c.E.ListNetworks(labels)
	if err != nil {
		return err
	}
	for _, n := range left {
		fmt.Fprintf(c.Out, " Network %s  Resource is still in use\n", n.Name)
	}
	return nil
}

// networkMode sets o's network from s: its network_mode, or its first
// network (by priority) with its aliases and address there; the others
// are connected by connectMore once the container exists.
func (c *Compose) networkMode(o *engine.CreateOptions, s types.ServiceConfig, oneoff bool) error {
	mode := s.NetworkMode
	switch {
	case mode == "host" || mode == "none":
		o.Network = mode
	case mode == "bridge" || mode == "default":
		o.Network = engine.DefaultNetwork
	case strings.HasPrefix(mode, "service:"):
		// Another service's network namespace: its first container's
		// (compose-go has made s depend on it, so it is up first).
		name := strings.TrimPrefix(mode, "service:")
		other, ok := c.P.Services[name]
		if !ok {
			return fmt.Errorf("service %q: network_mode %s: no such service", s.Name, mode)
		}
		o.Network = "container:" + ContainerName(c.P, other, 1)
	case strings.HasPrefix(mode, "container:"):
		o.Network = mode
	case mode != "":
		return fmt.Errorf("service %q: network_mode %q is not supported (host, none, bridge, service:NAME and container:NAME are)", s.Name, mode)
	case len(s.Networks) == 0:
		o.Network = "none" // networks: {} in the file: on none, as in Compose
	default:
		key := s.NetworksByPriority()[0]
		net, ok := c.P.Networks[key]
		if !ok {
			return fmt.Errorf("service %q refers to undefined network %s", s.Name, key)
		}
		o.Network = net.Name
		o.Aliases, o.IP = c.endpoint(s, key, oneoff)
	}
	// A one-off container (run) publishes none of the service's ports,
	// as Compose's run without --service-ports.
	if !oneoff && !strings.HasPrefix(o.Network, "container:") && o.Network != "host" && o.Network != "none" {
		o.Publish = publishSpecs(s.Ports)
		o.Expose = slices.Clone(s.Expose)
	}
	return nil
}

// endpoint is the aliases and address of s's container on network key:
// its service's name (unless use_service_name_alias: false) and the
// file's aliases, as Compose gives them; a one-off container (run) gets
// neither, as in Compose, so it is not mistaken for the service.
func (c *Compose) endpoint(s types.ServiceConfig, key string, oneoff bool) (aliases []string, ip string) {
	cfg := s.Networks[key]
	if !oneoff {
		if cfg.ServiceNameAliasEnabled() {
			aliases = append(aliases, s.Name)
		}
		if cfg != nil {
			aliases = append(aliases, cfg.Aliases...)
		}
	}
	if cfg != nil {
		ip = cfg.Ipv4Address
	}
	return aliases, ip
}

// connectMore attaches a created container to its service's other
// networks; it joins them when it starts.
func (c *Compose) connectMore(ctx context.Context, s types.ServiceConfig, name string, oneoff bool) error {
	if s.NetworkMode != "" || len(s.Networks) < 2 {
		return nil
	}
	for _, key := range s.NetworksByPriority()[1:] {
		net := c.P.Networks[key]
		aliases, ip := c.endpoint(s, key, oneoff)
		if err := c.E.ConnectNetwork(ctx, net.Name, name, engine.EndpointOptions{Aliases: aliases, IP: ip}); err != nil {
			return fmt.Errorf("connect %s to network %s: %w", name, net.Name, err)
		}
	}
	return nil
}

// publishSpecs are a service's ports as -p takes them:
// [HOST_IP:][PUBLISHED:]TARGET/PROTOCOL.
func publishSpecs(ports []types.ServicePortConfig) []string {
	var out []string
	for _, p := range ports {
		spec := strconv.FormatUint(uint64(p.Target), 10)
		if p.Protocol != "" {
			spec += "/" + p.Protocol
		}
		switch {
		case p.HostIP != "":
			spec = p.HostIP + ":" + p.Published + ":" + spec
		case p.Published != "":
			spec = p.Published + ":" + spec
		}
		out = append(out, spec)
	}
	return out
}
