package ocilayout

import (
	"encoding/json"
	"testing"
	"time"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// An image without Docker's fields is written as image-spec writes it,
// byte for byte: the IDs of images made before Config existed hold.
func TestConfigWithoutExtensionsIsImageSpecs(t *testing.T) {
	img := NewImage(ocispec.ImageConfig{Env: []string{"PATH=/bin"}, Cmd: []string{"sh"}})
	got, err := json.Marshal(img.Config)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(img.Config.Image)
	if string(got) != string(want) {
		t.Fatalf("Config without extensions:\n got %s\nwant %s", got, want)
	}
}

// Docker's HEALTHCHECK, SHELL and ONBUILD, as Docker writes them inside
// "config", survive a read and a write: a pulled image keeps its
// healthcheck through commit and save.
func TestConfigKeepsDockersExtensions(t *testing.T) {
	in := []byte(`{"architecture":"amd64","os":"linux","config":{"Env":["A=1"],` +
		`"Healthcheck":{"Test":["CMD-SHELL","wget -q -O- localhost"],"Interval":2000000000,"Retries":4},` +
		`"OnBuild":["RUN true"],"Shell":["/bin/ash","-c"]},"rootfs":{"type":"layers","diff_ids":[]}}`)
	var c Config
	if err := json.Unmarshal(in, &c); err != nil {
		t.Fatal(err)
	}
	h := c.Ext.Healthcheck
	if h == nil || h.Interval != 2*time.Second || h.Retries != 4 || len(h.Test) != 2 || h.Test[0] != "CMD-SHELL" {
		t.Fatalf("Healthcheck = %+v", h)
	}
	if len(c.Ext.Shell) != 2 || len(c.Ext.OnBuild) != 1 || len(c.Config.Env) != 1 {
		t.Fatalf("read %+v", c)
	}
	out, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var back dockerspec.DockerOCIImage
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatal(err)
	}
	if back.Config.Healthcheck == nil || back.Config.Healthcheck.Test[1] != "wget -q -O- localhost" ||
		back.Config.Shell[0] != "/bin/ash" || back.Config.Env[0] != "A=1" || back.OS != "linux" {
		t.Fatalf("written %s", out)
	}
}
