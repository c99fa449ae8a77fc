package image

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"

	"github.com/unboxlab/unbox/internal/ocilayout"
)

// DefaultJobs is how many layers move at once, Docker's default
// (max-concurrent-downloads and -uploads are 3 and 5; one number here).
const DefaultJobs = 3

// RemoteOptions are what a pull or push needs besides the image.
type RemoteOptions struct {
	// ConfigDir holds config.json, the credentials (DefaultConfigDir).
	ConfigDir string
	// Registry is daemon.json's registry section: mirrors, insecure
	// registries.
	Registry RegistryConfig
	// Progress receives the layers' events; nil for none.
	Progress ProgressFunc
	// Jobs is how many layers move at once; 0 is DefaultJobs.
	Jobs int
}

func (o RemoteOptions) jobs() int {
	if o.Jobs > 0 {
		return o.Jobs
	}
	return DefaultJobs
}

// remoteOptions are go-containerregistry's options to reach ep.
func (o RemoteOptions) remoteOptions(ctx context.Context, ep Endpoint) []remote.Option {
	return []remote.Option{
		remote.WithContext(ctx), remote.WithAuthFromKeychain(Keychain{Dir: o.ConfigDir}),
		remote.WithTransport(ep.transport()), remote.WithJobs(o.jobs()),
	}
}

// PullOptions tune a pull.
type PullOptions struct {
	RemoteOptions
	// Platform picks the image out of a multi-platform index; nil is this
	// machine's (DefaultPlatform). Given, it must also be the platform of
	// a single-platform image.
	Platform *v1.Platform
}

// DefaultPlatform is this machine's platform, as an index names it.
func DefaultPlatform() v1.Platform {
	return v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
}

// ParsePlatform reads --platform: os/arch[/variant] ("linux/arm64/v8").
func ParsePlatform(s string) (*v1.Platform, error) {
	p, err := v1.ParsePlatform(s)
	if err != nil || p.OS == "" || p.Architecture == "" {
		return nil, fmt.Errorf("invalid platform %q: want os/arch[/variant], e.g. linux/amd64", s)
	}
	return p, nil
}

// PullResult is what a pull did.
type PullResult struct {
	Image Image
	// Name is the reference in full, as Docker prints it.
	Name string
	// Digest is what the registry calls the image: the index's digest for
	// a multi-platform image, else the manifest's (`docker pull`'s
	// "Digest:").
	Digest digest.Digest
	// From is the endpoint the image came from: a mirror, or the registry.
	From Endpoint
	// Fetched and Existing count the layers downloaded and those already
	// in the store.
	Fetched, Existing int
	// UpToDate: the image was in the store already, as the registry has it.
	UpToDate bool
}

// Pull fetches ref from its registry (or a mirror of it, in order) into
// the store, as `docker pull` does:
//
//  1. The manifest, or an index resolved to the platform asked for.
//  2. Each layer not already in the store, several at once, into a blob
//     file that is renamed into place only once its content's digest is
//     the one the manifest names (ocilayout.Layout.WriteBlob, with
//     go-containerregistry checking the digest as it reads): a pull cut
//     short leaves whole blobs, which the next one skips, and at most a
//     temporary file, which a prune removes.
//  3. The config and the manifest, byte for byte as the registry has them,
//     so that the digests stay the registry's.
//  4. The layers unpacked into snapshots (Store.Snapshots: the layer
//     extraction that is our security boundary), before the image has a
//     name: an image appears, named, only once it is whole and unpacked.
//
// Mirrors, then the registry, are tried in that order (Config.Endpoints).
// The store is held (Store.Hold) throughout, so a concurrent prune does
// not take the new blobs.
func (s *Store) Pull(ctx context.Context, ref string, o PullOptions) (PullResult, error) {
	r, err := RemoteRef(ref)
	if err != nil {
		return PullResult{}, err
	}
	platform := DefaultPlatform()
	if o.Platform != nil {
		platform = *o.Platform
	}
	release, err := s.Hold()
	if err != nil {
		return PullResult{}, err
	}
	defer release()
	// Any failure at a mirror, whatever the step (unreachable, no such
	// image, refused, a blob that is not what it should be), falls through
	// to the next endpoint, as Docker's does; the whole blobs a failed
	// attempt stored are kept, and skipped by the next.
	full := CanonicalName(r)
	var errs []error
	for _, ep := range o.Registry.Endpoints(r.Context().RegistryStr()) {
		res := PullResult{Name: full, From: ep}
		err := s.pullFrom(ctx, r, ep, platform, o, &res)
		if err == nil {
			return res, nil
		}
		if ctx.Err() != nil {
			return res, fmt.Errorf("pull %s: %w", full, ctx.Err())
		}
		errs = append(errs, fmt.Errorf("%s: %w", ep, needLogin(err, ep.Host)))
		if ep.Mirror {
			o.Progress.send(Event{Status: StatusMirrorFailed, Detail: fmt.Sprintf("%s: %v", ep.Host, err)})
		}
	}
	if len(errs) == 1 {
		return PullResult{Name: full}, fmt.Errorf("pull %s: %w", full, errors.Unwrap(errs[0]))
	}
	return PullResult{Name: full}, fmt.Errorf("pull %s: every endpoint failed:\n  %w", full, errors.Join(errs...))
}

