//go:build linux

package main

import (
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
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
			ref := c.Args().First()
			r, err := image.RemoteRef(ref)
			if err != nil {
				return err
			}
			var o image.PullOptions
			if p := c.String("platform"); p != "" {
				if o.Platform, err = image.ParsePlatform(p); err != nil {
					return err
				}
			}
			e, err := g.engine()
			if err != nil {
				return err
			}
			var view *progressView
			o.RemoteOptions, view, err = g.transfer(c, fmt.Sprintf("%s: Pulling from %s", r.Identifier(), familiarRepo(r)))
			if err != nil {
				return err
			}
			res, err := e.Images.Pull(c.Context, ref, o)
			view.done()
			if err != nil {
				return err
			}
			if c.Bool("quiet") {
				fmt.Fprintln(g.stdout, res.Name)
				return nil
			}
			status := "Downloaded newer image for "
			if res.UpToDate {
				status = "Image is up to date for "
			}
			fmt.Fprintf(g.stdout, "Digest: %s\n", res.Digest)
			if res.From.Mirror {
				fmt.Fprintf(g.stdout, "From: %s\n", res.From)
			}
			fmt.Fprintf(g.stdout, "Status: %s%s\n%s\n", status, familiar(res.Name), res.Name)
			return nil
		},
	}
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
