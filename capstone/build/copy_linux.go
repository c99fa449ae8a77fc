package build

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/capstone/engine"
	"github.com/unboxlab/unbox/capstone/image"
	"github.com/unboxlab/unbox/internal/layer"
)

// copyArgs are a COPY's or an ADD's.
type copyArgs struct {
	instructions.SourcesAndDest
	From, Chown, Chmod string
	Name               string // COPY or ADD
	Add                bool
}

// copy is COPY and ADD: files from the context (or, with --from, from a
// stage or an image) into the image, as one layer. Each source is written
// as a tar stream by the context's walker and extracted into the image by
// internal/layer, which resolves every name inside the image's root: a
// symlink in the image cannot send a file out of it either.
func (b *builder) copy(ctx context.Context, st *stage, a copyArgs) error {
	src := b.ctx
	if a.From != "" {
		from, err := b.fromRoot(ctx, a.From)
		if err != nil {
			return err
		}
		defer from.Close()
		src = from.tree
	}
	var rels []string
	for _, s := range a.SourcePaths {
		if a.Add && (strings.Contains(s, "://") || strings.HasPrefix(s, "git@")) {
			return fmt.Errorf("%s: remote sources are not fetched by unbox build (no network): download it into the context", s)
		}
		m, err := src.sources(s)
		if err != nil {
			return err
		}
		rels = append(rels, m...)
	}
	dest := a.DestPath
	if len(rels) > 1 && !strings.HasSuffix(dest, "/") {
		return fmt.Errorf("when using %s with more than one source file, the destination must be a directory and end with a /", a.Name)
	}
	var chmod *os.FileMode
	if a.Chmod != "" {
		m, err := strconv.ParseUint(a.Chmod, 8, 32)
		if err != nil || m > 0o7777 {
			return fmt.Errorf("invalid --chmod %q: want an octal mode such as 0755", a.Chmod)
		}
		fm := os.FileMode(m)
		chmod = &fm
	}
	// The content's digest, for the cache key: names, modes and bytes
	// (times left out, so a touched file that did not change still hits).
	h := sha256.New()
	tw := tar.NewWriter(h)
	for _, rel := range rels {
		if err := src.writeSource(tw, rel, rel, tarOptions{Chmod: chmod, ZeroTimes: true}); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	digest := "sha256:" + hex.EncodeToString(h.Sum(nil))
	flags := ""
	if a.From != "" {
		flags += "--from=" + a.From + " "
	}
	if a.Chown != "" {
		flags += "--chown=" + a.Chown + " "
	}
	if a.Chmod != "" {
		flags += "--chmod=" + a.Chmod + " "
	}
	createdBy := fmt.Sprintf("%s %s%s %s", a.Name, flags, strings.Join(a.SourcePaths, " "), dest)
	cfg := cloneConfig(st.img.Config.Config)
	workdir := cfg.WorkingDir
	if workdir == "" {
		workdir = "/"
	}
	return b.fsStep(ctx, st, cfg, createdBy, b.key(st, createdBy, digest), func(root string) error {
		o := tarOptions{Chmod: chmod}
		if a.Chown != "" {
			uid, gid, err := engine.ResolveUser(root, a.Chown)
			if err != nil {
				return fmt.Errorf("--chown=%s: %w", a.Chown, err)
			}
			o.UID, o.GID = int(uid), int(gid)
		}
		destAbs := dest
		if !path.IsAbs(destAbs) {
			destAbs = path.Join(workdir, dest)
		}
		destIsDir := strings.HasSuffix(dest, "/") || len(rels) > 1 || isDirInRoot(root, destAbs)
		for _, rel := range rels {
			f, fst, err := src.open(rel)
			if err != nil {
				return err
			}
			isDir := fst.Mode&unix.S_IFMT == unix.S_IFDIR
			archive := a.Add && !isDir && isArchive(f)
			f.Close()
			dir, name := destAbs, ""
			switch {
			case isDir || archive:
			case destIsDir:
				name = path.Base(rel)
			default:
				dir, name = path.Dir(destAbs), path.Base(destAbs)
			}
			if err := extractInto(root, dir, func(w io.Writer) error {
				if archive {
					// ADD of a local archive unpacks it (tar, plain or
					// gzip), as hostile as any layer.
					f, _, err := src.open(rel)
					if err != nil {
						return err
					}
					defer f.Close()
					_, err = io.Copy(w, f)
					return err
				}
				tw := tar.NewWriter(w)
				if err := src.writeSource(tw, rel, name, o); err != nil {
					return err
				}
				return tw.Close()
			}); err != nil {
				return fmt.Errorf("%s: %w", rel, err)
			}
		}
		return nil
	})
}

// extractInto makes dir inside root (resolved in it) and extracts the
// tar stream write produces into it.
func extractInto(root, dir string, write func(io.Writer) error) error {
	rootf, err := os.Open(root)
	if err != nil {
		return err
	}
	defer rootf.Close()
	d, err := pathrs.MkdirAllHandle(rootf, dir, 0o755)
	if err != nil {
		return fmt.Errorf("make %s in the image: %w", dir, err)
	}
	defer d.Close()
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(write(pw)) }()
	_, err = layer.Extract(pr, fmt.Sprintf("/proc/self/fd/%d", d.Fd()), layer.ExtractOptions{})
	pr.CloseWithError(err)
	return err
}