// pullFrom is Pull from one endpoint, the steps of Pull's documentation.
func (s *Store) pullFrom(ctx context.Context, r name.Reference, ep Endpoint, platform v1.Platform, o PullOptions, res *PullResult) error {
	at, err := ep.at(r)
	if err != nil {
		return err
	}
	desc, err := remote.Get(at, append(o.remoteOptions(ctx, ep), remote.WithPlatform(platform))...)
	if err != nil {
		return err
	}
	img, err := desc.Image()
	if err != nil {
		return err
	}
	res.Digest = digest.Digest(desc.Digest.String())
	rawManifest, err := img.RawManifest()
	if err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	mt, err := img.MediaType()
	if err != nil {
		return err
	}
	if mt != types.OCIManifestSchema1 && mt != types.DockerManifestSchema2 {
		return fmt.Errorf("a %s manifest is not supported (want an OCI or Docker schema 2 image)", mt)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(rawManifest, &m); err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	rawConfig, err := img.RawConfigFile()
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if got := digest.FromBytes(rawConfig); got != m.Config.Digest || int64(len(rawConfig)) != m.Config.Size {
		return fmt.Errorf("the config's digest is %s; the manifest says %s: refused", got, m.Config.Digest)
	}
	var cfg ocispec.Image
	if err := json.Unmarshal(rawConfig, &cfg); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if o.Platform != nil && (cfg.OS != platform.OS || cfg.Architecture != platform.Architecture) {
		return fmt.Errorf("the image is for %s/%s, not the platform asked for (%s)", cfg.OS, cfg.Architecture, platform)
	}

	manifestDesc := ocispec.Descriptor{MediaType: string(mt), Digest: digest.FromBytes(rawManifest), Size: int64(len(rawManifest))}
	if err := s.fetchLayers(ctx, img, m.Layers, o, res); err != nil {
		return err
	}
	res.UpToDate = res.Fetched == 0 && s.hasBlob(manifestDesc) == nil
	if n := localName(r); n != "" && res.UpToDate {
		// Docker's "up to date" is the tag's: it named this image before.
		// A tag the registry moved to an image whose blobs are here (one
		// pushed from here) is a newer image for that name.
		prev, err := s.Resolve(n)
		res.UpToDate = err == nil && prev.Descriptor.Digest == manifestDesc.Digest
	}
	for _, b := range []struct {
		raw  []byte
		desc ocispec.Descriptor
	}{{rawConfig, m.Config}, {rawManifest, manifestDesc}} {
		if err := s.writeVerified(bytes.NewReader(b.raw), b.desc); err != nil {
			return err
		}
	}
	oi, err := s.layout.ImageOf(manifestDesc, res.Name)
	if err != nil {
		return err
	}
	if err := s.unpack(ctx, Image{Image: oi, ID: oi.Manifest.Config.Digest}, o.Progress); err != nil {
		return err
	}
	res.Image, err = s.Register(localName(r), manifestDesc)
	return err
}

// fetchLayers downloads the layers not in the store yet, o.jobs() at once.
func (s *Store) fetchLayers(ctx context.Context, img v1.Image, layers []ocispec.Descriptor, o PullOptions, res *PullResult) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(o.jobs())
	var todo []ocispec.Descriptor
	for _, d := range layers {
		if s.hasBlob(d) == nil {
			res.Existing++
			o.Progress.send(Event{ID: shortDigest(d.Digest), Status: StatusAlreadyExists, Total: d.Size, Current: d.Size})
			continue
		}
		todo = append(todo, d)
		o.Progress.send(Event{ID: shortDigest(d.Digest), Status: StatusWaiting, Total: d.Size})
	}
	for _, d := range todo {
		g.Go(func() error {
			h, err := v1.NewHash(string(d.Digest))
			if err != nil {
				return fmt.Errorf("layer %s: %w", d.Digest, err)
			}
			l, err := img.LayerByDigest(h)
			if err != nil {
				return fmt.Errorf("layer %s: %w", d.Digest, err)
			}
			rc, err := l.Compressed() // checks size and digest as it is read
			if err != nil {
				return fmt.Errorf("layer %s: %w", d.Digest, err)
			}
			defer rc.Close()
			id := shortDigest(d.Digest)
			cr := newCountingReader(ctxReader{gctx, rc}, func(n int64) {
				o.Progress.send(Event{ID: id, Status: StatusDownloading, Current: n, Total: d.Size})
			})
			if err := s.writeVerified(cr, d); err != nil {
				return err
			}
			o.Progress.send(Event{ID: id, Status: StatusDownloaded, Current: d.Size, Total: d.Size})
			return nil
		})
	}
	err := g.Wait()
	if err == nil {
		res.Fetched = len(todo)
	}
	return err
}

