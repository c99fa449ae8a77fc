//go:build linux

package main

import (
	"io"
	"testing"

	"github.com/unboxlab/unbox/internal/kit"

	"golang.org/x/sys/unix"
)

// The pure helpers of the lesson's evidence. The mounts themselves, and the
// commands printed for them, are internal/mount's, tested there.

func TestModeString(t *testing.T) {
	for _, c := range []struct {
		mode uint32
		want string
	}{
		{unix.S_IFCHR | 0o666, "crw-rw-rw-"},
		{unix.S_IFDIR | 0o755, "drwxr-xr-x"},
		{unix.S_IFDIR | unix.S_ISVTX | 0o777, "drwxrwxrwt"},
		{unix.S_IFDIR | unix.S_ISVTX | 0o770, "drwxrwx--T"},
		{unix.S_IFLNK | 0o777, "lrwxrwxrwx"},
		{unix.S_IFREG | unix.S_ISUID | 0o755, "-rwsr-xr-x"},
		{unix.S_IFREG | unix.S_ISGID | 0o640, "-rw-r-S---"},
		{unix.S_IFBLK | 0o600, "brw-------"},
	} {
		if got := modeString(c.mode); got != c.want {
			t.Errorf("modeString(%#o) = %q; want %q", c.mode, got, c.want)
		}
	}
}

func TestMountCount(t *testing.T) {
	s := &kit.Session{Narrator: kit.NewNarrator(io.Discard, false)}
	for n, want := range map[int]string{0: "0 mounts", 1: "1 mount", 6: "6 mounts"} {
		if got := mountCount(s, n); got != want {
			t.Errorf("mountCount(%d) = %q; want %q", n, got, want)
		}
	}
}
