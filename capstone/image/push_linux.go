package image

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	digest "github.com/opencontainers/go-digest"
	"golang.org/x/sync/errgroup"
)

// PushResult is what a push did.
type PushResult struct {
	// Name is the reference pushed to, in full.
	Name string
	// Digest and Size are the manifest's, as the registry now has it
	// (`docker push`'s last line): pull by this digest gets these bytes.
	Digest digest.Digest
	Size   int64
	// Pushed and Existing count the layers uploaded and those the
	// registry had already.
	Pushed, Existing int
}

// Push uploads the image ref names to the registry the name is on, as
// `docker push` does: ref is both the local name and where it goes
// (`unbox tag` makes such a name for an image). Layers the repository has
// already are skipped and said so; the others go up o.jobs() at once;
// then the config and the manifest, byte for byte as the store has them,
// so that the image's digest is the same on both sides. Mirrors are for
// pulls: a push goes to the registry itself.
func (s *Store) Push(ctx context.Context, ref string, o RemoteOptions) (PushResult, error) {
	r, err := RemoteRef(ref)
	if err != nil {
		return PushResult{}, err
	}
	res := PushResult{Name: CanonicalName(r)}
	if _, ok := r.(name.Tag); !ok {
		return res, fmt.Errorf("push %s: push a tag, not a digest (`unbox tag IMAGE NAME:TAG` first)", ref)
	}
	local, err := s.Resolve(localName(r))
	if err != nil {
		return res, fmt.Errorf("push: an image does not exist locally with the tag %s (%w)", localName(r), err)
	}
	h, err := v1.NewHash(string(local.Descriptor.Digest))
	if err != nil {
		return res, err
	}
	img, err := layout.Path(s.layout.Dir()).Image(h)
	if err != nil {
		return res, fmt.Errorf("push %s: %w", res.Name, err)
	}
	host := r.Context().RegistryStr()
	ep := Endpoint{Host: host, Insecure: o.Registry.Insecure(host)}
	at, err := ep.at(r)
	if err != nil {
		return res, err
	}
	opts := o.remoteOptions(ctx, ep)
	layers, err := img.Layers()
	if err != nil {
		return res, err
	}
	exists, err := blobChecker(ctx, at.Context(), ep, Keychain{Dir: o.ConfigDir})
	if err != nil {
		return res, fmt.Errorf("push %s: %w", res.Name, err)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(o.jobs())
	var existing atomic.Int64
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return res, err
		}
		size, err := l.Size()
		if err != nil {
			return res, err
		}
		id := shortDigest(digest.Digest(d.String()))
		o.Progress.send(Event{ID: id, Status: StatusPreparing, Total: size})
		g.Go(func() error {
			ok, err := exists(gctx, d)
			if err != nil {
				return err
			}
			if ok {
				existing.Add(1)
				o.Progress.send(Event{ID: id, Status: StatusLayerExists, Current: size, Total: size})
				return nil
			}
			updates := make(chan v1.Update, 16)
			done := make(chan struct{})
			go func() {
				defer close(done)
				for u := range updates { // closed by WriteLayer when it returns
					o.Progress.send(Event{ID: id, Status: StatusPushing, Current: u.Complete, Total: size})
				}
			}()
			err = remote.WriteLayer(at.Context(), l, append(opts, remote.WithContext(gctx), remote.WithProgress(updates))...)
			<-done
			if err != nil {
				return fmt.Errorf("layer %s: %w", d, err)
			}
			o.Progress.send(Event{ID: id, Status: StatusPushed, Current: size, Total: size})
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return res, fmt.Errorf("push %s: %w", res.Name, needLogin(err, host))
	}
	if err := remote.Write(at, img, opts...); err != nil {
		return res, fmt.Errorf("push %s: %w", res.Name, needLogin(err, host))
	}
	res.Digest, res.Size = local.Descriptor.Digest, local.Descriptor.Size
	res.Existing = int(existing.Load())
	res.Pushed = len(layers) - res.Existing
	return res, nil
}

// blobChecker returns a function that asks the repository whether it has a
// blob (HEAD /v2/<repo>/blobs/<digest>, distribution-spec's "checking if
// content exists"), over one authenticated transport.
func blobChecker(ctx context.Context, repo name.Repository, ep Endpoint, kc authn.Keychain) (func(context.Context, v1.Hash) (bool, error), error) {
	auth, err := authn.Resolve(ctx, kc, repo)
	if err != nil {
		return nil, err
	}
	t, err := transport.NewWithContext(ctx, repo.Registry, auth, ep.transport(), []string{repo.Scope(transport.PushScope)})
	if err != nil {
		return nil, unauthorized(err)
	}
	client := &http.Client{Transport: t}
	return func(ctx context.Context, d v1.Hash) (bool, error) {
		u := fmt.Sprintf("https://%s/v2/%s/blobs/%s", repo.RegistryStr(), repo.RepositoryStr(), d)
		req, err := http.NewRequestWithContext(ctx, http.MethodHead, u, nil)
		if err != nil {
			return false, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	}, nil
}
