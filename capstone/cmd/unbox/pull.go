//go:build linux

package main

import (
	"context"
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

// pullFlags are run's and create's flags for their image: when to pull
// it, which platform, and quiet.
func pullFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "pull", Value: string(image.PullMissing), Usage: `pull the image before creating the container: "always", "missing" (when it is not here) or "never"`},
		&cli.StringFlag{Name: "platform", Usage: "the image's platform, os/arch[/variant]: a local image of another is pulled again for this one"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "suppress the pull output"},
	}
}

// pullFor makes sure run's or create's image is here before the container
// is made, as Docker's CLI does (cli/command/container/create.go): the
// decision is image.Store.Ensure's (--pull missing, always or never; a
// local image of another platform than --platform counts as missing; the
// built-in image is never pulled), the pull is `unbox pull`'s on stderr,
// after "Unable to find image 'busybox:latest' locally" for an image
// that is not here. A failed pull is the command's error, before anything
// is made.
func (g *globals) pullFor(c *cli.Context, ref string) error {
	o, err := g.ensureOptions(c, c.String("pull"), true)
	if err != nil {
		return err
	}
	e, err := g.engine()
	if err != nil {
		return err
	}
	_, err = e.Images.Ensure(c.Context, ref, o)
	return err
}

// ensureOptions are image.Store.Ensure's options from a command's
// --pull value and --platform flag (if it has one), with `unbox pull`'s
// view of the pull on stderr (none with --quiet); announce says first
// that an image was not here, as run and create do (a build does not:
// Docker's shows the pull under its FROM step).
func (g *globals) ensureOptions(c *cli.Context, pull string, announce bool) (image.EnsureOptions, error) {
	policy, err := image.ParsePullPolicy(pull)
	if err != nil {
		return image.EnsureOptions{}, err
	}
	platform, err := platformFlag(c)
	if err != nil {
		return image.EnsureOptions{}, err
	}
	return image.EnsureOptions{Policy: policy, Platform: platform, Pull: func(_ context.Context, ref string, missing bool) error {
		if r, err := image.RemoteRef(ref); err == nil && missing && announce && !c.Bool("quiet") {
			fmt.Fprintf(g.stderr, "Unable to find image '%s' locally\n", familiar(image.CanonicalName(r)))
		}
		_, err := g.pull(c, g.stderr, ref, platform)
		return err
	}}, nil
}