// writeVerified stores r as the blob desc names. Its size and digest must
// be desc's: go-containerregistry checks a layer as it reads it (an error
// at the end, before ocilayout's WriteBlob renames the blob to its name),
// and the digest of what was written is checked again here: a blob that
// is not desc's is an error, stored under its own digest where nothing
// names it (a prune collects it).
func (s *Store) writeVerified(r io.Reader, desc ocispec.Descriptor) error {
	if s.hasBlob(desc) == nil {
		return nil
	}
	// One byte past the size: more than that is an error, not a truncation.
	got, err := s.layout.WriteBlob(io.LimitReader(r, desc.Size+1), desc.MediaType)
	if err != nil {
		return fmt.Errorf("blob %s: %w", desc.Digest, err)
	}
	if got.Digest != desc.Digest || got.Size != desc.Size {
		return fmt.Errorf("blob %s: %d bytes whose digest is %s; the manifest says %d bytes: refused", desc.Digest, got.Size, got.Digest, desc.Size)
	}
	return nil
}

// unpack unpacks img's layers into snapshots, saying so per layer.
func (s *Store) unpack(ctx context.Context, img Image, p ProgressFunc) error {
	var fresh []ocilayout.Layer
	for _, l := range img.Layers() {
		if err := l.DiffID.Validate(); err == nil {
			if _, err := os.Lstat(s.SnapshotDir(l.DiffID)); err != nil {
				fresh = append(fresh, l)
				p.send(Event{ID: shortDigest(l.Descriptor.Digest), Status: StatusExtracting, Total: l.Descriptor.Size})
			}
		}
	}
	if _, err := s.Snapshots(ctx, img); err != nil {
		return err
	}
	for _, l := range fresh {
		p.send(Event{ID: shortDigest(l.Descriptor.Digest), Status: StatusPullComplete, Current: l.Descriptor.Size, Total: l.Descriptor.Size})
	}
	return nil
}

// ctxReader stops reading once ctx is done: an interrupted pull stops
// between two reads of a layer, not after it.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
