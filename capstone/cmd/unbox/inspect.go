//go:build linux

package main

import (
	"fmt"
	"time"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/urfave/cli/v2"

	"github.com/unboxlab/unbox/capstone/engine"
	"github.com/unboxlab/unbox/capstone/image"
	"github.com/unboxlab/unbox/internal/volume"
)

func inspectCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "inspect",
		Usage:     "return low-level information on containers, images, volumes or networks, as JSON",
		ArgsUsage: "[OPTIONS] NAME|ID [NAME|ID...]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "type", Usage: "only this kind: container, image, volume or network"},
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Usage: "print each with a Go template instead of JSON, e.g. '{{.State.Health.Status}}'"},
		},
		Action: func(c *cli.Context) error {
			typ := c.String("type")
			return g.inspectEach(c, func(e *engine.Engine, ref string) (any, error) { return inspectOne(e, ref, typ) })
		},
	}
}

// inspectOne finds ref among containers, then images, volumes, networks, as
// docker inspect does.
func inspectOne(e *engine.Engine, ref, typ string) (any, error) {
	if typ == "" || typ == "container" {
		if ctr, err := e.Lookup(ref); err == nil {
			return ctr, nil
		}
	}
	if typ == "" || typ == "image" {
		if img, err := e.Images.Resolve(ref); err == nil {
			return imageJSON(img), nil
		}
	}
	if typ == "" || typ == "volume" {
		if v, err := e.Volumes.Get(ref); err == nil {
			return volumeJSON(v), nil
		}
	}
	if typ == "" || typ == "network" {
		if n, err := e.InspectNetwork(ref); err == nil {
			return n, nil
		}
	}
	return nil, fmt.Errorf("no such object: %s", ref)
}

// imageInspect is `inspect` of an image, with Docker's field names.
type imageInspect struct {
	ID           string                          `json:"Id"`
	RepoTags     []string                        `json:"RepoTags"`
	RepoDigests  []string                        `json:"RepoDigests"`
	Comment      string                          `json:"Comment"`
	Created      string                          `json:"Created"`
	Author       string                          `json:"Author"`
	Config       dockerspec.DockerOCIImageConfig `json:"Config"` // with Healthcheck and Shell, as Docker's
	Architecture string                          `json:"Architecture"`
	Os           string                          `json:"Os"`
	Size         int64                           `json:"Size"`
	RootFS       ocispec.RootFS                  `json:"RootFS"`
	Manifest     string                          `json:"Manifest"`
}

func imageJSON(img image.Image) imageInspect {
	v := imageInspect{
		ID: string(img.ID), RepoTags: img.Names, RepoDigests: []string{},
		Config:       dockerspec.DockerOCIImageConfig{ImageConfig: img.Config.Config, DockerOCIImageConfigExt: img.Config.Ext},
		Architecture: img.Config.Architecture, Os: img.Config.OS, Size: img.Size(), RootFS: img.Config.RootFS,
		Author: img.Config.Author, Manifest: string(img.Descriptor.Digest),
	}
	if v.RepoTags == nil {
		v.RepoTags = []string{}
	}
	if h := img.History(); len(h) > 0 {
		v.Comment = h[0].Comment
	}
	if !img.Created().IsZero() {
		v.Created = img.Created().UTC().Format(time.RFC3339Nano)
	}
	return v
}

// volumeInspect is `inspect` of a volume, with Docker's field names.
type volumeInspect struct {
	CreatedAt  string            `json:"CreatedAt"`
	Driver     string            `json:"Driver"`
	Labels     map[string]string `json:"Labels"`
	Mountpoint string            `json:"Mountpoint"`
	Name       string            `json:"Name"`
	Options    map[string]string `json:"Options"`
	Scope      string            `json:"Scope"`
	UsedBy     []string          `json:"UsedBy"`
}

func volumeJSON(v volume.Volume) volumeInspect {
	out := volumeInspect{CreatedAt: v.CreatedAt.Format(time.RFC3339), Driver: "local", Labels: v.Labels,
		Mountpoint: v.Mountpoint, Name: v.Name, Options: map[string]string{}, Scope: "local", UsedBy: v.Users}
	if out.Labels == nil {
		out.Labels = map[string]string{}
	}
	if out.UsedBy == nil {
		out.UsedBy = []string{}
	}
	return out
}
