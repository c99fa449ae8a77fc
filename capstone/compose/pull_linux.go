package compose

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/unboxlab/unbox/capstone/image"
)

// isBuiltin: ref names the built-in image, which is made on this machine
// (image.Store.Get), never pulled.
func isBuiltin(ref string) bool {
	r, err := image.ParseRef(ref)
	return err == nil && r.String() == image.Builtin
}

// ensureImage makes sure a service's image is here before its container
// is made, as Compose does (pkg/compose's ensureImagesExists):
//
//   - with build (`up --build`) or pull_policy build, a service with a
//     build section is built;
//   - else the image is had by image.Store.Ensure, the decision run and
//     create take too: pulled when the policy is always, or missing and
//     the image is not here; the built-in image is made here;
//   - a service with a build section is built when its image is missing
//     or could not be pulled (a failed pull of an image that is here
//     keeps that image, KeepLocal);
//   - else a missing image is an error that names the policy.
//
// A service with a build section and no image key has a name of its own
// (ImageName) that no registry holds: it is never pulled.
func (c *Compose) ensureImage(ctx context.Context, s types.ServiceConfig, build bool, pull string) (image.Image, error) {
	policy, err := pullPolicy(s, pull)
	if err != nil {
		return image.Image{}, err
	}
	if s.Build != nil && (build || policy == types.PullPolicyBuild) {
		return c.build(ctx, s, buildOptions{})
	}
	o := image.EnsureOptions{Policy: image.PullPolicy(policy), KeepLocal: s.Build != nil, Pull: c.puller(s.Name)}
	if s.Image == "" {
		o.Policy = image.PullNever
	}
	img, err := c.E.Images.Ensure(ctx, ImageName(c.P, s), o)
	switch {
	case err == nil:
		return img, nil
	case s.Build != nil:
		return c.build(ctx, s, buildOptions{})
	case errors.Is(err, image.ErrNotFound):
		return img, fmt.Errorf("service %q: %w, and its pull_policy is %s", s.Name, err, policy)
	}
	return img, fmt.Errorf("service %q: %w", s.Name, err)
}

// puller is image.EnsureOptions.Pull for service: pull, in Compose's
// lines.
func (c *Compose) puller(service string) func(context.Context, string, bool) error {
	return func(ctx context.Context, ref string, _ bool) error { return c.pull(ctx, service, ref) }
}

// remote is what a pull needs: Remote's, or the default configuration's.
func (c *Compose) remote() (image.RemoteOptions, error) {
	if c.Remote != nil {
		return c.Remote()
	}
	rc, err := image.LoadRegistryConfig(image.DefaultConfigDir)
	return image.RemoteOptions{ConfigDir: image.DefaultConfigDir, Registry: rc}, err
}

// pull pulls ref for service, in Compose's lines: " Image busybox
// Pulling", then "Pulled", or "Error" and why. An image that another
// service had pulled by this command is not pulled again, and is said to
// be, as Compose says it.
func (c *Compose) pull(ctx context.Context, service, ref string) error {
	if by, ok := c.pulled[ref]; ok {
		c.progress("Image", ref, "Skipped - Image is already being pulled by "+by)
		return nil
	}
	o, err := c.remote()
	if err != nil {
		return err
	}
	if c.pulled == nil {
		c.pulled = map[string]string{}
	}
	c.pulled[ref] = service
	c.progress("Image", ref, "Pulling")
	if _, err := c.E.Images.Pull(ctx, ref, image.PullOptions{RemoteOptions: o}); err != nil {
		c.progress("Image", ref, "Error "+err.Error())
		return err
	}
	c.progress("Image", ref, "Pulled")
	return nil
}

// PullOptions are `compose pull`'s.
type PullOptions struct {
	Services []string
	// Policy, if set, is every service's pull_policy (--policy): always
	// or missing.
	Policy string
	// IgnoreFailures reports a failed pull and goes on, with no error.
	IgnoreFailures bool
	// IgnoreBuildable skips the services that have a build section.
	IgnoreBuildable bool
}

// Pull pulls the services' images (`compose pull`), one line per image
// as Compose prints them: a service without an image key (built only)
// is skipped, as are pull_policy never and build, missing with the image
// here, and the built-in image, which is made here instead. Unlike
// `up`, an unset pull_policy pulls, as Compose's pull does. Every image
// is tried; the failures are the error, unless IgnoreFailures.
func (c *Compose) Pull(ctx context.Context, o PullOptions) error {
	order, err := c.selected(o.Services, false)
	if err != nil {
		return err
	}
	var errs []error
	var mustBuild []string
	for _, n := range order {
		s := c.P.Services[n]
		if o.Policy != "" {
			s.PullPolicy = o.Policy
		}
		if s.Image == "" {
			c.progress("Service", n, "Skipped - No image to be pulled")
			continue
		}
		if isBuiltin(s.Image) {
			if _, err := c.E.Images.Get(ctx, s.Image); err != nil {
				return err
			}
			c.progress("Image", s.Image, "Skipped - Made on this machine")
			continue
		}
		if skip := c.pullSkip(s, o.IgnoreBuildable); skip != "" {
			c.progress("Image", s.Image, skip)
			continue
		}
		if err := c.pull(ctx, n, s.Image); err != nil {
			errs = append(errs, fmt.Errorf("service %q: %w", n, err))
			if s.Build != nil {
				mustBuild = append(mustBuild, n)
			}
		}
	}
	if len(mustBuild) > 0 {
		fmt.Fprintf(c.Out, "WARNING: Some service image(s) must be built from source by running:\n    unbox compose build %s\n", strings.Join(mustBuild, " "))
	}
	if o.IgnoreFailures {
		return nil
	}
	return errors.Join(errs...)
}

// pullSkip is why `compose pull` skips s's image, as Compose words it, or
// "" to pull it.
func (c *Compose) pullSkip(s types.ServiceConfig, ignoreBuildable bool) string {
	switch s.PullPolicy {
	case types.PullPolicyNever, types.PullPolicyBuild:
		return "Skipped"
	case types.PullPolicyMissing, types.PullPolicyIfNotPresent:
		if _, err := c.E.Images.Resolve(s.Image); err == nil {
			return "Skipped - Image is already present locally"
		}
	}
	if s.Build != nil && ignoreBuildable {
		return "Skipped - Image can be built"
	}
	return ""
}
