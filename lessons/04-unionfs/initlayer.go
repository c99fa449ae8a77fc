//go:build linux

package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/mount"
	"github.com/unboxlab/unbox/internal/overlay"
)

// The init layer sits between the image and a container's writable layer.
// It holds what the runtime generates for this one container: its
// /etc/hostname, an /etc/hosts naming it, an /etc/resolv.conf. Those files
// describe one container on one host, so they must never end up in an
// image; and an image build or `docker commit` archives the writable layer
// only. Keeping them in a layer of their own, below the writable one, is
// what keeps them out.
//
// Docker's init layer (moby daemon/initlayer) holds empty placeholders for
// these files, and bind-mounts the generated ones over them, so that it can
// rewrite them while the container runs. This lesson writes the contents into
// the init layer itself, so that every layer can be read on disk.

// resolvNameserver is in TEST-NET-1 (RFC 5737), reserved for documentation:
// the container has no network until lesson 06, and nothing here depends
// on the host's own resolv.conf.
const resolvNameserver = "192.0.2.53"

// initFiles are the files of a container's init layer.
func initFiles(hostname string) []change {
	return []change{
		{Path: "etc/hostname", Content: hostname + "\n"},
		{Path: "etc/hosts", Content: "127.0.0.1 localhost\n" +
			"::1       localhost ip6-localhost ip6-loopback\n" +
			"127.0.1.1 " + hostname + "\n"},
		{Path: "etc/resolv.conf", Content: "# Generated for " + hostname + ". A runtime copies the host's nameservers, leaving out\n" +
			"# loopback ones the container cannot reach; this one is a documentation address.\n" +
			"nameserver " + resolvNameserver + "\n"},
	}
}

// container is one container's part of the picture: its init layer, its
// writable upper dir, overlayfs's work dir and the mount point of the union.
type container struct {
	Name     string
	Hostname string
	Dir      string
	Init     string
	Upper    string
	Work     string
	Merged   string

	layers  overlay.Layers // what lab.mount stacked
	overlay mount.Mount    // and the mount it made of them
	unmount func() error   // set while mounted
}

// newContainer makes containers/<name>/ with a generated init layer and the
// empty upper, work and merged directories.
func (l *lab) newContainer(name string) (*container, error) {
	dir := l.path("containers", name)
	c := &container{
		Name:     name,
		Hostname: "unbox-" + name,
		Dir:      dir,
		Init:     filepath.Join(dir, "init"),
		Upper:    filepath.Join(dir, "upper"),
		Work:     filepath.Join(dir, "work"),
		Merged:   filepath.Join(dir, "merged"),
	}
	for _, d := range []string{c.Init, c.Upper, c.Work, c.Merged} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	if err := writeChanges(c.Init, initFiles(c.Hostname)); err != nil {
		return nil, fmt.Errorf("init layer of %s: %w", name, err)
	}
	l.Containers = append(l.Containers, c)
	return c, nil
}

// container returns the container called name, or nil.
func (l *lab) container(name string) *container {
	for _, c := range l.Containers {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func (l *lab) stepInit(s *kit.Session) error {
	c, err := l.newContainer("a")
	if err != nil {
		return err
	}
	s.Cmd("mkdir -p %s/etc\n"+
		"echo %s > %s/etc/hostname    # and /etc/hosts, /etc/resolv.conf", l.rel(c.Init), c.Hostname, l.rel(c.Init))
	for _, f := range initFiles(c.Hostname) {
		b, err := os.ReadFile(filepath.Join(c.Init, filepath.FromSlash(f.Path)))
		if err != nil {
			return err
		}
		s.Cmd("cat %s/%s", l.rel(c.Init), f.Path)
		s.Show("%s", b)
	}
	s.Note("These files describe one container on one host. In a layer of their own, below the container's\n" +
		"writable layer, they are in its view of /etc but never in what a commit or a build archives,\n" +
		"which is the writable layer alone. (Docker keeps empty placeholders here and bind-mounts the\n" +
		"generated files over them, so it can rewrite them while the container runs.)")
	return nil
}
