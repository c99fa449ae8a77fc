package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// kernelPin is the kernel the lane boots, exactly: Debian 12's
// linux-image-6.1.0-57-amd64 (Linux 6.1.192), which carries its modules in
// the same package. Every boot of every contributor and of CI runs this
// build, whatever apt's linux-image-amd64 points to today, and the .deb is
// refused unless its SHA-256 is the one below.
//
// This is the one place to change it. To bump (Debian's archive drops old
// builds, and then a clean machine can no longer fetch this one):
//
//	sudo apt-get update
//	go run ./internal/vmtest -bump-kernel   # prints this block for apt's current build
//
// paste what it prints here, run `go run ./internal/vmtest`, and update the
// tested kernel in the README's Requirements. The hash it prints comes from
// apt's index, which Debian's archive key signs; from then on the pin holds
// the lane to that file.
var kernelPin = []debPin{
	{Package: "linux-image-6.1.0-57-amd64", Version: "6.1.192-3", SHA256: "14d219d01e1283261817d961dbb3895cb5b4288d0de10e0ba0632a0d993e15bf"},
}

// debPin is one Debian package, by name, version and the SHA-256 of its
// .deb file. A distribution that ships a kernel's modules apart from its
// image (Ubuntu's linux-modules-*) needs two.
type debPin struct {
	Package, Version, SHA256 string
}

func (p debPin) String() string { return p.Package + " " + p.Version }

// fileName is the name apt-get download gives the .deb (an epoch's colon
// is written %3a).
func (p debPin) fileName() string {
	return p.Package + "_" + strings.ReplaceAll(p.Version, ":", "%3a") + "_amd64.deb"
}

// fetchPinned returns the pinned .deb files, from the cache (cacheDir/debs)
// or else fetched with apt-get download, each checked against its pin; a
// mismatch is refused. Cached .debs of other pins (an earlier bump) go.
func fetchPinned(ctx context.Context, cacheDir string, pins []debPin, logf func(string, ...any)) ([]string, error) {
	dir := filepath.Join(cacheDir, "debs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var paths []string
	keep := map[string]bool{}
	for _, p := range pins {
		path := filepath.Join(dir, p.fileName())
		keep[p.fileName()] = true
		err := checkSHA256(path, p.SHA256)
		if err == nil {
			paths = append(paths, path)
			continue
		}
		if !errors.Is(err, fs.ErrNotExist) {
			logf("the cached %s is not the pinned file (%v): fetching it again", p.fileName(), err)
			if err := os.Remove(path); err != nil {
				return nil, err
			}
		}
		if err := aptDownload(ctx, dir, p, logf); err != nil {
			return nil, err
		}
		paths = append(paths, path)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".deb") && !keep[e.Name()] {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
	return paths, nil
}

// aptDownload fetches one pinned package into dir, through a scratch
// directory so that only a file that matches its pin ever sits in dir.
func aptDownload(ctx context.Context, dir string, p debPin, logf func(string, ...any)) error {
	spec := p.Package + "=" + p.Version
	logf("fetching %s (apt-get download)", spec)
	tmp, err := os.MkdirTemp(dir, ".download-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := aptGetDownload(ctx, tmp, spec); err != nil {
		return fmt.Errorf("%w\n%s", err, bumpHint(p))
	}
	got := filepath.Join(tmp, p.fileName())
	if err := checkSHA256(got, p.SHA256); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("apt-get download %s left no %s", spec, p.fileName())
		}
		return fmt.Errorf("refusing to boot %s: %w. It is not the file the lane was pinned to: the archive rebuilt "+
			"the package, or the download is corrupt. If apt's package is the one you want, bump the pin (go run ./internal/vmtest -bump-kernel)",
			p, err)
	}
	return os.Rename(got, filepath.Join(dir, p.fileName()))
}

