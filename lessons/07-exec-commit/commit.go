//go:build linux

package main

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/layer"
	"github.com/unboxlab/unbox/internal/ocilayout"
	"github.com/unboxlab/unbox/internal/overlay"
)

// changeScript is step 7: one change of each kind a layer records, and two
// that a commit must leave out.
const changeScript = `echo '<p>new page</p>' > /srv/www/new.html
echo 'Changed in the container.' >> /etc/motd
rm /srv/www/about.html
rm -r /var/cache/app && mkdir /var/cache/app && echo fresh > /var/cache/app/page-1
echo '192.0.2.10 db' >> /etc/hosts
echo kept > /data/on-the-volume`

// commitExclude are the paths a commit of a lesson container leaves out:
// the init layer's files, and the volume's mount point.
var commitExclude = append(slices.Clone(layer.InitFiles), volumeTarget)

func (st *state) stepChanges(s *kit.Session) error {
	c, err := st.running()
	if err != nil {
		return err
	}
	l := st.lab
	s.Cmd("docker exec web sh -c '\n%s'", changeScript)
	out, status, err := l.run(c, []string{"sh", "-ec", changeScript}, execOpts{})
	if err != nil {
		return err
	}
	if status.Code != 0 {
		return fmt.Errorf("the changes: %v\n%s", status, out)
	}
	s.Cmd("cd %s && find . | sort    # what overlayfs wrote, and what each entry is", l.rel(c.Upper))
	entries, err := readUpper(c.Upper)
	if err != nil {
		return err
	}
	var rows [][]string
	for _, e := range entries {
		rows = append(rows, []string{e.name, e.what})
	}
	s.Table([]string{"in upper/", "on disk"}, rows)
	s.Note("Everything the container changed is in its upper dir, and only there: whole copied-up files,\n" +
		"a character device 0/0 for the deleted page, an opaque directory for the cache made again. The\n" +
		"directories above them were copied up to hold them. /etc/hosts was copied up too, out of the\n" +
		"init layer, and /data is the volume's mount point: neither belongs in the image.")
	return nil
}

// upperEntry is one entry of an upper dir, as step 7 lists it.
type upperEntry struct{ name, what string }

func readUpper(upper string) ([]upperEntry, error) {
	var out []upperEntry
	err := filepath.WalkDir(upper, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == upper {
			return err
		}
		rel, _ := filepath.Rel(upper, p)
		m, err := overlay.ReadMarker(p)
		if err != nil {
			return err
		}
		e := upperEntry{name: rel}
		switch {
		case m == overlay.Whiteout:
			e.what = "whiteout: character device 0/0"
		case m == overlay.Opaque:
			e.what = "opaque directory (" + overlay.OpaqueXattr + "=y)"
		case d.IsDir():
			e.name, e.what = rel+"/", "directory"
		default:
			fi, err := d.Info()
			if err != nil {
				return err
			}
			e.what = fmt.Sprintf("file, %d bytes", fi.Size())
		}
		if slices.Contains(commitExclude, "/"+rel) {
			e.what += "  (left out of a commit)"
		}
		out = append(out, e)
		return nil
	})
	return out, err
}

func (st *state) stepCommit(s *kit.Session) error {
	c, err := st.running()
	if err != nil {
		return err
	}
	l := st.lab
	var ex []string
	for _, p := range commitExclude {
		ex = append(ex, "--exclude=."+p)
	}
	s.Cmd("# docker commit web: a tar of the upper dir, owners as numbers, every time the epoch, a 0/0\n"+
		"# device as .wh.<name>, an opaque directory as .wh..wh..opq in it (internal/layer.WriteDiff)\n"+
		"tar -C %s --sort=name --numeric-owner --mtime=@0 \\\n    %s \\\n    %s \\\n    -c . | gzip -n > layer",
		l.rel(c.Upper), strings.Join(ex[:2], " "), strings.Join(ex[2:], " "))
	commit := func(w io.Writer) error { return layer.WriteDiff(w, c.Upper, layer.DiffOptions{Exclude: commitExclude}) }
	ly, err := layer.Store(l.Layout, commit)
	if err != nil {
		return err
	}
	st.layer = ly
	s.Cmd("tar -tvzf image/blobs/sha256/%s…", short(ly.Descriptor.Digest))
	listing, err := tarListing(l, ly)
	if err != nil {
		return err
	}
	s.Show("%s", strings.Join(listing, "\n"))
	s.Cmd("sha256sum layer; gunzip < layer | sha256sum    # for the manifest; for the config")
	s.Host("digest   %s", ly.Descriptor.Digest)
	s.Host("diff ID  %s", ly.DiffID)
	s.Cmd("# the same changes again, in another container, a moment later: the same layer?\n" +
		"docker run -d --name again base; docker exec again sh -c '...'; docker commit again")
	again, err := st.commitAgain(s)
	if err != nil {
		return err
	}
	same := "another digest: the layer is not reproducible"
	if again.Descriptor.Digest == ly.Descriptor.Digest && again.DiffID == ly.DiffID {
		same = "the same digest and diff ID"
	}
	s.Host("%s", same)
	s.Note("The layer holds the four changes and the directories above them, and nothing of /etc/hosts\n" +
		"or /data. Names in order, numeric owners, one time for every entry: the same change gives the\n" +
		"same bytes, so the same digest, on any machine (docker commit keeps the files' own times, so\n" +
		"its digests differ from one commit to the next).")
	return nil
}

