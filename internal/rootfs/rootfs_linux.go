package rootfs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// Source says where the fixture's programs come from.
type Source string

// The sources [Build] can take programs from.
const (
	// Auto takes busybox when the host has a static one, else host.
	Auto    Source = ""
	Busybox Source = "busybox"
	Host    Source = "host"
)

// Options tune [Build] and [Cached]; the zero value is what lessons want.
type Options struct {
	Source Source
	// CacheDir holds built root filesystems. Empty means
	// /var/lib/unbox/cache/rootfs as root, else the user's cache directory.
	CacheDir string
}

// Info describes a root filesystem that [Build] made.
type Info struct {
	Dir    string
	Source Source
	// Programs are the commands in /bin, sorted.
	Programs []string
}

// Build puts a small root filesystem at dst, which must not exist or be
// empty: a private copy of the cached tree, which the caller may change.
func Build(ctx context.Context, dst string, opts Options) (*Info, error) {
	cached, source, err := Cached(ctx, opts)
	if err != nil {
		return nil, err
	}
	if err := copyTree(cached, dst); err != nil {
		return nil, fmt.Errorf("copy root filesystem %s to %s: %w", cached, dst, err)
	}
	info := &Info{Dir: dst, Source: source}
	entries, err := os.ReadDir(filepath.Join(dst, "bin"))
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		info.Programs = append(info.Programs, e.Name())
	}
	return info, nil
}

// Cached builds the root filesystem into the cache, unless it is there
// already, and returns its directory and where its programs came from. The
// directory is shared: read it (package layer tars it), never write it.
func Cached(ctx context.Context, opts Options) (string, Source, error) {
	p, err := planFor(ctx, opts.Source)
	if err != nil {
		return "", "", err
	}
	cacheDir := opts.CacheDir
	if cacheDir == "" {
		if cacheDir, err = defaultCache(); err != nil {
			return "", "", err
		}
	}
	dir, err := p.build(cacheDir)
	return dir, p.source, err
}

func defaultCache() (string, error) {
	if os.Geteuid() == 0 {
		return "/var/lib/unbox/cache/rootfs", nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory for the root filesystem: %w (set $XDG_CACHE_HOME)", err)
	}
	return filepath.Join(d, "unbox", "rootfs"), nil
}