// isDirInRoot reports whether p is a directory inside root.
func isDirInRoot(root, p string) bool {
	f, err := pathrs.OpenInRoot(root, p)
	if err != nil {
		return false
	}
	defer f.Close()
	var st unix.Stat_t
	return unix.Fstat(int(f.Fd()), &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR
}

// mkdirInRoot makes dir and its parents inside root.
func mkdirInRoot(root, dir string) error {
	if err := pathrs.MkdirAll(root, dir, 0o755); err != nil {
		return fmt.Errorf("make %s in the image: %w", dir, err)
	}
	return nil
}

// isArchive reports whether f starts as a tar stream does, plain or
// gzip-compressed (what ADD unpacks).
func isArchive(f *os.File) bool {
	br := bufio.NewReader(f)
	head, _ := br.Peek(512)
	if bytes.HasPrefix(head, []byte{0x1f, 0x8b}) {
		return true
	}
	return len(head) >= 262 && bytes.Equal(head[257:262], []byte("ustar"))
}

// isEmptyDir reports whether dir has no entries.
func isEmptyDir(dir string) (bool, error) {
	f, err := os.Open(dir)
	if err != nil {
		return false, err
	}
	defer f.Close()
	_, err = f.Readdirnames(1)
	if errors.Is(err, io.EOF) {
		return true, nil
	}
	return false, err
}

// fromTree is COPY --from's source: a stage's image or an image of the
// store, mounted.
type fromTree struct {
	tree *tree
	root *stepRoot
}

func (f *fromTree) Close() {
	f.tree.Close()
	f.root.Close()
}

// fromRoot mounts what --from names: an earlier stage (by name or index)
// or an image.
func (b *builder) fromRoot(ctx context.Context, from string) (*fromTree, error) {
	var img image.Image
	s := b.stageNamed(from)
	if n, err := strconv.Atoi(from); err == nil && n >= 0 && n < len(b.stages) {
		s = b.stages[n]
	}
	switch {
	case s != nil:
		img = s.img
	default:
		var err error
		if img, err = b.e.Images.Get(ctx, from); err != nil {
			return nil, fmt.Errorf("--from=%s: no stage or image of that name: %w", from, err)
		}
	}
	r, err := mountStep(ctx, b.e.Images, b.tmp, img)
	if err != nil {
		return nil, err
	}
	t, err := openRoot(r.Merged, "--from="+from)
	if err != nil {
		r.Close()
		return nil, err
	}
	return &fromTree{tree: t, root: r}, nil
}
