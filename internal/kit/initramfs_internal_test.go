//go:build linux

package kit

import (
	"strings"
	"testing"
)

func TestHasOwnParent(t *testing.T) {
	for _, c := range []struct {
		name, mountinfo string
		want            bool
	}{
		{"disk root", "26 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n21 26 0:20 / /proc rw - proc proc rw\n", false},
		{"initial ramfs", "1 1 0:2 / / rw - rootfs rootfs rw\n21 1 0:19 / /proc rw,relatime - proc proc rw\n", true},
		{"new namespace on an initial ramfs", "25 25 0:2 / / rw - rootfs rootfs rw\n", true},
		{"empty", "", false},
	} {
		got, err := hasOwnParent(strings.NewReader(c.mountinfo))
		if err != nil || got != c.want {
			t.Errorf("hasOwnParent(%s) = %v, %v; want %v", c.name, got, err, c.want)
		}
	}
}
