package image

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestRemoteRefAsDocker: names as `docker pull` reads them, the full name
// it prints, and the local name the image is kept under (Docker's
// familiar form, so "busybox" and "docker.io/library/busybox" are one).
func TestRemoteRefAsDocker(t *testing.T) {
	for _, tc := range []struct{ in, canonical, local string }{
		{"busybox", "docker.io/library/busybox:latest", "busybox:latest"},
		{"busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"},
		{"docker.io/library/busybox", "docker.io/library/busybox:latest", "busybox:latest"},
		{"index.docker.io/library/busybox:1", "docker.io/library/busybox:1", "busybox:1"},
		{"user/app", "docker.io/user/app:latest", "user/app:latest"},
		{"docker.io/user/app:2", "docker.io/user/app:2", "user/app:2"},
		{"localhost:5000/app:1.0", "localhost:5000/app:1.0", "localhost:5000/app:1.0"},
		{"localhost/app", "localhost/app:latest", "localhost/app:latest"},
		{"127.0.0.1:5000/a/b/c", "127.0.0.1:5000/a/b/c:latest", "127.0.0.1:5000/a/b/c:latest"},
		{"registry.example.com/app", "registry.example.com/app:latest", "registry.example.com/app:latest"},
		{"busybox@sha256:" + hex64, "docker.io/library/busybox@sha256:" + hex64, ""},
		{"localhost:5000/app@sha256:" + hex64, "localhost:5000/app@sha256:" + hex64, ""},
	} {
		r, err := RemoteRef(tc.in)
		if err != nil {
			t.Errorf("RemoteRef(%q): %v", tc.in, err)
			continue
		}
		if got := CanonicalName(r); got != tc.canonical {
			t.Errorf("CanonicalName(RemoteRef(%q)) = %q; want %q", tc.in, got, tc.canonical)
		}
		if got := localName(r); got != tc.local {
			t.Errorf("localName(RemoteRef(%q)) = %q; want %q", tc.in, got, tc.local)
		}
		if pr, err := ParseRef(tc.in); err != nil || (tc.local != "" && pr.String() != tc.local) {
			t.Errorf("ParseRef(%q) = %q, %v; want %q (the same name as a pull keeps)", tc.in, pr, err, tc.local)
		}
	}
	for _, in := range []string{"", "Busybox", "a//b", "host:port/app", "a@sha256:zz", hex64} {
		if r, err := RemoteRef(in); err == nil {
			t.Errorf("RemoteRef(%q) = %v; want an error", in, r)
		}
	}
}

func TestFamiliarName(t *testing.T) {
	for in, want := range map[string]string{
		"docker.io/library/busybox":       "busybox",
		"index.docker.io/library/busybox": "busybox",
		"docker.io/library/a/b":           "library/a/b",
		"docker.io/user/app":              "user/app",
		"busybox":                         "busybox",
		"library/busybox":                 "library/busybox",
		"localhost:5000/library/busybox":  "localhost:5000/library/busybox",
	} {
		if got := FamiliarName(in); got != want {
			t.Errorf("FamiliarName(%q) = %q; want %q", in, got, want)
		}
	}
}

// TestEndpointsMirrorsInOrder: a pull tries the mirrors of the image's
// registry in the order the file gives them, then the registry itself;
// Docker Hub's mirrors are registry-mirrors.
func TestEndpointsMirrorsInOrder(t *testing.T) {
	dir := t.TempDir()
	conf := `{"registry-mirrors": ["https://hub-mirror.lan", "http://127.0.0.1:5002"],
		"mirrors": {"registry.lan:5000": ["127.0.0.1:6001", "http://10.1.2.3:6002"]},
		"insecure-registries": ["registry.lan:5000", "10.0.0.0/8"],
		"debug": true}`
	if err := os.WriteFile(filepath.Join(dir, EngineConfigFile), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := LoadRegistryConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		host string
		want []Endpoint
	}{
		{DockerHub, []Endpoint{
			{Host: "hub-mirror.lan", Mirror: true},
			{Host: "127.0.0.1:5002", Mirror: true, PlainHTTP: true, Insecure: true},
			{Host: DockerHub},
		}},
		{dockerHubIndex, []Endpoint{
			{Host: "hub-mirror.lan", Mirror: true},
			{Host: "127.0.0.1:5002", Mirror: true, PlainHTTP: true, Insecure: true},
			{Host: dockerHubIndex},
		}},
		{"registry.lan:5000", []Endpoint{
			{Host: "127.0.0.1:6001", Mirror: true, Insecure: true},
			{Host: "10.1.2.3:6002", Mirror: true, PlainHTTP: true, Insecure: true},
			{Host: "registry.lan:5000", Insecure: true},
		}},
		{"quay.io", []Endpoint{{Host: "quay.io"}}},
	} {
		if got := c.Endpoints(tc.host); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Endpoints(%q) = %+v; want %+v", tc.host, got, tc.want)
		}
	}
	for host, want := range map[string]bool{
		"localhost:5000": true, "127.0.0.1:1": true, "[::1]:5000": true, "10.9.9.9:443": true,
		"registry.lan:5000": true, "registry.lan:5001": false, "11.0.0.1": false, "quay.io": false,
	} {
		if got := c.Insecure(host); got != want {
			t.Errorf("Insecure(%q) = %v; want %v", host, got, want)
		}
	}
}

func TestRegistryConfigRefusesWhatItCannotUse(t *testing.T) {
	for _, conf := range []string{
		`{"registry-mirrors": ["ftp://mirror"]}`,
		`{"registry-mirrors": ["https://mirror/v2/path"]}`,
		`{"mirrors": {"a.lan": ["https://"]}}`,
		`{"insecure-registries": ["http://a.lan"]}`,
		`{"registry-mirrors": "https://not-a-list"}`,
		`not json`,
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, EngineConfigFile), []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadRegistryConfig(dir); err == nil || !strings.Contains(err.Error(), EngineConfigFile) {
			t.Errorf("LoadRegistryConfig(%s) = %v; want an error naming the file", conf, err)
		}
	}
	if c, err := LoadRegistryConfig(t.TempDir()); err != nil || !reflect.DeepEqual(c, RegistryConfig{}) {
		t.Errorf("LoadRegistryConfig(no file) = %+v, %v; want the empty configuration", c, err)
	}
}

func TestServerKey(t *testing.T) {
	for in, want := range map[string]string{
		"":                                   "https://index.docker.io/v1/",
		"docker.io":                          "https://index.docker.io/v1/",
		"index.docker.io":                    "https://index.docker.io/v1/",
		"https://index.docker.io/v1/":        "https://index.docker.io/v1/",
		"registry-1.docker.io":               "https://index.docker.io/v1/",
		"localhost:5000":                     "localhost:5000",
		"http://localhost:5000/v2/":          "localhost:5000",
		"registry.example.com":               "registry.example.com",
		"https://registry.example.com/v2/x/": "registry.example.com",
	} {
		if got := ServerKey(in); got != want {
			t.Errorf("ServerKey(%q) = %q; want %q", in, got, want)
		}
	}
}
