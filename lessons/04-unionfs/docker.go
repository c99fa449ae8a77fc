//go:build linux

package main

import (
	"fmt"
	"strings"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/overlay"
)

// Docker's overlay2 driver keeps the same picture under /var/lib/docker
// (moby daemon/graphdriver/overlay2, layer/ and image/):
//
//	overlay2/<id>/diff           a layer's files: what layers/<n> holds here
//	overlay2/<id>/link           the layer's short name, and overlay2/l/<short>
//	                             a symlink to ../<id>/diff (exercise 3)
//	overlay2/<id>/lower          the layers below it, as l/<short>:l/<short>
//	overlay2/<ctr>-init/diff     the init layer of a container
//	overlay2/<ctr>/{diff,work,merged}   its writable layer, scratch dir, union
//	image/overlay2/layerdb/sha256/<chain-id>/   a layer's metadata: diff
//	                             (its digest), cache-id (its <id> above),
//	                             size, parent, tar-split.json.gz
//	image/overlay2/layerdb/mounts/<ctr>/        mount-id, init-id, parent
//	volumes/<name>/_data         a named volume
//
// The <id>s are random (cache-id), so the step maps the lab's directories
// to their places and reads container a's union back from the kernel, in
// the form `docker inspect` prints it (GraphDriver.Data).

// dockerPlaces maps the lab's directories to Docker's.
var dockerPlaces = [][]string{
	{"layers/1-base", "overlay2/<id1>/diff", "the layer's files"},
	{"layers/2-app", "overlay2/<id2>/diff", ""},
	{"", "overlay2/<id2>/lower: l/<short1>", "the layers below it"},
	{"layers/3-cleanup", "overlay2/<id3>/diff", ""},
	{"", "overlay2/<id3>/lower: l/<short2>:l/<short1>", ""},
	{"(short names)", "overlay2/l/<short> -> ../<id>/diff", "keeps lowerdir= short"},
	{"(what a layer is)", "image/overlay2/layerdb/sha256/<chain-id>/", "diff, cache-id, size, parent"},
	{"containers/a/init", "overlay2/<ctr>-init/diff", "the init layer"},
	{"containers/a/upper", "overlay2/<ctr>/diff", "the container's changes"},
	{"containers/a/work", "overlay2/<ctr>/work", ""},
	{"containers/a/merged", "overlay2/<ctr>/merged", "the union, the container's /"},
	{"(what a container is)", "image/overlay2/layerdb/mounts/<ctr>/", "mount-id, init-id, parent"},
	{"volumes/data", "volumes/<name>/_data", "a named volume"},
}

func (l *lab) stepDocker(s *kit.Session) error {
	c := l.container("a")
	m, err := mountedAt(c.Merged)
	if err != nil {
		return err
	}
	layers, err := overlay.FromMount(m)
	if err != nil {
		return err
	}
	rows := make([][]string, len(dockerPlaces))
	for i, p := range dockerPlaces {
		what := p[0]
		if strings.HasPrefix(what, "(") {
			what = s.T(what) // words, not a directory
		}
		rows[i] = []string{what, p[1], s.T(p[2])}
	}
	s.Cmd("# the lab's directories, and where Docker's overlay2 driver keeps the same, under\n" +
		"# /var/lib/docker (<id> and <ctr> are random names, <chain-id> a digest of the layers)")
	s.Table([]string{"this lesson", "Docker", "what it is"}, rows)

	var lower []string
	for _, d := range layers.Lower {
		lower = append(lower, l.rel(d))
	}
	s.Cmd("docker inspect -f '{{json .GraphDriver.Data}}' a    # here, from the kernel's mount table")
	s.Host("LowerDir  %s", strings.Join(lower, ":"))
	s.Host("UpperDir  %s", l.rel(layers.Upper))
	s.Host("WorkDir   %s", l.rel(layers.Work))
	s.Host("MergedDir %s", l.rel(m.Point))
	if len(lower) != 4 || layers.Upper != c.Upper {
		return fmt.Errorf("the kernel's mount table shows %+v for container a; the lesson mounted %+v", layers, c.layers)
	}
	s.Note("The same directories by other names. Docker keeps a layer's files once, in overlay2/<id>/diff,\n" +
		"however many images share it; layerdb records what the layer is (the digest of its tar, its\n" +
		"parent), and a container adds an -init layer and a layer of its own, as here. Its lowerdir=\n" +
		"names layers by short links in overlay2/l, mounted from that directory, to stay within the\n" +
		"page that mount(2) reads its options from (exercise 3).")
	return nil
}
