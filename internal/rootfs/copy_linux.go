package rootfs

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

func copyFile(src, dst string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	// os.OpenFile's perm passes through the umask; set it exactly.
	return os.Chmod(dst, perm)
}

// copyTree copies a tree of directories, regular files and symlinks (the
// only things a root filesystem fixture holds) from src to a new dst.
func copyTree(src, dst string) error {
	if _, err := os.Lstat(dst); err == nil {
		if entries, _ := os.ReadDir(dst); len(entries) > 0 {
			return fmt.Errorf("%s exists and is not empty", dst)
		}
	}
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
			return os.Chmod(target, fi.Mode()&(fs.ModePerm|fs.ModeSticky))
		case fi.Mode()&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		case fi.Mode().IsRegular():
			return copyFile(path, target, fi.Mode().Perm())
		}
		return fmt.Errorf("%s: unexpected file type %v", path, fi.Mode().Type())
	})
}
