package engine

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/capstone/image"
	"github.com/unboxlab/unbox/internal/layer"
	"github.com/unboxlab/unbox/internal/overlay"
)

// CommitOptions are `unbox commit`'s flags.
type CommitOptions struct {
	Ref     string
	Comment string
	Author  string
	// Changes are Dockerfile instructions applied to the config: CMD,
	// ENTRYPOINT, ENV, WORKDIR, USER, LABEL, EXPOSE, VOLUME, STOPSIGNAL.
	Changes []string
	// Config, when set, is the new image's config as it stands, instead of
	// one made from the container's (a builder's RUN step, whose container
	// runs the step's command, not the image's).
	Config *ocispec.ImageConfig
	// CreatedBy, when set, is the history's created_by instead of the
	// container's command.
	CreatedBy string
}

// Commit makes an image of a container's changes (`unbox commit`): its
// upper dir, less the init layer's files and its mount points, as a new
// layer on its image, with the container's config (command, environment,
// working directory, user) as the image's, as Docker does. A running
// container is frozen (its cgroup) while its upper dir is read, so the
// layer is one moment's state.
func (e *Engine) Commit(ctx context.Context, ref string, o CommitOptions) (image.Image, error) {
	c, err := e.Lookup(ref)
	if err != nil {
		return image.Image{}, err
	}
	parent, err := e.Images.Resolve(string(c.Image))
	if err != nil {
		return image.Image{}, fmt.Errorf("the container's image: %w", err)
	}
	cfg := parent.Config.Config
	cfg.Cmd, cfg.Entrypoint, cfg.WorkingDir, cfg.User, cfg.StopSignal = c.Config.Cmd, c.Config.Entrypoint, c.Config.WorkingDir, c.Config.User, c.Config.StopSignal
	cfg.Env = slices.DeleteFunc(slices.Clone(c.Config.Env), func(kv string) bool { return strings.HasPrefix(kv, "HOSTNAME=") })
	cfg.Labels = c.Config.Labels
	for _, ch := range o.Changes {
		if err := ApplyChange(&cfg, ch); err != nil {
			return image.Image{}, &ExitCodeError{Code: 125, Err: err}
		}
	}
	if o.Config != nil {
		cfg = *o.Config
	}
	createdBy := strings.Join(append([]string{c.Path}, c.Args...), " ")
	if o.CreatedBy != "" {
		createdBy = o.CreatedBy
	}
	// Paused while its upper dir is read, as Docker's commit --pause,
	// through its runtime (the freezer, which the engine's own view of
	// the cgroup lacks on v1); a container the user paused stays paused.
	if c.State.Status == Running {
		if rt, err := e.runtimeFor(c.HostConfig.Runtime); err == nil && rt.Pause(ctx, c.ID) == nil {
			defer rt.Resume(ctx, c.ID)
		}
	}
	io := image.CommitOptions{
		Ref: o.Ref, Config: &cfg, Comment: o.Comment, Author: o.Author, Exclude: commitExclude(c),
		CreatedBy: createdBy,
	}
	if o.Config == nil {
		io.Healthcheck = c.Config.Healthcheck // the container's, --health-* included, as Docker's commit
	}
	return e.Images.Commit(parent, c.GraphDriver.Data["UpperDir"], io)
}

