package layer

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/unboxlab/unbox/internal/rootfs"
)

// Tar writes the root filesystem of opts (see [rootfs.Build]) to w as an uncompressed tar stream, as an
// image layer holds it: paths relative to the root ("bin/busybox",
// directories ending in "/"), in lexical order, owned by root, with every
// time set to the Unix epoch. The same plan gives the same bytes, and so
// the same layer digest, on every run. It returns the source the programs
// came from.
func Tar(ctx context.Context, w io.Writer, opts rootfs.Options) (rootfs.Source, error) {
	dir, source, err := rootfs.Cached(ctx, opts)
	if err != nil {
		return "", err
	}
	tw := tar.NewWriter(w)
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		return tarEntry(tw, dir, path, d)
	})
	if err != nil {
		return "", fmt.Errorf("tar of root filesystem %s: %w", dir, err)
	}
	if err := tw.Close(); err != nil {
		return "", fmt.Errorf("tar of root filesystem %s: %w", dir, err)
	}
	return source, nil
}

func tarEntry(tw *tar.Writer, dir, path string, d fs.DirEntry) error {
	fi, err := d.Info()
	if err != nil {
		return err
	}
	var link string
	if fi.Mode()&fs.ModeSymlink != 0 {
		if link, err = os.Readlink(path); err != nil {
			return err
		}
	}
	hdr, err := tar.FileInfoHeader(fi, link)
	if err != nil {
		return err
	}
	rel, _ := filepath.Rel(dir, path)
	hdr.Name = filepath.ToSlash(rel)
	if fi.IsDir() {
		hdr.Name += "/"
	}
	hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "", ""
	hdr.ModTime, hdr.AccessTime, hdr.ChangeTime = time.Unix(0, 0), time.Time{}, time.Time{}
	hdr.Format = tar.FormatPAX
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(tw, f)
	return err
}
