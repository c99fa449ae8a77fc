package compose

import (
	"context"
	"errors"
)

// Networks is what compose needs of the engine's networks: the networks
// issue (`unbox network`, --network, aliases, embedded DNS) implements it
// on the engine; until then NoNetworks says there are none. Compose calls
// nothing else, so wiring the engine's networks in is one type.
type Networks interface {
	// Ensure makes the network name, labelled, unless it exists (an
	// external network must exist: Ensure is not called for it).
	Ensure(ctx context.Context, name string, labels map[string]string) error
	// Exists reports whether the network name exists.
	Exists(ctx context.Context, name string) (bool, error)
	// Join sets what a container is created with to be on network,
	// found there by aliases (its service's name and the file's aliases).
	Join(o *ContainerNetwork, network string, aliases []string) error
	// Connect attaches a created container to one more network.
	Connect(ctx context.Context, network, container string, aliases []string) error
	// RemoveLabelled removes the networks that carry every label given,
	// returning their names.
	RemoveLabelled(ctx context.Context, labels map[string]string) ([]string, error)
}

// ContainerNetwork is what a container is created with on its first
// network.
type ContainerNetwork struct {
	Network string
	Aliases []string
}

// ErrNoNetworks is the error of every Networks call of an engine without
// networks.
var ErrNoNetworks = errors.New("this engine has no networks yet (bridges, aliases and DNS come with `unbox network`)")

// NoNetworks is the engine before the networks issue: there are none.
// Compose then runs every service with network "none" and says so; it
// does not pretend the services can reach each other.
type NoNetworks struct{}

func (NoNetworks) Ensure(context.Context, string, map[string]string) error { return ErrNoNetworks }
func (NoNetworks) Exists(context.Context, string) (bool, error)            { return false, nil }
func (NoNetworks) Join(*ContainerNetwork, string, []string) error          { return ErrNoNetworks }
func (NoNetworks) Connect(context.Context, string, string, []string) error { return ErrNoNetworks }
func (NoNetworks) RemoveLabelled(context.Context, map[string]string) ([]string, error) {
	return nil, nil
}
