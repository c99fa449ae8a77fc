package build

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/unboxlab/unbox/capstone/engine"
	"github.com/unboxlab/unbox/capstone/image"
	"github.com/unboxlab/unbox/internal/ocilayout"
)

// dispatch runs one instruction on the stage. Its words are expanded
// first ($VAR, ${VAR:-default}) from the image's environment and the
// stage's ARGs, as Docker does; RUN, CMD and ENTRYPOINT are left to the
// shell.
func (b *builder) dispatch(ctx context.Context, st *stage, c instructions.Command) error {
	if ex, ok := c.(instructions.SupportsSingleWordExpansion); ok {
		if _, isRun := c.(*instructions.RunCommand); !isRun {
			env := shell.EnvsFromSlice(b.env(st))
			err := ex.Expand(func(word string) (string, error) {
				w, _, err := b.lex.ProcessWord(word, env)
				return w, err
			})
			if err != nil {
				return err
			}
		}
	}
	cfg := cloneConfig(st.img.Config.Config)
	switch c := c.(type) {
	case *instructions.ArgCommand:
		for _, kv := range c.Args {
			v := kv.Value
			if bv, ok := b.o.BuildArgs[kv.Key]; ok {
				v = &bv
				b.used[kv.Key] = true
			} else if mv, ok := b.meta[kv.Key]; ok && v == nil {
				v = &mv
			}
			st.args = slices.DeleteFunc(st.args, func(a instructions.KeyValuePairOptional) bool { return a.Key == kv.Key })
			st.args = append(st.args, instructions.KeyValuePairOptional{Key: kv.Key, Value: v})
		}
		return nil // an ARG is the build's, not the image's: no step
	case *instructions.EnvCommand:
		var words []string
		for _, kv := range c.Env {
			cfg.Env = setEnv(cfg.Env, kv.Key, kv.Value)
			words = append(words, kv.Key+"="+kv.Value)
		}
		return b.configStep(st, cfg, "ENV "+strings.Join(words, " "))
	case *instructions.LabelCommand:
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		var words []string
		for _, kv := range c.Labels {
			cfg.Labels[kv.Key] = kv.Value
			words = append(words, kv.Key+"="+kv.Value)
		}
		return b.configStep(st, cfg, "LABEL "+strings.Join(words, " "))
	case *instructions.MaintainerCommand:
		return b.configStep(st, cfg, "MAINTAINER "+c.Maintainer, func(img *ocilayout.Config) { img.Author = c.Maintainer })
	case *instructions.UserCommand:
		cfg.User = c.User
		return b.configStep(st, cfg, "USER "+c.User)
	case *instructions.WorkdirCommand:
		return b.workdir(ctx, st, cfg, c.Path)
	case *instructions.CmdCommand:
		cfg.Cmd = cmdline(c.ShellDependantCmdLine, st.shell)
		st.cmdSet = true
		return b.configStep(st, cfg, "CMD "+jsonWords(cfg.Cmd))
	case *instructions.EntrypointCommand:
		cfg.Entrypoint = cmdline(c.ShellDependantCmdLine, st.shell)
		if !st.cmdSet {
			cfg.Cmd = nil // a CMD of the base image goes with a new ENTRYPOINT, as in Docker
		}
		return b.configStep(st, cfg, "ENTRYPOINT "+jsonWords(cfg.Entrypoint))
	case *instructions.ExposeCommand:
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = map[string]struct{}{}
		}
		var ports []string
		for _, p := range c.Ports {
			if !strings.Contains(p, "/") {
				p += "/tcp"
			}
			cfg.ExposedPorts[p] = struct{}{}
			ports = append(ports, p)
		}
		return b.configStep(st, cfg, "EXPOSE "+strings.Join(ports, " "))
	case *instructions.VolumeCommand:
		if cfg.Volumes == nil {
			cfg.Volumes = map[string]struct{}{}
		}
		for _, v := range c.Volumes {
			if v = strings.TrimSpace(v); v == "" {
				return fmt.Errorf("VOLUME specified can not be an empty string")
			}
			cfg.Volumes[v] = struct{}{}
		}
		return b.configStep(st, cfg, "VOLUME "+jsonWords(c.Volumes))
	case *instructions.StopSignalCommand:
		if _, err := engine.ParseSignal(c.Signal); err != nil {
			return err
		}
		cfg.StopSignal = c.Signal
		return b.configStep(st, cfg, "STOPSIGNAL "+c.Signal)
	case *instructions.ShellCommand:
		// Kept in Docker's extension of the config, as Docker does, so that
		// an image built FROM this one starts with the same shell.
		st.shell = slices.Clone(c.Shell)
		return b.configStep(st, cfg, "SHELL "+jsonWords(c.Shell), func(img *ocilayout.Config) { img.Ext.Shell = slices.Clone(c.Shell) })
	case *instructions.HealthCheckCommand:
		// Docker's extension of the config too; the engine runs it
		// (`unbox run`, ps shows the state). NONE turns off the base
		// image's.
		h := *c.Health
		h.Test = slices.Clone(h.Test)
		return b.configStep(st, cfg, "HEALTHCHECK "+healthWords(h), func(img *ocilayout.Config) { img.Ext.Healthcheck = &h })
	case *instructions.RunCommand:
		return b.run(ctx, st, c)
	case *instructions.CopyCommand:
		return b.copy(ctx, st, copyArgs{SourcesAndDest: c.SourcesAndDest, From: c.From, Chown: c.Chown, Chmod: c.Chmod, Name: "COPY"})
	case *instructions.AddCommand:
		return b.copy(ctx, st, copyArgs{SourcesAndDest: c.SourcesAndDest, Chown: c.Chown, Chmod: c.Chmod, Name: "ADD", Add: true})
	}
	return fmt.Errorf("the %s instruction is not supported by unbox build", strings.ToUpper(c.Name()))
}