// aptGetDownload runs `apt-get download spec` in dir (a variable, so that
// tests can stand in for the archive).
var aptGetDownload = func(ctx context.Context, dir, spec string) error {
	// apt-get drops privileges to _apt for downloads when it can; a
	// directory it can write into keeps it from warning about that.
	_ = os.Chmod(dir, 0o777)
	cmd := exec.CommandContext(ctx, "apt-get", "download", spec)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("apt-get download %s: %w\n%s", spec, err, strings.TrimSpace(string(out)))
	}
	return nil
}

func bumpHint(p debPin) string {
	return fmt.Sprintf("The lane boots the pinned kernel %s, and apt cannot fetch it: run apt-get update, and if apt still has "+
		"no such version (Debian's archive has moved on), bump the pin in internal/vmtest/kernelpin.go: "+
		"go run ./internal/vmtest -bump-kernel prints the block for the kernel apt has now", p)
}

// checkSHA256 returns nil when the file's SHA-256 is want, an error naming
// both sums when it is not, and the open error (fs.ErrNotExist) when there
// is no file.
func checkSHA256(path, want string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != strings.ToLower(want) {
		return fmt.Errorf("%s has SHA-256 %s; the pin says %s", filepath.Base(path), got, want)
	}
	return nil
}

// bumpKernel prints the kernelPin block for the kernel apt's
// linux-image-amd64 stands for now.
func bumpKernel(ctx context.Context, w io.Writer) error {
	show, err := aptCacheShow(ctx, "--no-all-versions", "linux-image-amd64")
	if err != nil {
		return err
	}
	pkg, version, err := parseKernelDepends(show)
	if err != nil {
		return err
	}
	if version == "" {
		return fmt.Errorf("apt-cache show linux-image-amd64: %s has no exact version in its Depends", pkg)
	}
	show, err = aptCacheShow(ctx, pkg+"="+version)
	if err != nil {
		return err
	}
	sum, err := parseSHA256Field(show)
	if err != nil {
		return fmt.Errorf("apt-cache show %s=%s: %w", pkg, version, err)
	}
	fmt.Fprintf(w, "// Debian's linux-image-amd64 is %s %s in apt's lists; for internal/vmtest/kernelpin.go:\n", pkg, version)
	fmt.Fprintf(w, "var kernelPin = []debPin{\n\t{Package: %q, Version: %q, SHA256: %q},\n}\n", pkg, version, sum)
	return nil
}

func aptCacheShow(ctx context.Context, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, "apt-cache", append([]string{"show"}, args...)...).Output()
	if err != nil {
		return "", fmt.Errorf("apt-cache show %s: %w (the lane boots Debian's kernel package, which apt has on Debian; elsewhere, "+
			"name kernel packages with -kernel-deb, e.g. Ubuntu's linux-image-unsigned-<version>-generic and "+
			"linux-modules-<version>-generic .debs, comma-separated)", strings.Join(args, " "), err)
	}
	return string(out), nil
}

var (
	kernelDependsRE = regexp.MustCompile(`(?m)^Depends:.*?\b(linux-image-[0-9][^ ,]*)(?: \(= ([^)]+)\))?`)
	sha256FieldRE   = regexp.MustCompile(`(?m)^SHA256: ([0-9a-f]{64})$`)
)

// parseKernelDepends reads which package the linux-image-amd64 metapackage
// stands for (Depends: linux-image-6.1.0-57-amd64 (= 6.1.192-3)).
func parseKernelDepends(show string) (pkg, version string, err error) {
	m := kernelDependsRE.FindStringSubmatch(show)
	if m == nil {
		return "", "", errors.New("apt-cache show linux-image-amd64: no linux-image-<version> in its Depends")
	}
	return m[1], m[2], nil
}

// parseSHA256Field reads the .deb's SHA256 field from one stanza of
// apt-cache show.
func parseSHA256Field(show string) (string, error) {
	m := sha256FieldRE.FindStringSubmatch(show)
	if m == nil {
		return "", errors.New("no SHA256 field")
	}
	return m[1], nil
}
