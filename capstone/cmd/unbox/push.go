//go:build linux

package main

import (
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/urfave/cli/v2"

	"github.com/unboxlab/unbox/capstone/image"
)

func pushCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "push",
		Usage:     "upload an image to a registry",
		ArgsUsage: "[OPTIONS] NAME[:TAG]",
		Flags: []cli.Flag{
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
			e, err := g.engine()
			if err != nil {
				return err
			}
			o, view, err := g.transfer(c, g.stdout, fmt.Sprintf("The push refers to repository [%s]", pushRepo(r)))
			if err != nil {
				return err
			}
			res, err := e.Images.Push(c.Context, ref, o)
			view.done()
			if err != nil {
				return err
			}
			if c.Bool("quiet") {
				fmt.Fprintln(g.stdout, res.Name)
				return nil
			}
			fmt.Fprintf(g.stdout, "%s: digest: %s size: %d\n", r.Identifier(), res.Digest, res.Size)
			return nil
		},
	}
}

// pushRepo is the repository as `docker push` names it:
// "docker.io/library/busybox", "localhost:5000/app".
func pushRepo(r name.Reference) string {
	reg := r.Context().RegistryStr()
	if reg == name.DefaultRegistry {
		reg = image.DockerHub
	}
	return reg + "/" + r.Context().RepositoryStr()
}
