package image

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// DefaultConfigDir holds the engine's configuration: daemon.json (the
// registry settings, RegistryConfig) and config.json (the credentials
// `unbox login` stores, in the format of Docker's ~/.docker/config.json).
// --config or UNBOX_CONFIG choose another.
const DefaultConfigDir = "/etc/unbox"

// EngineConfigFile is the engine's settings file in the config directory,
// named after Docker's /etc/docker/daemon.json, whose keys it shares.
const EngineConfigFile = "daemon.json"

// RegistryConfig is where images are pulled from: the registry section of
// daemon.json, with Docker's keys.
//
//	{
//	  "registry-mirrors": ["https://mirror.example.com"],
//	  "mirrors": {"localhost:5000": ["127.0.0.1:5001"]},
//	  "insecure-registries": ["registry.lan:5000", "10.0.0.0/8"]
//	}
//
// A pull tries the mirrors of the image's registry in order, then the
// registry itself: any failure of a mirror (unreachable, no such image,
// refused) falls through to the next, as Docker's does. Pushes, and
// logins, go to the registry itself only.
type RegistryConfig struct {
	// RegistryMirrors mirror Docker Hub (Docker's registry-mirrors): URLs,
	// https:// or http://.
	RegistryMirrors []string `json:"registry-mirrors,omitempty"`
	// Mirrors mirror any other registry, by its host[:port] (the
	// equivalent of podman's [[registry.mirror]] in registries.conf):
	// URLs, or host[:port] reached as the registry itself would be.
	Mirrors map[string][]string `json:"mirrors,omitempty"`
	// InsecureRegistries are reached over HTTPS without checking the
	// certificate, or over plain HTTP: host[:port] or a CIDR range of
	// addresses. Loopback addresses always are, as in Docker.
	InsecureRegistries []string `json:"insecure-registries,omitempty"`
}

// LoadRegistryConfig reads the registry settings of dir/daemon.json; a
// missing file is the empty configuration (pull from each registry
// itself). Keys other than the registry ones are left to their readers.
func LoadRegistryConfig(dir string) (RegistryConfig, error) {
	var c RegistryConfig
	p := filepath.Join(dir, EngineConfigFile)
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("read the engine's configuration: %w", err)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("read the engine's configuration %s: %w", p, err)
	}
	return c, c.validate(p)
}

func (c RegistryConfig) validate(p string) error {
	check := func(key, m string) error {
		if _, err := parseMirror(m); err != nil {
			return fmt.Errorf("%s: %s: %w", p, key, err)
		}
		return nil
	}
	for _, m := range c.RegistryMirrors {
		if err := check("registry-mirrors", m); err != nil {
			return err
		}
	}
	for host, ms := range c.Mirrors {
		for _, m := range ms {
			if err := check("mirrors of "+host, m); err != nil {
				return err
			}
		}
	}
	for _, r := range c.InsecureRegistries {
		if strings.Contains(r, "://") {
			return fmt.Errorf("%s: insecure-registries: %q: give host[:port] or a CIDR range, without a scheme", p, r)
		}
	}
	return nil
}

// Endpoint is one place an image of a registry can be fetched from: a
// mirror, or the registry itself (the last one).
type Endpoint struct {
	// Host is host[:port].
	Host string
	// Mirror is true for a mirror, false for the registry itself.
	Mirror bool
	// PlainHTTP: the mirror was given as an http:// URL.
	PlainHTTP bool
	// Insecure: HTTPS without checking the certificate, or plain HTTP.
	Insecure bool
}

func (e Endpoint) String() string {
	if e.Mirror {
		return "mirror " + e.Host
	}
	return e.Host
}

// Endpoints are the places to pull an image of the registry host from,
// in the order to try them: its mirrors, then itself.
func (c RegistryConfig) Endpoints(host string) []Endpoint {
	mirrors := c.Mirrors[host]
	if host == DockerHub || host == dockerHubIndex {
		mirrors = append(slices.Clone(c.RegistryMirrors), c.Mirrors[DockerHub]...)
	}
	var out []Endpoint
	for _, m := range mirrors {
		u, err := parseMirror(m)
		if err != nil {
			continue // validate refused it when the file was read
		}
		out = append(out, Endpoint{Host: u.Host, Mirror: true, PlainHTTP: u.Scheme == "http", Insecure: c.Insecure(u.Host)})
	}
	return append(out, Endpoint{Host: host, Insecure: c.Insecure(host)})
}

// parseMirror reads a mirror: an http:// or https:// URL without a path,
// or host[:port] (HTTPS).
func parseMirror(m string) (*url.URL, error) {
	if !strings.Contains(m, "://") {
		m = "https://" + m
	}
	u, err := url.Parse(m)
	if err != nil {
		return nil, fmt.Errorf("mirror %q: %w", m, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.Trim(u.Path, "/") != "" || u.RawQuery != "" {
		return nil, fmt.Errorf("mirror %q: want http:// or https:// and a host[:port], without a path", m)
	}
	return u, nil
}

// Insecure reports whether the registry at host (host[:port]) is reached
// without checking its certificate: it is listed, by name or by an address
// range, or it is a loopback address.
func (c RegistryConfig) Insecure(host string) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	ip := net.ParseIP(h)
	if ip != nil && ip.IsLoopback() || h == "localhost" {
		return true
	}
	for _, r := range c.InsecureRegistries {
		if r == host || r == h {
			return true
		}
		if _, cidr, err := net.ParseCIDR(r); err == nil && ip != nil && cidr.Contains(ip) {
			return true
		}
	}
	return false
}

// nameOptions are go-containerregistry's for a reference to e: an
// insecure or plain-HTTP registry may be reached over HTTP.
func (e Endpoint) nameOptions() []name.Option {
	o := []name.Option{name.WithDefaultRegistry(dockerHubIndex)}
	if e.Insecure || e.PlainHTTP {
		o = append(o, name.Insecure)
	}
	return o
}

// transport is the HTTP transport for e: go-containerregistry's default,
// without certificate checks for an insecure registry.
func (e Endpoint) transport() http.RoundTripper {
	t := remote.DefaultTransport.(*http.Transport).Clone()
	if e.Insecure {
		// The user listed it in insecure-registries (or it is loopback).
		t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	}
	return t
}

// at is r with its registry replaced by e's (a mirror holds the same
// repositories under the same paths).
func (e Endpoint) at(r name.Reference) (name.Reference, error) {
	repo := e.Host + "/" + r.Context().RepositoryStr()
	switch r := r.(type) {
	case name.Digest:
		return name.NewDigest(repo+"@"+r.DigestStr(), e.nameOptions()...)
	default:
		return name.NewTag(repo+":"+r.Identifier(), e.nameOptions()...)
	}
}
