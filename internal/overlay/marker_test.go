package overlay

import "testing"

func TestMarkerCommand(t *testing.T) {
	for _, c := range []struct {
		m    Marker
		want string
	}{
		{Whiteout, "mknod layers/3/etc/motd c 0 0"},
		{Opaque, "setfattr -n trusted.overlay.opaque -v y layers/3/etc/motd"},
		{NoMarker, ""},
	} {
		if got := c.m.Command("layers/3/etc/motd"); got != c.want {
			t.Errorf("%v.Command = %q; want %q", c.m, got, c.want)
		}
	}
}
