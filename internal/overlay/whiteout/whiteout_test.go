package whiteout

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/unboxlab/unbox/internal/overlay"
)

func TestFromTar(t *testing.T) {
	for _, c := range []struct {
		name   string
		typ    byte
		path   string
		marker overlay.Marker
	}{
		{"etc/app.conf", tar.TypeReg, "etc/app.conf", overlay.NoMarker},
		{"etc/", tar.TypeDir, "etc", overlay.NoMarker},
		{"./", tar.TypeDir, ".", overlay.NoMarker},
		{"etc/.wh.motd", tar.TypeReg, "etc/motd", overlay.Whiteout},
		{"./etc/.wh.motd", tar.TypeReg, "etc/motd", overlay.Whiteout},
		{"/etc/.wh.motd", tar.TypeReg, "etc/motd", overlay.Whiteout},
		{".wh.motd", tar.TypeReg, "motd", overlay.Whiteout},
		// A deleted directory is a whiteout like any other name.
		{"var/.wh.cache", tar.TypeReg, "var/cache", overlay.Whiteout},
		{"var/cache/app/.wh..wh..opq", tar.TypeReg, "var/cache/app", overlay.Opaque},
		{"./.wh..wh..opq", tar.TypeReg, ".", overlay.Opaque},
		// Names that merely contain .wh. are ordinary.
		{"srv/a.wh.b", tar.TypeReg, "srv/a.wh.b", overlay.NoMarker},
		{"srv/.whx", tar.TypeReg, "srv/.whx", overlay.NoMarker},
	} {
		p, m, err := FromTar(&tar.Header{Name: c.name, Typeflag: c.typ})
		if err != nil || p != c.path || m != c.marker {
			t.Errorf("FromTar(%q) = %q, %v, %v; want %q, %v", c.name, p, m, err, c.path, c.marker)
		}
	}
}

// TestFromTarRefusesHostileNames: names a malformed or hostile layer could
// hold, which an extractor must not act on.
func TestFromTarRefusesHostileNames(t *testing.T) {
	for _, c := range []struct {
		name string
		typ  byte
	}{
		{"../etc/.wh.passwd", tar.TypeReg},
		{"etc/../../.wh.passwd", tar.TypeReg},
		{"etc/../../passwd", tar.TypeReg},
		{"etc/.wh...", tar.TypeReg},     // a whiteout of ".."
		{"etc/.wh..", tar.TypeReg},      // a whiteout of "."
		{"etc/.wh.", tar.TypeReg},       // a whiteout of nothing
		{".wh.etc/passwd", tar.TypeReg}, // under a whiteout
		{".wh.etc/", tar.TypeDir},       // a whiteout that is a directory
		{"etc/.wh..wh..opq/", tar.TypeDir},
		{"etc/passwd\x00", tar.TypeReg},
	} {
		if p, m, err := FromTar(&tar.Header{Name: c.name, Typeflag: c.typ}); err == nil {
			t.Errorf("FromTar(%q) = %q, %v, nil; want an error", c.name, p, m)
		}
	}
	for _, name := range []string{".wh..wh.plnk/", ".wh..wh.plnk/123.456", "usr/.wh..wh.aufs", ".wh..wh.orph/x"} {
		if _, _, err := FromTar(&tar.Header{Name: name, Typeflag: tar.TypeReg}); !errors.Is(err, ErrAUFSMeta) {
			t.Errorf("FromTar(%q): err %v; want ErrAUFSMeta", name, err)
		}
	}
}

