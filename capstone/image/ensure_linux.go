package image

import (
	"context"
	"errors"
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// EnsureOptions say how Store.Ensure has an image: when to pull it, for
// which platform, and how (the caller's pull, which shows the progress
// its own way).
type EnsureOptions struct {
	// Policy is when to pull; "" is PullMissing.
	Policy PullPolicy
	// Platform, if set, is the platform wanted: a local image of another
	// counts as missing, as the Docker daemon counts it. Pull must pull
	// this platform.
	Platform *v1.Platform
	// KeepLocal: a pull that fails, of an image that is here, is no
	// error: the local image is used (PullNewer sets it; Compose does it
	// for a service that could be built).
	KeepLocal bool
	// Pull pulls ref: `unbox pull`'s lines for run, create and build,
	// Compose's for compose. missing says the image was not here (run's
	// "Unable to find image ... locally"). nil is Store.Pull with
	// Platform, anonymously, with no mirrors and no progress.
	Pull func(ctx context.Context, ref string, missing bool) error
}

// Ensure is the image ref names, pulled first if the policy says so. It
// is the one place that decides, for run, create, compose and build
// (Docker's CLI in cli/command/container/create.go, Compose's
// ensureImagesExists, a build's FROM):
//
//   - missing (the default): an image that is not here is pulled;
//   - always: it is pulled in any case (an up-to-date image moves no
//     layer);
//   - newer: as always, but a failed pull falls back on the local image;
//   - never: a missing image is ErrNotFound.
//
// The built-in image is never pulled: it is made here (Store.Get). A
// reference no registry could hold (an image ID) is never pulled either.
// After a pull the image is looked up again by ref, so the caller gets
// what the pull stored.
func (s *Store) Ensure(ctx context.Context, ref string, o EnsureOptions) (Image, error) {
	if r, err := ParseRef(ref); err == nil && r.String() == Builtin {
		return s.Get(ctx, ref)
	}
	img, missing := s.Resolve(ref)
	if missing != nil && !errors.Is(missing, ErrNotFound) {
		return img, missing
	}
	if missing == nil && o.Platform != nil && !platformIs(img, *o.Platform) {
		cfg := img.Config.Image
		missing = fmt.Errorf("%w: image with reference %s was found but does not match the specified platform: wanted %s, actual: %s",
			ErrNotFound, ref, o.Platform, strings.Trim(cfg.OS+"/"+cfg.Architecture+"/"+cfg.Variant, "/"))
	}
	switch o.Policy {
	case PullNever:
		return img, missing
	case PullMissing, "":
		if missing == nil {
			return img, nil
		}
	case PullNewer:
		o.KeepLocal = true
	}
	if _, err := RemoteRef(ref); err != nil {
		return img, missing // an ID: there is nothing to pull it by
	}
	pull := o.Pull
	if pull == nil {
		pull = func(ctx context.Context, ref string, _ bool) error {
			_, err := s.Pull(ctx, ref, PullOptions{Platform: o.Platform})
			return err
		}
	}
	if err := pull(ctx, ref, missing != nil); err != nil {
		if o.KeepLocal && missing == nil {
			return img, nil
		}
		return Image{}, err
	}
	return s.Resolve(ref)
}

// platformIs says whether img is for platform p (its variant only if p
// names one).
func platformIs(img Image, p v1.Platform) bool {
	cfg := img.Config.Image
	return cfg.OS == p.OS && cfg.Architecture == p.Architecture && (p.Variant == "" || cfg.Variant == p.Variant)
}
