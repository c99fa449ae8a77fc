//go:build linux && solution

package main

// The reference solutions of the README's exercises, built only with
// `-tags solution`: `go run -tags solution -exec sudo ./lessons/05-volumes
// check N` passes for every N, which CI proves (kittest.CheckExercises).
// Try yours first: exercises.go.

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// bindReadOnly is exercise 1.
func bindReadOnly(source, target string) error {
	if err := unix.Mount(source, target, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("mount --bind %s %s: %w", source, target, err)
	}
	if err := unix.Mount("", target, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, ""); err != nil {
		return fmt.Errorf("mount -o remount,bind,ro %s: %w", target, err)
	}
	return nil
}

// populateVolume is exercise 2.
func populateVolume(image, volume string) error {
	return filepath.WalkDir(image, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(image, p)
		if err != nil {
			return err
		}
		dst := filepath.Join(volume, rel)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case p == image:
		case d.IsDir():
			if err := os.Mkdir(dst, 0o700); err != nil {
				return err
			}
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			if err := os.Symlink(target, dst); err != nil {
				return err
			}
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p) // an image's config files: small
			if err != nil {
				return err
			}
			if err := os.WriteFile(dst, b, 0o600); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s: not a file, a directory or a symlink", p)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if err := os.Lchown(dst, int(st.Uid), int(st.Gid)); err != nil {
			return err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			return os.Chmod(dst, fi.Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky))
		}
		return nil
	})
}

// bindSlave is exercise 3.
func bindSlave(source, target string) error {
	if err := unix.Mount(source, target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("mount --rbind %s %s: %w", source, target, err)
	}
	if err := unix.Mount("", target, "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("mount --make-rslave %s: %w", target, err)
	}
	return nil
}