// cloneConfig is cfg with its own slices and maps, so a step's changes do
// not reach the parent image's.
func cloneConfig(cfg ocispec.ImageConfig) ocispec.ImageConfig {
	cfg.Env, cfg.Cmd, cfg.Entrypoint = slices.Clone(cfg.Env), slices.Clone(cfg.Cmd), slices.Clone(cfg.Entrypoint)
	cfg.Labels, cfg.ExposedPorts, cfg.Volumes = maps.Clone(cfg.Labels), maps.Clone(cfg.ExposedPorts), maps.Clone(cfg.Volumes)
	return cfg
}

// setEnv is env with NAME set to value, in place if it was there.
func setEnv(env []string, name, value string) []string {
	for i, kv := range env {
		if strings.HasPrefix(kv, name+"=") {
			env[i] = name + "=" + value
			return env
		}
	}
	return append(env, name+"="+value)
}

// cmdline is an instruction's command: the exec form as written, the
// shell form through the stage's shell.
func cmdline(c instructions.ShellDependantCmdLine, sh []string) []string {
	if c.PrependShell {
		return append(slices.Clone(sh), strings.Join(c.CmdLine, " "))
	}
	return slices.Clone(c.CmdLine)
}

// healthWords is a HEALTHCHECK as its history entry shows it: the test and
// the options given.
func healthWords(h dockerspec.HealthcheckConfig) string {
	var w []string
	for _, o := range []struct {
		name string
		d    time.Duration
	}{{"interval", h.Interval}, {"timeout", h.Timeout}, {"start-period", h.StartPeriod}, {"start-interval", h.StartInterval}} {
		if o.d != 0 {
			w = append(w, "--"+o.name+"="+o.d.String())
		}
	}
	if h.Retries != 0 {
		w = append(w, fmt.Sprintf("--retries=%d", h.Retries))
	}
	return strings.Join(append(w, jsonWords(h.Test)), " ")
}

func jsonWords(w []string) string {
	b, _ := json.Marshal(w)
	return string(b)
}

// key is a step's cache key: the image it starts from and what it does.
func (b *builder) key(st *stage, createdBy string, extra ...string) string {
	parent := "scratch"
	if !st.scratch {
		parent = string(st.img.ID)
	}
	return strings.Join(append([]string{"unbox build v1", parent, createdBy}, extra...), "\n")
}

// cached looks key up; a hit moves the stage on to the image it names.
func (b *builder) cached(st *stage, key string) bool {
	if b.o.NoCache {
		return false
	}
	img, ok := b.cache.get(key)
	if !ok {
		return false
	}
	st.img, st.scratch = img, false
	fmt.Fprintf(b.o.Out, "--> CACHED %s\n", img.ShortID())
	return true
}

// done moves the stage on to the image a step made, and caches it.
func (b *builder) done(st *stage, key string, img image.Image) error {
	st.img, st.scratch = img, false
	fmt.Fprintf(b.o.Out, "--> %s\n", img.ShortID())
	return b.cache.put(key, img)
}

// configStep makes the image of a step that changes only the config: a
// new config with an empty-layer history entry, as Docker's builder
// writes for ENV, CMD, LABEL and the like.
func (b *builder) configStep(st *stage, cfg ocispec.ImageConfig, createdBy string, also ...func(*ocilayout.Config)) error {
	key := b.key(st, createdBy)
	if b.cached(st, key) {
		return nil
	}
	img := st.img.Image
	img.Descriptor = ocispec.Descriptor{}
	now := time.Now().UTC()
	img.Config.Config = cfg
	img.Config.Created = &now
	img.Config.History = append(slices.Clone(img.Config.History), ocispec.History{Created: &now, CreatedBy: createdBy, EmptyLayer: true})
	for _, fn := range also {
		fn(&img.Config)
	}
	release, err := b.e.Images.Hold()
	if err != nil {
		return err
	}
	defer release()
	out, err := b.e.Images.Put(img, "")
	if err != nil {
		return err
	}
	return b.done(st, key, out)
}

