//go:build linux

package main

import (
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/unboxlab/unbox/capstone/build"
	"github.com/unboxlab/unbox/capstone/engine"
	"github.com/unboxlab/unbox/capstone/image"
)

func imagesCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "images",
		Usage:     "list images",
		ArgsUsage: "[OPTIONS] [REPOSITORY[:TAG]]",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "show the intermediate images of builds too"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "only show image IDs"},
			&cli.BoolFlag{Name: "no-trunc", Usage: "don't truncate output"},
			&cli.StringFlag{Name: "format", Usage: "json: one JSON object per image"},
		},
		Action: func(c *cli.Context) error { return g.listImages(c) },
	}
}

// listImages is `unbox images` and `unbox image ls`: a row per name (or
// one <none> row for an image without), newest first.
func (g *globals) listImages(c *cli.Context) error {
	e, err := g.engine()
	if err != nil {
		return err
	}
	imgs, err := e.Images.List()
	if err != nil {
		return err
	}
	filter := c.Args().First()
	var steps map[string]bool
	if !c.Bool("all") {
		steps = build.Intermediate(e.Root)
	}
	now := time.Now()
	var rows [][]string
	seen := map[string]bool{}
	for _, img := range imgs {
		id := img.ShortID()
		if c.Bool("no-trunc") {
			id = string(img.ID)
		}
		names := img.Names
		if len(names) == 0 && steps[string(img.ID)] {
			continue
		}
		if len(names) == 0 {
			names = []string{"<none>:<none>"}
		}
		for _, n := range names {
			repo, tag := n, "<none>"
			if i := strings.LastIndexByte(n, ':'); i > strings.LastIndexByte(n, '/') {
				repo, tag = n[:i], n[i+1:]
			}
			if filter != "" && repo != filter && n != filter {
				if r, err := image.ParseRef(filter); err != nil || r.String() != n {
					continue
				}
			}
			if c.Bool("quiet") {
				if !seen[id] {
					g.stdout.Write([]byte(id + "\n"))
					seen[id] = true
				}
				continue
			}
			if c.String("format") == "json" {
				jsonLine(g.stdout, map[string]string{
					"ID": id, "Repository": repo, "Tag": tag, "CreatedSince": engine.Ago(img.Created(), now),
					"CreatedAt": img.Created().Local().Format("2006-01-02 15:04:05 -0700 MST"), "Size": engine.HumanSize(img.Size()),
				})
				continue
			}
			rows = append(rows, []string{repo, tag, id, engine.Ago(img.Created(), now), engine.HumanSize(img.Size())})
		}
	}
	if !c.Bool("quiet") && c.String("format") != "json" {
		table(g.stdout, []string{"REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"}, rows)
	}
	return nil
}

func rmiCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "rmi",
		Usage:     "remove one or more images",
		ArgsUsage: "[OPTIONS] IMAGE [IMAGE...]",
		Flags:     []cli.Flag{&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "remove the image's names even if it has several, or is used by a container (it stays until the container goes)"}},
		Action:    func(c *cli.Context) error { return g.removeImages(c) },
	}
}

func (g *globals) removeImages(c *cli.Context) error {
	if err := needArgs(c, 1); err != nil {
		return err
	}
	e, err := g.engine()
	if err != nil {
		return err
	}
	failed := false
	for _, ref := range c.Args().Slice() {
		rm, err := e.RemoveImage(ref, c.Bool("force"))
		if err != nil {
			g.printErr(err)
			failed = true
			continue
		}
		for _, r := range rm {
			g.stdout.Write([]byte(r.String() + "\n"))
		}
	}
	if failed {
		return errSilent
	}
	return nil
}

func tagCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "tag",
		Usage:     "create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
		ArgsUsage: "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
		Action:    func(c *cli.Context) error { return g.tagImage(c) },
	}
}

func (g *globals) tagImage(c *cli.Context) error {
	if err := exactArgs(c, 2); err != nil {
		return err
	}
	e, err := g.engine()
	if err != nil {
		return err
	}
	_, err = e.Images.Tag(c.Args().Get(0), c.Args().Get(1))
	return err
}

func historyCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "history",
		Usage:     "show the history of an image",
		ArgsUsage: "[OPTIONS] IMAGE",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "no-trunc", Usage: "don't truncate output"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "only show image IDs"},
		},
		Action: func(c *cli.Context) error { return g.imageHistory(c) },
	}
}

func (g *globals) imageHistory(c *cli.Context) error {
	if err := exactArgs(c, 1); err != nil {
		return err
	}
	e, err := g.engine()
	if err != nil {
		return err
	}
	img, err := e.Images.Resolve(c.Args().First())
	if err != nil {
		return err
	}
	now := time.Now()
	var rows [][]string
	for i, st := range img.History() {
		id := "<missing>"
		if i == 0 {
			id = img.ShortID()
			if c.Bool("no-trunc") {
				id = string(img.ID)
			}
		}
		if c.Bool("quiet") {
			g.stdout.Write([]byte(id + "\n"))
			continue
		}
		by := st.CreatedBy
		if !c.Bool("no-trunc") {
			by = truncate(by, 45)
		}
		rows = append(rows, []string{id, engine.Ago(st.Created, now), by, engine.HumanSize(st.Size), st.Comment})
	}
	if !c.Bool("quiet") {
		table(g.stdout, []string{"IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"}, rows)
	}
	return nil
}
