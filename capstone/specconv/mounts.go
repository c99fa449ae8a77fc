//go:build linux

package specconv

import (
	"fmt"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/capstone/container"
	"github.com/unboxlab/unbox/internal/mount"
)

// perMountFlags are the flags a mount has of its own, which a bind mount
// sets in a second call (mount(2), "Creating a bind mount").
const perMountFlags = unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC

// convertMounts turns the spec's mounts into mount(2) calls as data. A bind
// mount's relative source is relative to the bundle; targets stay as the
// spec gives them and are resolved inside the root when applied.
func convertMounts(bundle string, ms []specs.Mount) ([]container.Mount, error) {
	out := make([]container.Mount, 0, len(ms))
	for i, m := range ms {
		c, err := convertMount(bundle, m)
		if err != nil {
			return nil, fmt.Errorf("mounts[%d] (%s): %w", i, m.Destination, err)
		}
		out = append(out, c)
	}
	return out, nil
}

func convertMount(bundle string, m specs.Mount) (container.Mount, error) {
	if !filepath.IsAbs(m.Destination) {
		return container.Mount{}, fmt.Errorf("destination %q is not an absolute path", m.Destination)
	}
	if len(m.UIDMappings)+len(m.GIDMappings) > 0 {
		return container.Mount{}, fmt.Errorf("uidMappings/gidMappings: idmapped mounts are not supported by unbox-runtime")
	}
	p, err := parseMountOptions(m.Options)
	if err != nil {
		return container.Mount{}, err
	}
	c := container.Mount{
		Mount: mount.Mount{
			Source: m.Source,
			Target: filepath.Clean(m.Destination),
			Type:   m.Type,
			Flags:  p.flags,
			Data:   strings.Join(p.data, ","),
		},
		Propagation: p.propagation,
	}
	switch {
	case m.Type == "bind" || p.flags&unix.MS_BIND != 0:
		// containerd writes type "bind"; runc takes the options alone.
		c.Type = ""
		c.Flags |= unix.MS_BIND
		if c.Source == "" {
			return c, fmt.Errorf("a bind mount needs a source")
		}
		if !filepath.IsAbs(c.Source) {
			c.Source = filepath.Join(bundle, c.Source)
		}
		// runc's reading, which Kubernetes' non-recursive read-only
		// volumes rely on: "rbind,ro" makes the bind read-only, not the
		// mounts below it; "rro" makes them all read-only.
		if c.Flags&unix.MS_REC != 0 {
			c.TopFlags = c.Flags & perMountFlags &^ p.recursive
			c.Flags &^= c.TopFlags
		}
	case m.Type == "cgroup" || m.Type == "cgroup2":
		c.Cgroup = true
	case m.Type == "":
		return c, fmt.Errorf("no type, and not a bind mount: name the filesystem (tmpfs, proc, ...) or add the option \"bind\"")
	}
	return c, nil
}
