package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	digest "github.com/opencontainers/go-digest"

	"github.com/unboxlab/unbox/capstone/image"
	"github.com/unboxlab/unbox/internal/network"
	"github.com/unboxlab/unbox/internal/statefile"
	"github.com/unboxlab/unbox/internal/volume"
)

// The engine's default directories, as Docker's /var/lib/docker and
// /run/docker.
const (
	DefaultRoot  = "/var/lib/unbox"
	DefaultState = "/run/unbox"
	// DefaultCgroupParent holds every container's cgroup: /unbox/<id>,
	// as Docker's cgroupfs driver uses /docker/<id>.
	DefaultCgroupParent = "/unbox"
)

// ErrNotFound is the error, wrapped, for a name or ID that no container
// answers to.
var ErrNotFound = errors.New("no such container")

// Options say where the engine keeps its state and which runtime starts
// containers by default.
type Options struct {
	// Root holds what outlives a reboot: images, snapshots, volumes,
	// container records and logs (DefaultRoot; --root, UNBOX_ROOT).
	Root string
	// State holds what does not: the monitors' PIDs and sockets, the
	// runtimes' state (DefaultState; --state, UNBOX_STATE).
	State string
	// Runtime is the default runtime: BuiltinRuntime, a name looked up
	// in PATH, or a path.
	Runtime string
	// CgroupParent is the cgroup containers' cgroups go under.
	CgroupParent string
}

// Engine is the engine on one pair of directories: every command opens
// it, acts, and exits; there is no daemon.
type Engine struct {
	Options
	Images  *image.Store
	Volumes *volume.Store
	// Networks are the fixed network modes (network.go): "none" and
	// "host"; container:NAME and the bridge networks are made per
	// container (network_bridge.go).
	Networks map[string]Network

	nets *network.Store // the store of bridge networks, once opened (network_store.go)
}

// Open opens the engine's directories, making what is missing.
func Open(o Options) (*Engine, error) {
	if o.Root == "" {
		o.Root = DefaultRoot
	}
	if o.State == "" {
		o.State = DefaultState
	}
	if o.Runtime == "" {
		o.Runtime = BuiltinRuntime
	}
	if o.CgroupParent == "" {
		o.CgroupParent = DefaultCgroupParent
	}
	for _, d := range []string{o.Root, o.State} {
		if !filepath.IsAbs(d) {
			return nil, fmt.Errorf("the engine's directories must be absolute paths, not %q", d)
		}
	}
	for _, d := range []string{filepath.Join(o.Root, "containers"), filepath.Join(o.State, "containers"), filepath.Join(o.State, "runtime")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("open the engine's state: %w", err)
		}
	}
	imgs, err := image.Open(o.Root)
	if err != nil {
		return nil, err
	}
	vols, err := volume.Open(filepath.Join(o.Root, "volumes"))
	if err != nil {
		return nil, err
	}
	return &Engine{Options: o, Images: imgs, Volumes: vols, Networks: defaultNetworks()}, nil
}

// The engine's directories for one container:
//
//	<root>/containers/<id>/config.json       the record (Container), flock(2)ed while it changes
//	<root>/containers/<id>/<id>-json.log     the log, Docker's json-file format
//	<root>/containers/<id>/{init,upper,work} the init layer, upper and work dirs
//	<root>/containers/<id>/rootfs            the overlay, mounted while it runs
//	<root>/containers/<id>/bundle            the OCI bundle's config.json
//	<state>/containers/<short id>/           monitor.json and the sockets, named by the
//	                                         short ID so that a socket's path fits sun_path
func (e *Engine) dir(id string) string        { return filepath.Join(e.Root, "containers", id) }
func (e *Engine) runDir(id string) string     { return filepath.Join(e.State, "containers", Short(id)) }
func (e *Engine) recordPath(id string) string { return filepath.Join(e.dir(id), "config.json") }
func (e *Engine) rootfs(id string) string     { return filepath.Join(e.dir(id), "rootfs") }
func (e *Engine) bundle(id string) string     { return filepath.Join(e.dir(id), "bundle") }