// TestFromTarDropsOverlayXattrs writes a real tar with overlayfs's xattrs in
// it, as a hostile layer would to forge markers or a redirect, and checks
// that what the reader gives back no longer has them, in either field.
func TestFromTarDropsOverlayXattrs(t *testing.T) {
	var buf bytes.Buffer
	w := tar.NewWriter(&buf)
	hdr := &tar.Header{Name: "srv/", Typeflag: tar.TypeDir, Mode: 0o755, Format: tar.FormatPAX, PAXRecords: map[string]string{
		"SCHILY.xattr.trusted.overlay.opaque":   "y",
		"SCHILY.xattr.trusted.overlay.redirect": "/etc",
		"SCHILY.xattr.user.overlay.origin":      "x",
		"SCHILY.xattr.user.mime_type":           "text/plain",
		"SCHILY.xattr.security.capability":      "cap",
	}}
	if err := w.WriteHeader(hdr); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := tar.NewReader(&buf).Next()
	if err != nil {
		t.Fatal(err)
	}
	if p, m, err := FromTar(got); err != nil || p != "srv" || m != overlay.NoMarker {
		t.Fatalf("FromTar = %q, %v, %v; want srv, no marker", p, m, err)
	}
	want := map[string]string{"SCHILY.xattr.user.mime_type": "text/plain", "SCHILY.xattr.security.capability": "cap"}
	if !maps.Equal(got.PAXRecords, want) {
		t.Errorf("PAXRecords after FromTar = %v; want %v", got.PAXRecords, want)
	}
	//lint:ignore SA1019 the deprecated field is what an old extractor would read.
	for k := range got.Xattrs {
		if overlay.IsOverlayXattr(k) {
			t.Errorf("Xattrs after FromTar still has %s", k)
		}
	}
}

func TestToTar(t *testing.T) {
	when := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, c := range []struct {
		hdr  tar.Header
		m    overlay.Marker
		want []string // names
	}{
		{tar.Header{Name: "etc/app.conf", Typeflag: tar.TypeReg}, overlay.NoMarker, []string{"etc/app.conf"}},
		{tar.Header{Name: "etc/", Typeflag: tar.TypeDir}, overlay.NoMarker, []string{"etc/"}},
		{tar.Header{Name: "srv/www/about.html", Typeflag: tar.TypeChar}, overlay.Whiteout, []string{"srv/www/.wh.about.html"}},
		{tar.Header{Name: "./etc/motd", Typeflag: tar.TypeChar}, overlay.Whiteout, []string{"./etc/.wh.motd"}},
		{tar.Header{Name: "motd", Typeflag: tar.TypeChar}, overlay.Whiteout, []string{".wh.motd"}},
		{tar.Header{Name: "srv/www/assets/", Typeflag: tar.TypeDir, Mode: 0o750}, overlay.Opaque,
			[]string{"srv/www/assets/", "srv/www/assets/.wh..wh..opq"}},
	} {
		c.hdr.Uid, c.hdr.Gid, c.hdr.ModTime = 1000, 1001, when
		hdrs, err := ToTar(&c.hdr, c.m)
		if err != nil {
			t.Errorf("ToTar(%q, %v): %v", c.hdr.Name, c.m, err)
			continue
		}
		var names []string
		for _, h := range hdrs {
			names = append(names, h.Name)
		}
		if strings.Join(names, " ") != strings.Join(c.want, " ") {
			t.Errorf("ToTar(%q, %v) names = %q; want %q", c.hdr.Name, c.m, names, c.want)
		}
		if c.m == overlay.NoMarker {
			continue
		}
		mk := hdrs[len(hdrs)-1]
		if mk.Typeflag != tar.TypeReg || mk.Size != 0 || mk.Uid != 1000 || mk.Gid != 1001 || !mk.ModTime.Equal(when) {
			t.Errorf("ToTar(%q, %v) marker = %+v; want an empty regular file with the entry's owner and time", c.hdr.Name, c.m, mk)
		}
		if c.m == overlay.Opaque && mk.Mode != 0o750 {
			t.Errorf("opaque marker mode %o; want the directory's, 750", mk.Mode)
		}
	}
}