// ApplyChange applies one --change instruction (Dockerfile syntax) to
// cfg.
func ApplyChange(cfg *ocispec.ImageConfig, change string) error {
	instr, arg, _ := strings.Cut(strings.TrimSpace(change), " ")
	arg = strings.TrimSpace(arg)
	words := func() []string {
		var v []string
		if strings.HasPrefix(arg, "[") && json.Unmarshal([]byte(arg), &v) == nil {
			return v
		}
		return []string{"/bin/sh", "-c", arg}
	}
	switch strings.ToUpper(instr) {
	case "CMD":
		cfg.Cmd = words()
	case "ENTRYPOINT":
		cfg.Entrypoint = words()
	case "ENV":
		k, v, ok := strings.Cut(arg, "=")
		if !ok {
			k, v, _ = strings.Cut(arg, " ")
		}
		cfg.Env = mergeEnv(cfg.Env, []string{k + "=" + strings.Trim(v, `"`)})
	case "WORKDIR":
		cfg.WorkingDir = arg
	case "USER":
		cfg.User = arg
	case "STOPSIGNAL":
		cfg.StopSignal = arg
	case "LABEL":
		k, v, _ := strings.Cut(arg, "=")
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		cfg.Labels[k] = strings.Trim(v, `"`)
	case "EXPOSE", "VOLUME":
		set := map[string]struct{}{}
		for _, w := range strings.Fields(arg) {
			set[w] = struct{}{}
		}
		if strings.ToUpper(instr) == "EXPOSE" {
			if cfg.ExposedPorts == nil {
				cfg.ExposedPorts = map[string]struct{}{}
			}
			for w := range set {
				if !strings.Contains(w, "/") {
					w += "/tcp"
				}
				cfg.ExposedPorts[w] = struct{}{}
			}
		} else {
			if cfg.Volumes == nil {
				cfg.Volumes = map[string]struct{}{}
			}
			for w := range set {
				cfg.Volumes[w] = struct{}{}
			}
		}
	default:
		return fmt.Errorf("--change %q: unsupported instruction %s (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR are)", change, instr)
	}
	return nil
}

// withRootfs runs fn on the container's root file system: its overlay as
// mounted while it runs, or mounted for fn while it does not (under the
// container's lock, so that it does not start meanwhile).
func (e *Engine) withRootfs(c *Container, fn func(root string) error) error {
	if c.State.Running && e.monitorAlive(c.ID) {
		return fn(e.rootfs(c.ID))
	}
	c, unlock, err := e.lock(c.ID)
	if err != nil {
		return err
	}
	defer unlock()
	if e.monitorAlive(c.ID) {
		return fn(e.rootfs(c.ID))
	}
	if err := e.mountRootfs(c); err != nil {
		return err
	}
	err = fn(e.rootfs(c.ID))
	if uerr := unmount(e.rootfs(c.ID)); err == nil {
		err = uerr
	}
	return err
}

// Export writes the container's file system as a tar stream (`unbox
// export`), as Docker does: its root, without its volumes.
func (e *Engine) Export(ctx context.Context, ref string, w io.Writer) error {
	c, err := e.Lookup(ref)
	if err != nil {
		return err
	}
	return e.withRootfs(c, func(root string) error {
		tw := tar.NewWriter(w)
		if err := writeTree(tw, root, "/", ""); err != nil {
			return err
		}
		return tw.Close()
	})
}

// hostPath is where the container's path p lives on the host, and the
// root it is resolved in: the volume or bind mounted over it, or the
// container's root file system.
func (c *Container) hostPath(rootfs, p string) (root, rel string) {
	p = path.Clean("/" + p)
	best := ""
	for _, m := range c.Mounts {
		if m.Type == "tmpfs" {
			continue
		}
		d := path.Clean(m.Destination)
		if (p == d || strings.HasPrefix(p, d+"/")) && len(d) > len(best) {
			best, root = d, m.Source
		}
	}
	if best == "" {
		return rootfs, p
	}
	return root, "/" + strings.TrimPrefix(strings.TrimPrefix(p, best), "/")
}

