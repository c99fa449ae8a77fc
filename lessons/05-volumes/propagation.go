//go:build linux

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/mount"
	"github.com/unboxlab/unbox/internal/procfs"
)

// propagationModes are step 7's containers: a name and the -v mode each
// mounts host/media with ("" is Docker's default, rprivate).
var propagationModes = []struct{ name, mode string }{
	{"private", ""},
	{"slave", "rslave"},
	{"shared", "rshared"},
}

func (l *lab) stepPropagation(s *kit.Session) error {
	media := l.path("host", "media")
	usb := filepath.Join(media, "usb")
	if err := os.MkdirAll(usb, 0o755); err != nil {
		return err
	}
	// host/media is made a mount point in a peer group of its own, as a
	// host shares a directory it will mount things in later (the kubelet
	// does this with its pods' directories).
	trace, err := l.mountOnHost(
		mount.Mount{Source: media, Target: media, Flags: unix.MS_BIND},
		mount.Mount{Target: media, Flags: unix.MS_PRIVATE},
		mount.Mount{Target: media, Flags: unix.MS_SHARED},
	)
	cmds := []string{"mkdir -p host/media/usb"}
	for _, st := range trace {
		cmds = append(cmds, l.rel(st.Command))
	}
	s.Cmd("%s    # a shared mount of its own", strings.Join(cmds, "\n"))
	if err != nil {
		return err
	}
	group, err := peerGroup(media)
	if err != nil {
		return err
	}
	ctrs := map[string]*container{}
	for _, p := range propagationModes {
		spec := media + ":/media"
		if p.mode != "" {
			spec += ":" + p.mode
		}
		c, err := l.run(s, runOpts{Name: p.name, Volumes: []string{spec}})
		if err != nil {
			return err
		}
		ctrs[p.name] = c
	}

	later, err := l.mountOnHost(mount.Mount{Source: "usb", Target: usb, Type: "tmpfs", Data: "size=1m"})
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(usb, "photo.jpg"), []byte("a photo\n"), 0o644); err != nil {
		return err
	}
	s.Cmd("%s    # later, on the host\necho 'a photo' > host/media/usb/photo.jpg", l.rel(later[0].Command))

	var rows [][]string
	for _, p := range propagationModes {
		c := ctrs[p.name]
		ms, err := c.do(request{Op: "mounts", Path: "/media"})
		if err != nil {
			return err
		}
		ls, err := c.do(request{Op: "ls", Path: "/media/usb"})
		if err != nil {
			return err
		}
		prop := "?"
		if len(ms.Lines) > 0 {
			prop = describePropagation(strings.SplitN(ms.Lines[0], " ", 4)[3], group)
		}
		seen := "(empty directory)"
		if len(ls.Lines) > 0 {
			seen = strings.Join(names(ls.Lines), " ")
		}
		mode := p.mode
		if mode == "" {
			mode = "(rprivate)"
		}
		rows = append(rows, []string{p.name, mode, prop, fmt.Sprint(len(ms.Lines) > 1), seen})
	}
	s.Cmd("for c in private slave shared; do docker exec $c sh -c 'findmnt -R /media; ls /media/usb'; done")
	s.Table([]string{"container", "-v mode", "/media inside", "usb mounted", "ls /media/usb"}, rows)
	s.Note("A new mount namespace copies the host's mounts; each copy of a shared mount is a peer, and a\n" +
		"mount made under one peer appears under all. Docker's default, rprivate, cuts the volume off:\n" +
		"private saw the directory, not the tmpfs mounted on it later. rslave makes the volume a slave:\n" +
		"the host's mounts come in, the container's do not go out. The container's / must stay a slave\n" +
		"too (mount --make-rslave / above, not rprivate), or the copy is private before the bind is made.\n" +
		"rshared also passes the container's mounts under /media to its peers; to reach the host that\n" +
		"would need a shared /, which unbox refuses: every mount of the container would show on the host.")
	return nil
}

// peerGroup is the peer group of the shared mount at point on the host:
// the N of its shared:N in mountinfo.
func peerGroup(point string) (string, error) {
	ms, err := procfs.ReadMountinfo("self")
	if err != nil {
		return "", err
	}
	m, ok := procfs.Mounts(ms).At(point)
	for _, o := range m.Optional {
		if g, found := strings.CutPrefix(o, "shared:"); ok && found {
			return g, nil
		}
	}
	return "", fmt.Errorf("%s is not a shared mount: %q", point, m.Optional)
}

// describePropagation puts mountinfo's optional fields in words: private,
// shared (a peer group of the container's own), slave of host/media's
// group (the host's, whose number is group).
func describePropagation(fields, group string) string {
	var out []string
	for _, f := range strings.Fields(fields) {
		switch {
		case f == "private":
			out = append(out, "private")
		case strings.HasPrefix(f, "shared:"):
			out = append(out, "shared")
		case f == "master:"+group:
			out = append(out, "slave of host/media")
		default:
			out = append(out, f)
		}
	}
	return strings.Join(out, ", ")
}

// names are the last fields of ls lines: the names.
func names(lines []string) []string {
	var out []string
	for _, l := range lines {
		f := strings.Fields(l)
		out = append(out, f[len(f)-1])
	}
	return out
}
