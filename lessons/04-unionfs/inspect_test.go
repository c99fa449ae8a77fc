//go:build linux

package main

import (
	"slices"
	"strings"
	"testing"
)

func TestTarEntries(t *testing.T) {
	for _, c := range []struct {
		e    entry
		want []string
	}{
		{entry{Path: "etc/app.conf", Type: typeFile}, []string{"etc/app.conf"}},
		{entry{Path: "etc", Type: typeDir}, []string{"etc/"}},
		{entry{Path: "srv/www/about.html", Type: typeWhiteout}, []string{"srv/www/.wh.about.html"}},
		{entry{Path: "motd", Type: typeWhiteout}, []string{".wh.motd"}},
		{entry{Path: "srv/www/assets", Type: typeDir, Opaque: true}, []string{"srv/www/assets/", "srv/www/assets/.wh..wh..opq"}},
		{entry{Path: "bin/sh", Type: typeSymlink}, []string{"bin/sh"}},
		// A deleted directory is a whiteout like any other name.
		{entry{Path: "var/cache", Type: typeWhiteout}, []string{"var/.wh.cache"}},
	} {
		if got := tarEntries(c.e); !slices.Equal(got, c.want) {
			t.Errorf("tarEntries(%+v) = %q; want %q", c.e, got, c.want)
		}
	}
}

func TestTarNamesKeepsOrder(t *testing.T) {
	upper := []entry{
		{Path: "srv", Type: typeDir},
		{Path: "srv/www", Type: typeDir},
		{Path: "srv/www/about.html", Type: typeWhiteout},
		{Path: "srv/www/assets", Type: typeDir, Opaque: true},
		{Path: "srv/www/assets/site.css", Type: typeFile},
	}
	want := []string{"srv/", "srv/www/", "srv/www/.wh.about.html", "srv/www/assets/", "srv/www/assets/.wh..wh..opq", "srv/www/assets/site.css"}
	if got := tarNames(upper); !slices.Equal(got, want) {
		t.Errorf("tarNames = %q; want %q (the opaque marker right after its directory, before its contents)", got, want)
	}
}

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

func TestLayerOptions(t *testing.T) {
	in := "rw,lowerdir=/a:/b,upperdir=/u,workdir=/w,redirect_dir=nofollow,uuid=on"
	if got, want := layerOptions(in), "lowerdir=/a:/b,upperdir=/u,workdir=/w"; got != want {
		t.Errorf("layerOptions(%q) = %q; want %q", in, got, want)
	}
}

func TestUnescapeOctal(t *testing.T) {
	for in, want := range map[string]string{`/tmp/a\040b`: "/tmp/a b", `/x\134y`: `/x\y`, `/plain`: "/plain", `/bad\09`: `/bad\09`} {
		if got := unescapeOctal(in); got != want {
			t.Errorf("unescapeOctal(%q) = %q; want %q", in, got, want)
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
		if c.Type != typeWhiteout && !(c.Type == typeDir && c.Opaque) {
			t.Errorf("cleanupLayer has %+v; want only whiteouts and opaque directories", c)
		}
	}
}
