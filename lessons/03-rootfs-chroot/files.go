//go:build linux

package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/kit"
)

// Small stand-ins for ls, cat, getcwd and find that print what the shell
// would, so that a step's evidence reads like a terminal.

// ls lists dir like `ls -A`: every name but . and .., sorted.
func ls(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return names, nil
}

// listing prints names on one line, or "(empty)".
func listing(s *kit.Session, names []string) string {
	if len(names) == 0 {
		return s.T("(empty)")
	}
	return strings.Join(names, " ")
}

// nothing prints names on one line, or "(nothing)" for a search that
// found nothing.
func nothing(s *kit.Session, names []string) string {
	if len(names) == 0 {
		return s.T("(nothing)")
	}
	return strings.Join(names, " ")
}

// visible drops the names ls shows only with -a.
func visible(names []string) []string {
	var out []string
	for _, n := range names {
		if !strings.HasPrefix(n, ".") {
			out = append(out, n)
		}
	}
	return out
}

// cat reads a file as `cat` shows it: its text, or the error as the shell
// prints it ("no such file or directory").
func cat(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return errText(err)
	}
	return strings.TrimRight(string(b), "\n")
}

// errText is an error the way a shell command reports it: the system call's
// message without the Go wrapping.
func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// getcwd returns the kernel's getcwd(2) answer verbatim. When the working
// directory is not under the process's root, the kernel says so by
// prefixing "(unreachable)"; Go's os.Getwd hides that, so call it directly.
func getcwd() string {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Getcwd(buf)
	if err != nil {
		return "getcwd: " + err.Error()
	}
	return strings.TrimRight(string(buf[:n]), "\x00")
}

// sameDir reports whether a and b are the same directory (same device and
// inode), as at the top of a tree, where .. is . itself.
func sameDir(a, b string) (bool, error) {
	var sa, sb unix.Stat_t
	if err := unix.Stat(a, &sa); err != nil {
		return false, fmt.Errorf("stat %s: %w", a, err)
	}
	if err := unix.Stat(b, &sb); err != nil {
		return false, fmt.Errorf("stat %s: %w", b, err)
	}
	return sa.Dev == sb.Dev && sa.Ino == sb.Ino, nil
}

// findXdev is `find root -xdev -name name`: every path named name on the
// filesystem of root, not descending into other mounts.
func findXdev(root, name string) ([]string, error) {
	var st unix.Stat_t
	if err := unix.Lstat(root, &st); err != nil {
		return nil, fmt.Errorf("stat %s: %w", root, err)
	}
	var found []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // unreadable: find would say so and go on
		}
		if d.IsDir() && path != root {
			var s unix.Stat_t
			if unix.Lstat(path, &s) == nil && s.Dev != st.Dev {
				return fs.SkipDir
			}
		}
		if d.Name() == name {
			found = append(found, path)
		}
		return nil
	})
	return found, err
}

// mountCount is "1 mount", "6 mounts".
func mountCount(s *kit.Session, n int) string {
	if n == 1 {
		return s.T("1 mount")
	}
	return s.T("%d mounts", n)
}
