//go:build linux

package mount_test

import (
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/mount"
)

func TestParseTmpfs(t *testing.T) {
	def := uintptr(mount.TmpfsDefaultFlags)
	for _, c := range []struct {
		spec  string
		flags uintptr
		data  string
		cmd   string
	}{
		{"/run", def, "", "mount -t tmpfs -o nosuid,nodev,noexec tmpfs /run"},
		{"/run:size=64m", def, "size=64m", "mount -t tmpfs -o nosuid,nodev,noexec,size=64m tmpfs /run"},
		{"/cache:size=8m,mode=1777,uid=1000,gid=1000", def, "size=8m,mode=1777,uid=1000,gid=1000", ""},
		{"/x:exec,ro", def&^unix.MS_NOEXEC | unix.MS_RDONLY, "", "mount -t tmpfs -o ro,nosuid,nodev tmpfs /x"},
		{"/x:noexec,exec,suid,dev,rw", 0, "", "mount -t tmpfs tmpfs /x"},
		{"/x:size=1m,size=2m", def, "size=2m", ""},
		{"/x:size=50%,nr_inodes=1k,huge=within_size", def, "size=50%,nr_inodes=1k,huge=within_size", ""},
		{"/x:noatime,nodiratime", def | unix.MS_NOATIME | unix.MS_NODIRATIME, "", "mount -t tmpfs -o nosuid,nodev,noexec,noatime,nodiratime tmpfs /x"},
		{"/x:size=0", def, "size=0", ""},
	} {
		m, err := mount.ParseTmpfs(c.spec)
		if err != nil {
			t.Errorf("ParseTmpfs(%q) = %v; want it to parse", c.spec, err)
			continue
		}
		if m.Flags != c.flags || m.Data != c.data || m.Type != "tmpfs" || m.Source != "tmpfs" {
			t.Errorf("ParseTmpfs(%q) = flags %s, data %q; want %s, %q", c.spec, mount.FlagNames(m.Flags), m.Data, mount.FlagNames(c.flags), c.data)
		}
		if c.cmd != "" && m.String() != c.cmd {
			t.Errorf("ParseTmpfs(%q).String() = %q; want %q", c.spec, m.String(), c.cmd)
		}
	}
}

// TestParseTmpfsRefuses: each bad spec is an error that names the flag and
// what is wrong, before anything could be mounted.
func TestParseTmpfsRefuses(t *testing.T) {
	for spec, want := range map[string]string{
		"":                "no target",
		"run":             `target "run" is not an absolute path`,
		"/":               "cannot replace the container's /",
		"/..":             "cannot replace the container's /",
		"/x:size=8q":      `size "8q": want bytes with an optional k, m or g suffix`,
		"/x:size=8mb":     `size "8mb"`,
		"/x:size=-1":      `size "-1"`,
		"/x:size=1.5g":    `size "1.5g"`,
		"/x:size=010m":    `size "010m"`,
		"/x:size=":        `size ""`,
		"/x:size=x%":      `size "x%": want a whole percentage`,
		"/x:size=99999e":  "too large",
		"/x:mode=999":     `mode "999": want octal`,
		"/x:mode=17777":   `mode "17777"`,
		"/x:uid=root":     `uid "root": want a number`,
		"/x:huge=maybe":   `huge "maybe"`,
		"/x:bogus":        `unknown option "bogus"`,
		"/x:color=blue":   `unknown tmpfs option "color"`,
		"/x:nr_blocks=1%": `nr_blocks "1%"`,
	} {
		_, err := mount.ParseTmpfs(spec)
		if err == nil || !strings.HasPrefix(err.Error(), "--tmpfs "+spec+": ") || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseTmpfs(%q) = %v; want an error starting with the flag and saying %q", spec, err, want)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]uint64{
		"0": 0, "4096": 4096, "64k": 64 << 10, "64K": 64 << 10, "8m": 8 << 20, "1G": 1 << 30,
		"2t": 2 << 40, "1p": 1 << 50, "1e": 1 << 60, "65536k": 64 << 20,
	} {
		if got, err := mount.ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "k", "8x", "8 m", " 8m", "0x10", "08", "1.5m", "-1", "16e", "18446744073709551616"} {
		if got, err := mount.ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) = %d; want an error", in, got)
		}
	}
}

func TestParsePropagation(t *testing.T) {
	for name, want := range map[string]uintptr{
		"private": unix.MS_PRIVATE, "rprivate": unix.MS_PRIVATE | unix.MS_REC,
		"slave": unix.MS_SLAVE, "rslave": unix.MS_SLAVE | unix.MS_REC,
		"shared": unix.MS_SHARED, "rshared": unix.MS_SHARED | unix.MS_REC,
	} {
		if got, ok := mount.ParsePropagation(name); !ok || got != want {
			t.Errorf("ParsePropagation(%q) = %s, %v; want %s", name, mount.FlagNames(got), ok, mount.FlagNames(want))
		}
	}
	for _, name := range []string{"", "unbindable", "RSLAVE", "ro"} {
		if _, ok := mount.ParsePropagation(name); ok {
			t.Errorf("ParsePropagation(%q) is accepted; want it refused", name)
		}
	}
}

// TestBind: a volume is a recursive bind, read-only in a second call, and
// its propagation made explicit (rprivate unless asked otherwise), as
// Docker's OCI spec asks runc for ["rbind", "ro", "rprivate"].
func TestBind(t *testing.T) {
	for _, c := range []struct {
		ro   bool
		prop uintptr
		want []string
	}{
		{false, 0, []string{"mount --rbind /v /data", "mount --make-rprivate /data"}},
		{true, 0, []string{"mount --rbind -o ro=recursive /v /data", "mount --make-rprivate /data"}},
		{false, unix.MS_SLAVE | unix.MS_REC, []string{"mount --rbind /v /data", "mount --make-rslave /data"}},
		{false, unix.MS_SHARED, []string{"mount --rbind /v /data", "mount --make-shared /data"}},
	} {
		var got []string
		for _, m := range mount.Bind("/v", "/data", c.ro, c.prop) {
			got = append(got, m.String())
		}
		if strings.Join(got, "; ") != strings.Join(c.want, "; ") {
			t.Errorf("Bind(/v, /data, %v, %s) = %q; want %q", c.ro, mount.FlagNames(c.prop), got, c.want)
		}
	}
}

// TestRootPropagation: a container's / becomes a slave tree only when a
// volume needs the host's mounts to keep coming in; never shared.
func TestRootPropagation(t *testing.T) {
	private := mount.Bind("/a", "/a", false, 0)
	slave := mount.Bind("/b", "/b", false, unix.MS_SLAVE|unix.MS_REC)
	shared := mount.Bind("/c", "/c", true, unix.MS_SHARED|unix.MS_REC)
	for _, c := range []struct {
		ms   []mount.Mount
		want uintptr
	}{
		{nil, unix.MS_PRIVATE | unix.MS_REC},
		{append(mount.ContainerMounts(), private...), unix.MS_PRIVATE | unix.MS_REC},
		{append(private, slave...), unix.MS_SLAVE | unix.MS_REC},
		{shared, unix.MS_SLAVE | unix.MS_REC},
	} {
		if got := mount.RootPropagation(c.ms); got != c.want {
			t.Errorf("RootPropagation(%v) = %s; want %s", c.ms, mount.FlagNames(got), mount.FlagNames(c.want))
		}
	}
}
