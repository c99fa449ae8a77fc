//go:build linux

package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/urfave/cli/v2"

	"github.com/unboxlab/unbox/capstone/image"
)

func pullCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "pull",
		Usage:     "download an image from a registry",
		ArgsUsage: "[OPTIONS] NAME[:TAG|@DIGEST]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "platform", Usage: "the platform to pull from a multi-platform image: os/arch[/variant] (this machine's by default)"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "suppress verbose output"},
		},
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 1); err != nil {
				return err
			}
			platform, err := platformFlag(c)
			if err != nil {
				return err
			}
			res, err := g.pull(c, g.stdout, c.Args().First(), platform)
			if err != nil {
				return err
			}
			fmt.Fprintln(g.stdout, res.Name)
			return nil
		},
	}
}

// platformFlag is --platform, or nil for this machine's.
func platformFlag(c *cli.Context) (*v1.Platform, error) {
	if p := c.String("platform"); p != "" {
		return image.ParsePlatform(p)
	}
	return nil, nil
}

// pull pulls ref as `docker pull` shows it, on w: the header, the layers'
// progress, then the digest and the status (nothing with --quiet). `pull`
// prints the full name after it; `run` and `create` pull through it too,
// on stderr, when their image is missing (pullFor).
func (g *globals) pull(c *cli.Context, w io.Writer, ref string, platform *v1.Platform) (image.PullResult, error) {
	r, err := image.RemoteRef(ref)
	if err != nil {
		return image.PullResult{}, err
	}
	e, err := g.engine()
	if err != nil {
		return image.PullResult{}, err
	}
	o := image.PullOptions{Platform: platform}
	var view *progressView
	o.RemoteOptions, view, err = g.transfer(c, w, fmt.Sprintf("%s: Pulling from %s", r.Identifier(), familiarRepo(r)))
	if err != nil {
		return image.PullResult{}, err
	}
	res, err := e.Images.Pull(c.Context, ref, o)
	view.done()
	if err != nil || c.Bool("quiet") {
		return res, err
	}
	status := "Downloaded newer image for "
	if res.UpToDate {
		status = "Image is up to date for "
	}
	fmt.Fprintf(w, "Digest: %s\n", res.Digest)
	if res.From.Mirror {
		fmt.Fprintf(w, "From: %s\n", res.From)
	}
	fmt.Fprintf(w, "Status: %s%s\n", status, familiar(res.Name))
	return res, nil
}

// familiarRepo is the repository as `docker pull` names it in its first
// line: its path, without the registry ("library/busybox", "app" for
// localhost:5000/app).
func familiarRepo(r name.Reference) string { return r.Context().RepositoryStr() }

// familiar is a full name as Docker shows it: "busybox:latest".
func familiar(full string) string {
	n, tag, _ := strings.Cut(full, "@")
	if tag != "" {
		return image.FamiliarName(n) + "@" + tag
	}
	if i := strings.LastIndexByte(n, ':'); i > strings.LastIndexByte(n, '/') {
		return image.FamiliarName(n[:i]) + n[i:]
	}
	return image.FamiliarName(n)
}

// --pull's values, Docker's (docker run --pull).
const (
	pullMissing = "missing"
	pullAlways  = "always"
	pullNever   = "never"
)

// pullFlags are run's and create's flags for their image: when to pull
// it, which platform, and quiet.
func pullFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "pull", Value: pullMissing, Usage: `pull the image before creating the container: "always", "missing" (when it is not here) or "never"`},
		&cli.StringFlag{Name: "platform", Usage: "the image's platform, os/arch[/variant]: a local image of another is pulled again for this one"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "suppress the pull output"},
	}
}

// pullFor makes sure run's or create's image is here before the container
// is made, as Docker's CLI does (cli/command/container/create.go): with
// --pull missing, an image not in the store is announced ("Unable to
// find image 'busybox:latest' locally") and pulled, its progress on stderr
// as `unbox pull` shows it; with always it is pulled in any case (an image
// already up to date moves no layer); with never a missing image is the
// error the engine gives ("no such image"). A local image of another
// platform than --platform counts as missing, as the Docker daemon counts
// it. The built-in image is never pulled: Create makes it on first use.
// A failed pull is the command's error, before anything is made.
func (g *globals) pullFor(c *cli.Context, ref string) error {
	policy := c.String("pull")
	if policy != pullMissing && policy != pullAlways && policy != pullNever {
		return fmt.Errorf(`invalid pull option: '%s': must be one of "always", "missing" or "never"`, policy)
	}
	platform, err := platformFlag(c)
	if err != nil {
		return err
	}
	if r, err := image.ParseRef(ref); err == nil && r.String() == image.Builtin {
		return nil
	}
	e, err := g.engine()
	if err != nil {
		return err
	}
	img, missing := e.Images.Resolve(ref)
	if missing != nil && !errors.Is(missing, image.ErrNotFound) {
		return missing
	}
	if missing == nil && platform != nil {
		cfg := img.Config.Image
		if cfg.OS != platform.OS || cfg.Architecture != platform.Architecture || (platform.Variant != "" && cfg.Variant != platform.Variant) {
			missing = fmt.Errorf("%w: image with reference %s was found but does not match the specified platform: wanted %s, actual: %s",
				image.ErrNotFound, ref, platform, strings.Trim(cfg.OS+"/"+cfg.Architecture+"/"+cfg.Variant, "/"))
		}
	}
	switch {
	case policy == pullNever || (policy == pullMissing && missing == nil):
		return missing
	case policy == pullMissing:
		r, err := image.RemoteRef(ref)
		if err != nil {
			// Not a name a registry has (an ID that is not here).
			return missing
		}
		if !c.Bool("quiet") {
			fmt.Fprintf(g.stderr, "Unable to find image '%s' locally\n", familiar(image.CanonicalName(r)))
		}
	}
	_, err = g.pull(c, g.stderr, ref, platform)
	return err
}
