//go:build linux

package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/unboxlab/unbox/internal/kit"
)

// sharePaths are the paths step 6 compares between the two containers.
var sharePaths = []string{"/etc/hostname", "/etc/app.conf", "/srv/www", "/srv/www/assets", "/srv/www/index.html"}

// sizeRow is one line of the disk usage table.
type sizeRow struct {
	Dir   string
	Files int
	Bytes int64
}

// sizes counts what is on disk for the image and for each container.
func (l *lab) sizes() ([]sizeRow, error) {
	var dirs []string
	for _, layer := range l.Layers {
		dirs = append(dirs, layer.Dir)
	}
	for _, c := range l.Containers {
		dirs = append(dirs, c.Init, c.Upper)
	}
	var rows []sizeRow
	for _, d := range dirs {
		files, bytes, err := usage(d)
		if err != nil {
			return nil, err
		}
		rows = append(rows, sizeRow{d, files, bytes})
	}
	return rows, nil
}

func (l *lab) stepShare(s *kit.Session) error {
	a := l.container("a")
	b, err := l.newContainer("b")
	if err != nil {
		return err
	}
	if err := l.mount(b); err != nil {
		return err
	}
	s.Cmd("mkdir -p %s/etc %s %s \\\n    %s    # and b's init files", l.rel(b.Init), l.rel(b.Upper), l.rel(b.Work), l.rel(b.Merged))
	s.Cmd("%s", l.mountCommand(b))
	index := filepath.Join(b.Merged, "srv/www/index.html")
	if err := os.WriteFile(index, []byte("<h1>hello from b</h1>\n"), 0o644); err != nil {
		return fmt.Errorf("echo > %s: %w", index, err)
	}
	s.Cmd("echo '<h1>hello from b</h1>' > %s", l.rel(index))

	var rows [][]string
	for _, p := range sharePaths {
		rows = append(rows, []string{p, shown(s, look(filepath.Join(a.Merged, p))), shown(s, look(filepath.Join(b.Merged, p)))})
	}
	s.Table([]string{"path", "in container a", "in container b"}, rows)
	s.Note("The same three image layers under both, and each container sees only its own changes: b has\n" +
		"about.html, logo.svg and debug=false, a has its own edits and no index.html change.")

	sizes, err := l.sizes()
	if err != nil {
		return err
	}
	rows = nil
	var image, containers int64
	for i, r := range sizes {
		rows = append(rows, []string{l.rel(r.Dir), fmt.Sprint(r.Files), sizeOf(s, r.Bytes)})
		if i < len(l.Layers) {
			image += r.Bytes
		} else {
			containers += r.Bytes
		}
	}
	s.Cmd("du -s --apparent-size layers/* containers/*/init containers/*/upper")
	s.Table([]string{"directory", "files", "bytes in files"}, rows)
	s.Note("The image, %s, is on disk once however many containers run it; each container adds\n"+
		"only its init layer and what it wrote, %s for both here. Reads share the page cache too:\n"+
		"overlayfs reads a lower file through the layer's own inode, so the two containers' reads of\n"+
		"/bin/sh use the same cached pages. (The table counts bytes in regular files, which, unlike\n"+
		"du's blocks, do not depend on the filesystem.)", sizeOf(s, image), sizeOf(s, containers))
	return nil
}
