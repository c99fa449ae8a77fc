package ocilayout

import (
	"encoding/json"
	"reflect"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Config is an image's config: image-spec's fields, and the three Docker
// adds to "config" (github.com/moby/docker-image-spec): Healthcheck, OnBuild
// and Shell. Docker and buildah write them, in OCI images too; an image
// pulled with a HEALTHCHECK keeps it through commit, tag and save here, and
// `unbox build` writes HEALTHCHECK and SHELL where Docker does.
//
// Without the extensions the JSON is image-spec's, byte for byte, so the
// IDs of images made before the extensions existed do not change.
type Config struct {
	ocispec.Image
	Ext dockerspec.DockerOCIImageConfigExt `json:"-"`
}

// MarshalJSON writes image-spec's JSON, with Docker's fields inside
// "config" when there are any.
func (c Config) MarshalJSON() ([]byte, error) {
	if reflect.ValueOf(c.Ext).IsZero() {
		return json.Marshal(c.Image)
	}
	d := dockerspec.DockerOCIImage{Image: c.Image}
	d.Config.ImageConfig = c.Image.Config
	d.Config.DockerOCIImageConfigExt = c.Ext
	return json.Marshal(d)
}

// UnmarshalJSON reads both.
func (c *Config) UnmarshalJSON(b []byte) error {
	var d dockerspec.DockerOCIImage
	if err := json.Unmarshal(b, &d); err != nil {
		return err
	}
	c.Image = d.Image
	c.Image.Config = d.Config.ImageConfig
	c.Ext = d.Config.DockerOCIImageConfigExt
	return nil
}