func TestToTarRefuses(t *testing.T) {
	for _, c := range []struct {
		hdr tar.Header
		m   overlay.Marker
	}{
		{tar.Header{Name: "srv/.wh.x", Typeflag: tar.TypeReg}, overlay.NoMarker},    // would read as a whiteout
		{tar.Header{Name: ".wh..wh..opq", Typeflag: tar.TypeReg}, overlay.NoMarker}, // would read as opaque
		{tar.Header{Name: ".wh.d/f", Typeflag: tar.TypeReg}, overlay.NoMarker},      // under one
		{tar.Header{Name: "srv/.wh.x", Typeflag: tar.TypeChar}, overlay.Whiteout},   // a whiteout of a marker name
		{tar.Header{Name: "etc/motd", Typeflag: tar.TypeReg}, overlay.Opaque},       // opaque, not a dir
		{tar.Header{Name: "../etc/motd", Typeflag: tar.TypeChar}, overlay.Whiteout}, // out of the layer
		{tar.Header{Name: "./", Typeflag: tar.TypeDir}, overlay.Whiteout},           // the root
	} {
		if hdrs, err := ToTar(&c.hdr, c.m); err == nil {
			t.Errorf("ToTar(%q, %v) = %d headers; want an error", c.hdr.Name, c.m, len(hdrs))
		}
	}
}

// TestToTarLeavesHdrAndDropsOverlayXattrs: an upper dir's directories carry
// overlayfs's bookkeeping (trusted.overlay.origin, impure, opaque), which
// must not reach the image; hdr itself is the caller's and stays as it was.
func TestToTarLeavesHdrAndDropsOverlayXattrs(t *testing.T) {
	records := map[string]string{
		"SCHILY.xattr.trusted.overlay.opaque": "y",
		"SCHILY.xattr.trusted.overlay.impure": "y",
		"SCHILY.xattr.user.keep":              "1",
	}
	hdr := &tar.Header{Name: "srv/", Typeflag: tar.TypeDir, PAXRecords: maps.Clone(records)}
	hdrs, err := ToTar(hdr, overlay.Opaque)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"SCHILY.xattr.user.keep": "1"}; !maps.Equal(hdrs[0].PAXRecords, want) {
		t.Errorf("ToTar: PAXRecords = %v; want %v", hdrs[0].PAXRecords, want)
	}
	if !maps.Equal(hdr.PAXRecords, records) {
		t.Errorf("ToTar changed its argument's PAXRecords to %v", hdr.PAXRecords)
	}
}

// TestTarRoundTrip: every entry ToTar writes reads back through a real tar
// and FromTar as the path and marker it started as.
func TestTarRoundTrip(t *testing.T) {
	type item struct {
		name string
		typ  byte
		m    overlay.Marker
	}
	upper := []item{
		{"etc/", tar.TypeDir, overlay.NoMarker},
		{"etc/app.conf", tar.TypeReg, overlay.NoMarker},
		{"srv/", tar.TypeDir, overlay.NoMarker},
		{"srv/www/", tar.TypeDir, overlay.NoMarker},
		{"srv/www/about.html", tar.TypeChar, overlay.Whiteout},
		{"srv/www/assets/", tar.TypeDir, overlay.Opaque},
		{"srv/www/assets/site.css", tar.TypeReg, overlay.NoMarker},
		{"var/cache", tar.TypeChar, overlay.Whiteout},
	}
	var buf bytes.Buffer
	w := tar.NewWriter(&buf)
	for _, it := range upper {
		hdrs, err := ToTar(&tar.Header{Name: it.name, Typeflag: it.typ, Mode: 0o644}, it.m)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range hdrs {
			if err := w.WriteHeader(h); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	type got struct {
		path string
		m    overlay.Marker
	}
	var read []got
	r := tar.NewReader(&buf)
	for {
		h, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		p, m, err := FromTar(h)
		if err != nil {
			t.Fatalf("FromTar(%q): %v", h.Name, err)
		}
		read = append(read, got{p, m})
	}
	want := []got{
		{"etc", overlay.NoMarker}, {"etc/app.conf", overlay.NoMarker}, {"srv", overlay.NoMarker}, {"srv/www", overlay.NoMarker},
		{"srv/www/about.html", overlay.Whiteout}, {"srv/www/assets", overlay.NoMarker}, {"srv/www/assets", overlay.Opaque},
		{"srv/www/assets/site.css", overlay.NoMarker}, {"var/cache", overlay.Whiteout},
	}
	if len(read) != len(want) {
		t.Fatalf("read back %v; want %v", read, want)
	}
	for i := range want {
		if read[i] != want[i] {
			t.Errorf("entry %d: read back %v; want %v", i, read[i], want[i])
		}
	}
}
