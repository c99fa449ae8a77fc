//go:build linux

package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/unboxlab/unbox/internal/overlay"
)

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 bytes", 1: "1 byte", 1023: "1023 bytes", 1024: "1.0 KiB", 65536: "64.0 KiB", 3 << 20: "3.0 MiB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q; want %q", n, got, want)
		}
	}
}

func TestOneLine(t *testing.T) {
	for in, want := range map[string]string{"unbox-a\n": "unbox-a", "a\nb\nc\n": "3 lines, last: c", "": ""} {
		if got := oneLine(in); got != want {
			t.Errorf("oneLine(%q) = %q; want %q", in, got, want)
		}
	}
}

// TestInitFiles: the init layer names this container and nothing of the host.
func TestInitFiles(t *testing.T) {
	files := map[string]string{}
	for _, c := range initFiles("unbox-x") {
		files[c.Path] = c.Content
	}
	if files["etc/hostname"] != "unbox-x\n" {
		t.Errorf("etc/hostname = %q; want %q", files["etc/hostname"], "unbox-x\n")
	}
	if !strings.Contains(files["etc/hosts"], "127.0.1.1 unbox-x\n") || !strings.Contains(files["etc/hosts"], "127.0.0.1 localhost\n") {
		t.Errorf("etc/hosts = %q; want localhost and the container's name", files["etc/hosts"])
	}
	if !strings.HasSuffix(files["etc/resolv.conf"], "nameserver 192.0.2.53\n") {
		t.Errorf("etc/resolv.conf = %q; want only the documentation nameserver", files["etc/resolv.conf"])
	}
}

// TestLayerSpecs: layer 2 carries a whole new /etc/passwd; layer 3 holds
// only markers.
func TestLayerSpecs(t *testing.T) {
	base := "root:x:0:0:root:/root:/bin/sh\n"
	app := appLayer([]byte(base))
	i := slices.IndexFunc(app, func(c change) bool { return c.Path == "etc/passwd" })
	if i < 0 || app[i].Content != base+appUser {
		t.Errorf("appLayer: etc/passwd = %+v; want the base's file plus %q", app, appUser)
	}
	for _, c := range cleanupLayer() {
		if c.Marker == overlay.NoMarker {
			t.Errorf("cleanupLayer has %+v; want only whiteouts and opaque directories", c)
		}
	}
}