// materialize writes a stage that has no image in the store yet (FROM
// scratch with nothing done) as one: an image of no layers.
func (b *builder) materialize(st *stage) error {
	img := st.img.Image
	now := time.Now().UTC()
	img.Config.Created = &now
	out, err := b.e.Images.Put(img, "")
	if err != nil {
		return err
	}
	st.img, st.scratch = out, false
	return nil
}

// fsStep runs a step that changes files without a container: fn writes
// into the image mounted with a fresh upper directory, which is then
// committed as the step's layer (or, if fn changed nothing, the step
// changes the config only).
func (b *builder) fsStep(ctx context.Context, st *stage, cfg ocispec.ImageConfig, createdBy, key string, fn func(root string) error) error {
	if b.cached(st, key) {
		return nil
	}
	r, err := mountStep(ctx, b.e.Images, b.tmp, st.img)
	if err != nil {
		return err
	}
	defer r.Close()
	if err := fn(r.Merged); err != nil {
		return err
	}
	if err := unmount(r.Merged); err != nil {
		return err
	}
	if empty, err := isEmptyDir(r.Upper); err != nil || empty {
		if err != nil {
			return err
		}
		return b.configStep(st, cfg, createdBy)
	}
	img, err := b.e.Images.Commit(st.img, r.Upper, image.CommitOptions{Config: &cfg, CreatedBy: createdBy, Author: st.img.Config.Author})
	if err != nil {
		return err
	}
	return b.done(st, key, img)
}

// workdir is WORKDIR: the working directory, relative to the one before,
// made in the image if it is not there (as Docker does).
func (b *builder) workdir(ctx context.Context, st *stage, cfg ocispec.ImageConfig, dir string) error {
	if !path.IsAbs(dir) {
		base := cfg.WorkingDir
		if base == "" {
			base = "/"
		}
		dir = path.Join(base, dir)
	}
	cfg.WorkingDir = path.Clean(dir)
	createdBy := "WORKDIR " + cfg.WorkingDir
	return b.fsStep(ctx, st, cfg, createdBy, b.key(st, createdBy), func(root string) error {
		return mkdirInRoot(root, cfg.WorkingDir)
	})
}

// run is RUN: a container of the image so far runs the command, with the
// stage's ARGs in its environment (not the image's), its output shown; its
// changes are committed as a layer, and it is removed. A command that
// fails fails the build, and nothing is tagged.
func (b *builder) run(ctx context.Context, st *stage, c *instructions.RunCommand) error {
	args := cmdline(c.ShellDependantCmdLine, st.shell)
	var argEnv []string
	for _, kv := range b.argEnv(st) {
		k, _, _ := strings.Cut(kv, "=")
		if !slices.ContainsFunc(st.img.Config.Config.Env, func(x string) bool { return strings.HasPrefix(x, k+"=") }) {
			argEnv = append(argEnv, kv)
		}
	}
	createdBy := "RUN " + strings.Join(args, " ")
	if len(argEnv) > 0 {
		// Docker's record of the ARGs a RUN saw: |N NAME=value ... command.
		createdBy = fmt.Sprintf("RUN |%d %s %s", len(argEnv), strings.Join(argEnv, " "), strings.Join(args, " "))
	}
	key := b.key(st, createdBy, "network="+b.o.Network)
	if b.cached(st, key) {
		return nil
	}
	if st.scratch {
		if err := b.materialize(st); err != nil {
			return err
		}
	}
	ctr, err := b.e.Create(ctx, engine.CreateOptions{
		Image: string(st.img.ID), Cmd: args, Entrypoint: []string{""}, Env: argEnv, Network: b.o.Network,
		Labels: map[string]string{"io.unbox.build": "RUN"},
	})
	if err != nil {
		return err
	}
	defer b.e.Remove(context.WithoutCancel(ctx), ctr.ID, true, true)
	sess, err := b.e.Start(ctx, ctr.ID, engine.StartOptions{Attach: true})
	if err != nil {
		return err
	}
	code, err := sess.Copy(nil, b.o.Out, b.o.Out)
	if err != nil {
		return fmt.Errorf("the command '%s' failed: %w", strings.Join(args, " "), err)
	}
	if code != 0 {
		return fmt.Errorf("the command '%s' returned a non-zero code: %d", strings.Join(args, " "), code)
	}
	cfg := st.img.Config.Config
	img, err := b.e.Commit(ctx, ctr.ID, engine.CommitOptions{Config: &cfg, CreatedBy: createdBy, Author: st.img.Config.Author})
	if err != nil {
		return err
	}
	return b.done(st, key, img)
}
