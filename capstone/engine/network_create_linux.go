package engine

import (
	"errors"
	"fmt"
	"strings"

	"github.com/unboxlab/unbox/internal/network"
)

// checkNetworkOptions checks create's network flags and records them in
// c: the mode, the container's first network with its aliases and
// address, the published and exposed ports. A host port that another
// program or another of our containers holds is refused here already, so
// that `run -p` fails before anything is made (start checks again: the
// port can be taken meanwhile).
func (e *Engine) checkNetworkOptions(c *Container, o CreateOptions, imageExposed map[string]struct{}) error {
	mode := o.Network
	if mode == "" || mode == "default" {
		mode = DefaultNetwork
	}
	c.HostConfig.NetworkMode = mode
	var err error
	if c.HostConfig.PortBindings, err = ParsePublish(o.Publish); err != nil {
		return err
	}
	c.HostConfig.PublishAllPorts = o.PublishAll
	for k := range imageExposed {
		if key, err := ParseExpose(k); err == nil {
			c.exposePort(key)
		}
	}
	for _, x := range o.Expose {
		key, err := ParseExpose(x)
		if err != nil {
			return err
		}
		c.exposePort(key)
	}
	for key := range c.HostConfig.PortBindings {
		c.exposePort(key)
	}
	publishes := len(c.HostConfig.PortBindings) > 0 || (o.PublishAll && len(c.Config.ExposedPorts) > 0)
	if !bridged(mode) {
		switch {
		case strings.HasPrefix(mode, "container:"):
			ref := strings.TrimPrefix(mode, "container:")
			other, err := e.Lookup(ref)
			if err != nil {
				return fmt.Errorf("--network container:%s: %w", ref, err)
			}
			c.HostConfig.NetworkMode = "container:" + other.ID
		}
		switch {
		case publishes:
			return fmt.Errorf("conflicting options: port publishing and --network %s (the container has no network of its own to publish from)", o.Network)
		case len(o.Aliases) > 0:
			return errors.New("network-scoped aliases are only supported for user-defined networks")
		case o.IP != "":
			return errors.New("--ip needs a user-defined network")
		}
		return nil
	}
	if mode != DefaultNetwork {
		if err := network.CheckName("network", mode); err != nil {
			return fmt.Errorf("network %s not found", mode)
		}
		s, err := e.netStore()
		if err != nil {
			return err
		}
		if _, err := s.Get(mode); err != nil {
			if errors.Is(err, network.ErrNotFound) {
				return fmt.Errorf("network %s not found (see `unbox network ls`; `unbox network create %s` makes it)", mode, mode)
			}
			return err
		}
	}
	if c.Name != "" {
		if err := network.CheckName("container", c.Name); err != nil {
			return fmt.Errorf("a container on a network needs a name that is a DNS name: %w", err)
		}
	}
	es, err := e.endpointSettings(mode, EndpointOptions{Aliases: o.Aliases, IP: o.IP})
	if err != nil {
		return err
	}
	c.NetworkSettings.Networks = map[string]*EndpointSettings{mode: es}
	return e.checkHostPorts(c)
}

func (c *Container) exposePort(key string) {
	if c.Config.ExposedPorts == nil {
		c.Config.ExposedPorts = map[string]struct{}{}
	}
	c.Config.ExposedPorts[key] = struct{}{}
}

// checkHostPorts refuses a -p whose host port is published by another
// of our containers or held by another program.
func (e *Engine) checkHostPorts(c *Container) error {
	ports, err := portMappings(c)
	if err != nil {
		return err
	}
	var fixed []network.PortMapping
	for i, p := range ports {
		if err := p.Check(); err != nil {
			return err
		}
		if p.HostPort == 0 || p.HostPortEnd != 0 {
			continue // chosen at start
		}
		for _, q := range ports[:i] {
			if q.HostPort != 0 && q.HostPortEnd == 0 && p.Overlaps(q) {
				return fmt.Errorf("-p %s and -p %s: the same host port twice", q, p)
			}
		}
		fixed = append(fixed, p)
	}
	if len(fixed) == 0 {
		return nil
	}
	published, err := e.publishedForwards()
	if err != nil {
		return err
	}
	for _, p := range fixed {
		if err := network.PortConflict(p, c.Name, published); err != nil {
			return err
		}
		if err := network.HostPortFree(p); err != nil {
			return fmt.Errorf("-p %s: %w", p, err)
		}
	}
	return nil
}

// publishedForwards are the ports our running containers publish now,
// from the networks' endpoints. (A stopped container's -p does not hold
// its port, as in Docker: the clash is found when both start.)
func (e *Engine) publishedForwards() ([]network.Forward, error) {
	s, err := e.netStore()
	if err != nil {
		return nil, err
	}
	nets, err := s.List()
	if err != nil {
		return nil, err
	}
	var out []network.Forward
	for _, n := range nets {
		eps, err := s.Endpoints(n.Name)
		if err != nil {
			return nil, err
		}
		for _, ep := range eps {
			for _, p := range ep.Ports {
				out = append(out, network.Forward{PortMapping: p, Owner: ep.Name})
			}
		}
	}
	return out, nil
}