// CopyFrom copies src from the container to the host (`unbox cp
// CONTAINER:SRC DEST`), as `cp -a` would: into dst if it is a directory,
// else as dst; to w as a tar stream when dst is "-".
func (e *Engine) CopyFrom(ctx context.Context, ref, src, dst string, w io.Writer) error {
	c, err := e.Lookup(ref)
	if err != nil {
		return err
	}
	contents := strings.HasSuffix(src, "/.")
	name := path.Base(path.Clean("/" + src))
	return e.withRootfs(c, func(rootfs string) error {
		root, rel := c.hostPath(rootfs, src)
		if dst == "-" {
			tw := tar.NewWriter(w)
			prefix := name
			if contents {
				prefix = ""
			}
			if err := writeTree(tw, root, rel, prefix); err != nil {
				return fmt.Errorf("copy %s: %w", src, err)
			}
			return tw.Close()
		}
		dir, as := dst, name
		if fi, err := os.Stat(dst); err != nil || !fi.IsDir() {
			dir, as = filepath.Dir(dst), filepath.Base(dst)
		} else if contents {
			as = ""
		}
		if _, err := os.Stat(dir); err != nil {
			return fmt.Errorf("copy to %s: %w", dst, err)
		}
		pr, pw := io.Pipe()
		go func() {
			tw := tar.NewWriter(pw)
			err := writeTree(tw, root, rel, as)
			if err == nil {
				err = tw.Close()
			}
			pw.CloseWithError(err)
		}()
		// What comes out of a container is untrusted: extracted as a
		// layer is, every path inside dir, owned by the user copying.
		_, err := layer.Extract(pr, dir, layer.ExtractOptions{NoChown: true})
		pr.CloseWithError(err)
		if err != nil {
			return fmt.Errorf("copy %s: %w", src, err)
		}
		return nil
	})
}

// CopyTo copies src from the host into the container (`unbox cp SRC
// CONTAINER:DEST`): into dst if it is a directory there, else as dst;
// from r, a tar stream, when src is "-". What lands is owned by root.
func (e *Engine) CopyTo(ctx context.Context, ref, src, dst string, r io.Reader) error {
	c, err := e.Lookup(ref)
	if err != nil {
		return err
	}
	return e.withRootfs(c, func(rootfs string) error {
		root, rel := c.hostPath(rootfs, dst)
		dir, as := rel, ""
		h, err := pathrs.OpenInRoot(root, rel)
		if err == nil {
			var st unix.Stat_t
			unix.Fstat(int(h.Fd()), &st)
			h.Close()
			if st.Mode&unix.S_IFMT != unix.S_IFDIR {
				dir, as = path.Dir(rel), path.Base(rel)
			}
		} else if errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ENOENT) {
			dir, as = path.Dir(rel), path.Base(rel)
		} else {
			return err
		}
		dh, err := pathrs.OpenInRoot(root, dir)
		if err != nil {
			return fmt.Errorf("copy to %s: %w", dst, err)
		}
		defer dh.Close()
		target := fmt.Sprintf("/proc/self/fd/%d", dh.Fd())
		in := r
		if src != "-" {
			pr, pw := io.Pipe()
			go func() {
				tw := tar.NewWriter(pw)
				name := as
				if name == "" {
					name = filepath.Base(filepath.Clean(src))
				}
				err := writeHostTree(tw, src, name)
				if err == nil {
					err = tw.Close()
				}
				pw.CloseWithError(err)
			}()
			in = pr
		}
		if _, err := layer.Extract(in, target, layer.ExtractOptions{}); err != nil {
			return fmt.Errorf("copy to %s: %w", dst, err)
		}
		return nil
	})
}

// writeHostTree writes the host's src (a file or a tree) as name, owned
// by root.
func writeHostTree(tw *tar.Writer, src, name string) error {
	return filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		link := ""
		if fi.Mode()&os.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		h, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		h.Name = filepath.ToSlash(filepath.Join(name, rel))
		if fi.IsDir() {
			h.Name += "/"
		}
		h.Uid, h.Gid, h.Uname, h.Gname = 0, 0, "", ""
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
}

// Diff lists what a container changed in its image's file system (`unbox
// diff`): its upper dir against the layers below it (lesson 04's model,
// overlay.Changes), without the init layer's files and the mount points
// of its volumes, which are the engine's, as a commit leaves them out.
func (e *Engine) Diff(ref string) ([]overlay.Change, error) {
	c, err := e.Lookup(ref)
	if err != nil {
		return nil, err
	}
	l := layersIn(e.dir(c.ID), c, false)
	if _, err := os.Lstat(l.Upper); errors.Is(err, os.ErrNotExist) {
		return nil, nil // never started: nothing changed yet
	}
	return overlay.Changes(l.Upper, l.Lower, commitExclude(c))
}
