//go:build linux

package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/urfave/cli/v2"

	"github.com/unboxlab/unbox/capstone/engine"
	"github.com/unboxlab/unbox/capstone/image"
)

func imageCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:  "image",
		Usage: "manage images",
		Subcommands: []*cli.Command{
			{
				Name:      "import",
				Usage:     "import the contents of a tarball (a file system) as an image",
				ArgsUsage: "[OPTIONS] file|- [REPOSITORY[:TAG]]",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "message", Aliases: []string{"m"}, Usage: "commit message for the imported image"},
					&cli.StringSliceFlag{Name: "change", Aliases: []string{"c"}, Usage: "apply a Dockerfile instruction to the image's config"},
				},
				Action: func(c *cli.Context) error { return g.importImage(c) },
			},
			{Name: "inspect", Usage: "show an image's details, as JSON", ArgsUsage: "IMAGE [IMAGE...]", Action: func(c *cli.Context) error {
				return g.inspectEach(c, func(e *engine.Engine, ref string) (any, error) {
					img, err := e.Images.Resolve(ref)
					if err != nil {
						return nil, err
					}
					return imageJSON(img), nil
				})
			}},
			{
				Name:  "prune",
				Usage: "remove unused images: those without a name (all unused with -a)",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "remove all images no container uses"},
					&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "do not prompt for confirmation (there is no prompt)"},
				},
				Action: func(c *cli.Context) error {
					e, err := g.engine()
					if err != nil {
						return err
					}
					rm, freed, err := e.PruneImages(c.Bool("all"))
					if err != nil {
						return err
					}
					if len(rm) > 0 {
						fmt.Fprintln(g.stdout, "Deleted Images:")
						for _, r := range rm {
							fmt.Fprintln(g.stdout, strings.ToLower(r.String()[:1])+r.String()[1:])
						}
						fmt.Fprintln(g.stdout)
					}
					fmt.Fprintf(g.stdout, "Total reclaimed space: %s\n", engine.HumanSize(freed))
					return nil
				},
			},
			{Name: "ls", Usage: "list images", Flags: imagesCommand(g).Flags, Action: func(c *cli.Context) error { return g.listImages(c) }},
			{Name: "rm", Usage: "remove one or more images", ArgsUsage: "IMAGE [IMAGE...]", Flags: rmiCommand(g).Flags, Action: func(c *cli.Context) error { return g.removeImages(c) }},
			{Name: "tag", Usage: "create a tag TARGET_IMAGE that refers to SOURCE_IMAGE", ArgsUsage: "SOURCE TARGET", Action: func(c *cli.Context) error { return g.tagImage(c) }},
			{Name: "history", Usage: "show the history of an image", ArgsUsage: "IMAGE", Flags: historyCommand(g).Flags, Action: func(c *cli.Context) error { return g.imageHistory(c) }},
			pullCommand(g), pushCommand(g), saveCommand(g), loadCommand(g), buildCommand(g),
		},
	}
}

// importImage is `unbox image import`: a file system tarball as a
// one-layer image.
func (g *globals) importImage(c *cli.Context) error {
	if c.NArg() < 1 || c.NArg() > 2 {
		return usageError(c, "requires at least 1 and at most 2 arguments.")
	}
	if ref := c.Args().Get(1); ref != "" {
		if _, err := image.ParseRef(ref); err != nil {
			return err
		}
	}
	var cfg ocispec.ImageConfig
	for _, ch := range c.StringSlice("change") {
		if err := engine.ApplyChange(&cfg, ch); err != nil {
			return err
		}
	}
	e, err := g.engine()
	if err != nil {
		return err
	}
	var r io.Reader = g.stdin
	src := c.Args().First()
	if src != "-" {
		f, err := os.Open(src)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	img, err := e.Images.Import(r, image.ImportOptions{Ref: c.Args().Get(1), Config: cfg, Comment: c.String("message"), Source: src})
	if err != nil {
		return err
	}
	fmt.Fprintln(g.stdout, img.ID)
	return nil
}
