package compose

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

// The labels Docker Compose puts on what it makes, by which it finds them
// again (github.com/docker/compose/v2/pkg/api/labels.go).
const (
	LabelProject     = "com.docker.compose.project"
	LabelService     = "com.docker.compose.service"
	LabelNumber      = "com.docker.compose.container-number"
	LabelOneoff      = "com.docker.compose.oneoff"
	LabelConfigHash  = "com.docker.compose.config-hash"
	LabelWorkingDir  = "com.docker.compose.project.working_dir"
	LabelConfigFiles = "com.docker.compose.project.config_files"
	LabelVolume      = "com.docker.compose.volume"
	LabelNetwork     = "com.docker.compose.network"
	LabelDependsOn   = "com.docker.compose.depends_on"
	LabelImage       = "com.docker.compose.image"
	LabelVersion     = "com.docker.compose.version"
)

// DNSServersOption is the driver_opts key of a top-level network that
// sets the resolvers its DNS responder forwards other names to, as
// `unbox network create --dns` does (comma-separated IP or IP:PORT; by
// default the host's): `unbox network inspect` shows it under the same
// key.
const DNSServersOption = "unbox.dns_servers"

// Version is the Compose version the labels claim to follow.
const Version = "2.20.0"

// ContainerName is a service's n-th container: PROJECT-SERVICE-N, or its
// container_name.
func ContainerName(p *types.Project, s types.ServiceConfig, n int) string {
	if s.ContainerName != "" {
		return s.ContainerName
	}
	return fmt.Sprintf("%s-%s-%d", p.Name, s.Name, n)
}

// ImageName is the image a service with a build section and no image is
// built as: PROJECT-SERVICE, as Compose v2 names it.
func ImageName(p *types.Project, s types.ServiceConfig) string {
	if s.Image != "" {
		return s.Image
	}
	return p.Name + "-" + s.Name
}

// ConfigHash is the digest of a service's configuration: a container
// labelled with another was made from an older file, and up recreates it.
func ConfigHash(s types.ServiceConfig) string {
	s.DependsOn, s.Scale, s.Deploy = nil, nil, nil // changes that need no new container
	b, _ := json.Marshal(s)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// containerLabels are a service container's labels: the service's own,
// then Compose's.
func containerLabels(p *types.Project, s types.ServiceConfig, n int, oneoff bool) map[string]string {
	l := map[string]string{}
	for k, v := range s.Labels {
		l[k] = v
	}
	var deps []string
	for _, d := range slices.Sorted(mapKeys(s.DependsOn)) {
		dep := s.DependsOn[d]
		deps = append(deps, fmt.Sprintf("%s:%s:%t", d, dep.Condition, dep.Restart))
	}
	off := "False"
	if oneoff {
		off = "True"
	}
	for k, v := range map[string]string{
		LabelProject: p.Name, LabelService: s.Name, LabelNumber: strconv.Itoa(n), LabelOneoff: off,
		LabelConfigHash: ConfigHash(s), LabelWorkingDir: p.WorkingDir, LabelConfigFiles: strings.Join(p.ComposeFiles, ","),
		LabelDependsOn: strings.Join(deps, ","), LabelImage: ImageName(p, s), LabelVersion: Version,
	} {
		l[k] = v
	}
	return l
}

// volumeLabels are a project volume's labels.
func volumeLabels(p *types.Project, key string, v types.VolumeConfig) map[string]string {
	l := map[string]string{}
	for k, val := range v.Labels {
		l[k] = val
	}
	l[LabelProject], l[LabelVolume], l[LabelVersion] = p.Name, key, Version
	return l
}