// commitAgain makes step 7's changes in a new container of the base image
// and commits them, then removes the container.
func (st *state) commitAgain(s *kit.Session) (ocilayout.Layer, error) {
	l := st.lab
	c, err := l.newContainer("again", st.base, st.snaps)
	if err != nil {
		return ocilayout.Layer{}, err
	}
	if err := c.start(s.Ctx, l); err != nil {
		return ocilayout.Layer{}, err
	}
	out, status, err := l.run(c, []string{"sh", "-ec", changeScript}, execOpts{})
	if err == nil && status.Code != 0 {
		err = fmt.Errorf("the changes: %v\n%s", status, out)
	}
	if err != nil {
		return ocilayout.Layer{}, err
	}
	ly, err := layer.Commit(io.Discard, c.Upper, layer.DiffOptions{Exclude: commitExclude})
	if err != nil {
		return ly, err
	}
	if err := c.stop(l); err != nil {
		return ly, err
	}
	return ly, c.unmountRoot()
}

// tarListing lists the layer as tar -tv does.
func tarListing(l *lab, ly ocilayout.Layer) ([]string, error) {
	blob, err := l.Layout.OpenBlob(ly.Descriptor)
	if err != nil {
		return nil, err
	}
	defer blob.Close()
	zr, err := gzip.NewReader(blob)
	if err != nil {
		return nil, err
	}
	var out []string
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		mode := hdr.FileInfo().Mode()
		out = append(out, fmt.Sprintf("%s %d/%d %5d %s %s", strings.ToLower(mode.String()[:1])+mode.String()[1:],
			hdr.Uid, hdr.Gid, hdr.Size, hdr.ModTime.UTC().Format("2006-01-02 15:04"), hdr.Name))
	}
}

func (st *state) stepImage(s *kit.Session) error {
	c, err := st.running()
	if err != nil {
		return err
	}
	l := st.lab
	img := st.base.WithLayer(st.layer, ocispec.History{CreatedBy: "unbox commit web", Comment: "lesson 07, step 7"})
	if img, err = l.Layout.WriteImage(img, committedImage); err != nil {
		return err
	}
	st.committed = img
	s.Cmd("# the config: the base's, with one more diff ID and history entry; the manifest: its layers\n" +
		"umoci stat --image image:committed; cat image/index.json")
	var rows [][]string
	for i, ly := range img.Layers() {
		rows = append(rows, []string{fmt.Sprint(i + 1), img.Config.History[i].CreatedBy, short(ly.DiffID), fmt.Sprint(ly.Descriptor.Size)})
	}
	s.Table([]string{"layer", "created by", "diff ID", "bytes"}, rows)
	idx, err := l.Layout.Index()
	if err != nil {
		return err
	}
	var names []string
	for _, m := range idx.Manifests {
		names = append(names, m.Annotations[ocispec.AnnotationRefName])
	}
	s.Host("image/index.json: %s; the config's command: %s, in %s", strings.Join(names, ", "),
		strings.Join(img.Config.Config.Cmd, " "), img.Config.Config.WorkingDir)

	snaps, err := l.unpack(img)
	if err != nil {
		return err
	}
	var lines []string
	for _, sn := range snaps {
		what := "there already: shared with base"
		if sn.Unpacked {
			what = "unpacked"
		}
		lines = append(lines, fmt.Sprintf("%s: %s", l.rel(sn.Dir), what))
	}
	s.Cmd("docker run -d --name web2 committed    # its layers, unpacked where they are not yet")
	s.Host("%s", strings.Join(lines, "\n"))
	web2, err := l.newContainer("web2", img, snaps)
	if err != nil {
		return err
	}
	st.web2 = web2
	if err := web2.start(s.Ctx, l); err != nil {
		return err
	}
	look := "cat /etc/motd\necho /srv/www: $(ls /srv/www); echo /var/cache/app: $(ls /var/cache/app)\n" +
		"echo hostname: $(cat /etc/hostname), db in /etc/hosts: $(grep -c db /etc/hosts)\necho /data: $(ls /data)"
	s.Cmd("docker exec web2 sh -c '\n%s'", look)
	out, _, err := l.run(web2, []string{"sh", "-c", look}, execOpts{})
	if err != nil {
		return err
	}
	s.Inside("%s", out)
	s.Cmd("docker history committed")
	rows = nil
	layers := img.Layers()
	for i := len(layers) - 1; i >= 0; i-- {
		h := img.Config.History[i]
		rows = append(rows, []string{short(layers[i].Descriptor.Digest), h.CreatedBy, h.Comment, fmt.Sprint(layers[i].Descriptor.Size)})
	}
	s.Table([]string{"layer", "created by", "comment", "bytes"}, rows)
	_ = c
	s.Note("web2 runs the committed image: the new page, the changed motd, no about.html, the new cache.\n" +
		"Its /etc/hostname and /etc/hosts are its own init layer's, not web's; /data is the volume,\n" +
		"bound in again, not a part of the image. The image is three layers, the base's two shared.")
	return nil
}