// containersLock is held while a container is named: its ID and name are
// checked unique and its record appears, all at once.
func (e *Engine) containersLock() (func(), error) {
	return statefile.Lock(filepath.Join(e.Root, "containers"))
}

// load reads a container's record.
func (e *Engine) load(id string) (*Container, error) {
	var c Container
	if err := statefile.ReadJSON(e.recordPath(id), &c); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		return nil, err
	}
	return &c, nil
}

// save writes a container's record; the caller holds its lock.
func (e *Engine) save(c *Container) error {
	return statefile.WriteJSON(e.recordPath(c.ID), c, 0o600)
}

// lock takes a container's lock (its directory, flock(2)) and reads its
// record again. A container removed meanwhile is ErrNotFound: removal
// renames the directory away under the lock.
// lockRef is lock of the container ref names (a name, an ID or a prefix
// of one).
func (e *Engine) lockRef(ref string) (*Container, func(), error) {
	found, err := e.Lookup(ref)
	if err != nil {
		return nil, nil, err
	}
	return e.lock(found.ID)
}

func (e *Engine) lock(id string) (*Container, func(), error) {
	unlock, err := statefile.Lock(e.dir(id))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil, fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		return nil, nil, err
	}
	c, err := e.load(id)
	if err != nil {
		unlock()
		return nil, nil, err
	}
	return c, unlock, nil
}

// update changes a container's record under its lock.
func (e *Engine) update(id string, fn func(c *Container) error) (*Container, error) {
	c, unlock, err := e.lock(id)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := fn(c); err != nil {
		return c, err
	}
	return c, e.save(c)
}

// ids lists the containers' IDs, from their directories.
func (e *Engine) ids() ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(e.Root, "containers"))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, d := range ents {
		if d.IsDir() && len(d.Name()) == 64 && isHex(d.Name()) {
			out = append(out, d.Name())
		}
	}
	return out, nil
}

// List reads every container's record, newest first, repairing those
// whose monitor died (repair.go).
func (e *Engine) List() ([]*Container, error) {
	ids, err := e.ids()
	if err != nil {
		return nil, err
	}
	var out []*Container
	for _, id := range ids {
		c, err := e.load(id)
		if err != nil {
			continue // removed meanwhile, or not whole yet
		}
		out = append(out, e.repair(c))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, nil
}

// Lookup finds the container ref names, as Docker does: its full ID, its
// name, or a prefix of its ID that no other container's shares.
func (e *Engine) Lookup(ref string) (*Container, error) {
	ref = strings.TrimPrefix(ref, "/")
	if ref == "" {
		return nil, fmt.Errorf("%w: \"\"", ErrNotFound)
	}
	if len(ref) == 64 && isHex(ref) {
		if c, err := e.load(ref); err == nil {
			return e.repair(c), nil
		}
	}
	ids, err := e.ids()
	if err != nil {
		return nil, err
	}
	var byPrefix []string
	for _, id := range ids {
		c, err := e.load(id)
		if err != nil {
			continue
		}
		if c.Name == ref {
			return e.repair(c), nil
		}
		if isHex(ref) && strings.HasPrefix(id, ref) {
			byPrefix = append(byPrefix, id)
		}
	}
	switch len(byPrefix) {
	case 0:
		return nil, fmt.Errorf("%w: %s", ErrNotFound, ref)
	case 1:
		c, err := e.load(byPrefix[0])
		if err != nil {
			return nil, err
		}
		return e.repair(c), nil
	}
	return nil, fmt.Errorf("multiple containers match the ID prefix %s: give more digits", ref)
}

// imageUsers answers image.InUse from the records, read when asked (the
// image store asks under its collection lock): the names of the
// containers made from an image.
func (e *Engine) imageUsers(id digest.Digest) []string {
	cs, _ := e.List()
	var names []string
	for _, c := range cs {
		if c.Image == id {
			names = append(names, c.Name)
		}
	}
	return names
}

// Containers is `ps -a`'s list: every container, newest first, after the
// leftovers of interrupted commands are swept away and records whose
// monitor died repaired.
func (e *Engine) Containers(ctx context.Context) ([]*Container, error) {
	e.sweep(ctx)
	return e.List()
}
