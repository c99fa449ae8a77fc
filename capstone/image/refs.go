package image

import (
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// Docker Hub's names: the registry a name without one is on, the hosts
// that mean it, and the namespace of its official images.
const (
	DockerHub        = "docker.io"
	dockerHubIndex   = "index.docker.io" // go-containerregistry's name for it
	dockerHubLibrary = "library/"
)

// FamiliarName is a repository name as Docker shows it
// (distribution/reference's FamiliarName): Docker Hub's registry left out,
// and its "library/" namespace too when nothing follows but one component.
// "docker.io/library/busybox" and "index.docker.io/library/busybox" are
// "busybox"; "docker.io/user/app" is "user/app"; a name on another
// registry ("localhost:5000/app") is kept.
func FamiliarName(n string) string {
	host, rest, ok := strings.Cut(n, "/")
	if !ok || (host != DockerHub && host != dockerHubIndex) {
		return n
	}
	if lib, ok := strings.CutPrefix(rest, dockerHubLibrary); ok && !strings.Contains(lib, "/") {
		return lib
	}
	return rest
}

// RemoteRef parses s as `docker pull` does: a name without a registry is
// on Docker Hub ("busybox" is docker.io/library/busybox), a name without a
// tag or digest gets the tag "latest". The registry's host decides where
// the image is fetched from (before mirrors: Config.Endpoints).
func RemoteRef(s string) (name.Reference, error) {
	if _, err := ParseRef(s); err != nil {
		return nil, err
	}
	r, err := name.ParseReference(s, name.WithDefaultRegistry(dockerHubIndex))
	if err != nil {
		return nil, fmt.Errorf("invalid reference format %q: %w", s, err)
	}
	return r, nil
}

// CanonicalName is r in full as Docker prints it after a pull:
// "docker.io/library/busybox:latest", "localhost:5000/app@sha256:…".
func CanonicalName(r name.Reference) string {
	reg := r.Context().RegistryStr()
	if reg == dockerHubIndex {
		reg = DockerHub
	}
	sep := ":"
	if _, ok := r.(name.Digest); ok {
		sep = "@"
	}
	return reg + "/" + r.Context().RepositoryStr() + sep + r.Identifier()
}

// localName is the name a pulled image is stored under: its familiar name
// and tag ("busybox:latest", "localhost:5000/app:1.0"), or "" for an image
// pulled by digest alone, which is kept without a name, as Docker lists it
// (<none>), and found by its digest or ID.
func localName(r name.Reference) string {
	t, ok := r.(name.Tag)
	if !ok {
		return ""
	}
	return FamiliarName(t.Context().RegistryStr()+"/"+t.Context().RepositoryStr()) + ":" + t.TagStr()
}
