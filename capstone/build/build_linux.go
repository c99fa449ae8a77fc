package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/unboxlab/unbox/capstone/engine"
	"github.com/unboxlab/unbox/capstone/image"
	"github.com/unboxlab/unbox/internal/ocilayout"
)

// Options are `unbox build`'s flags.
type Options struct {
	// Context is the build context's directory.
	Context string
	// Dockerfile is the Dockerfile's path; "" is Context/Dockerfile.
	Dockerfile string
	// Tags name the image (-t, as many as given).
	Tags []string
	// BuildArgs are --build-arg NAME=value.
	BuildArgs map[string]string
	// NoCache runs every step, looking nothing up in the cache.
	NoCache bool
	// Network is RUN's network mode: "none" (the default) or "host".
	Network string
	// Target stops the build after the stage of that name.
	Target string
	// Base is how a FROM image of the store is had (--pull): pulled when
	// missing by default, always, or never (image.Store.Ensure, run's
	// decision), each base at most once a build.
	Base image.EnsureOptions
	// Out gets the progress: each step, RUN's output, the result.
	Out io.Writer
}

// stage is one FROM ... of the Dockerfile as it is built: the image so
// far and what its instructions see.
type stage struct {
	name string
	img  image.Image
	// args are the ARGs declared in the stage, in order, with values.
	args    []instructions.KeyValuePairOptional
	shell   []string
	scratch bool // no image yet: FROM scratch, nothing written to it
	cmdSet  bool // a CMD in this stage (ENTRYPOINT keeps it)
}

// builder runs one build.
type builder struct {
	e      *engine.Engine
	o      Options
	df     *Dockerfile
	ctx    *tree
	cache  cache
	tmp    string
	stages []*stage
	step   int
	steps  int
	lex    *shell.Lex
	used   map[string]bool // build args some instruction consumed
	meta   map[string]string
	bases  map[string]image.Image // FROM images had (pulled) by this build
}

// Build builds the Dockerfile o names and tags the result. It returns
// the image, which carries every name given.
func Build(ctx context.Context, e *engine.Engine, o Options) (image.Image, error) {
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Network == "" {
		o.Network = "none"
	}
	for _, t := range o.Tags {
		if _, err := image.ParseRef(t); err != nil {
			return image.Image{}, err
		}
	}
	tree, err := openContext(o.Context)
	if err != nil {
		return image.Image{}, err
	}
	defer tree.Close()
	dfPath := o.Dockerfile
	if dfPath == "" {
		dfPath = filepath.Join(o.Context, "Dockerfile")
	}
	src, err := os.ReadFile(dfPath)
	if err != nil {
		return image.Image{}, fmt.Errorf("read the Dockerfile: %w", err)
	}
	df, err := Parse(filepath.Base(dfPath), src)
	if err != nil {
		return image.Image{}, err
	}
	for _, w := range df.Warnings {
		fmt.Fprintf(o.Out, "WARNING: %s\n", w)
	}
	b := &builder{
		e: e, o: o, df: df, ctx: tree, lex: shell.NewLex(df.EscapeToken), used: map[string]bool{}, meta: map[string]string{}, bases: map[string]image.Image{},
		cache: cache{dir: filepath.Join(e.Root, "build", "cache"), store: e.Images},
		tmp:   filepath.Join(e.Root, "build", "tmp"),
	}
	sweepSteps(b.tmp)
	last := len(df.Stages) - 1
	if o.Target != "" {
		i, ok := instructions.HasStage(df.Stages, o.Target)
		if !ok {
			return image.Image{}, fmt.Errorf("target stage %q could not be found", o.Target)
		}
		last = i
	}
	for _, s := range df.Stages[:last+1] {
		b.steps += 1 + len(s.Commands)
	}
	if err := b.metaArgs(); err != nil {
		return image.Image{}, err
	}
	for i := range df.Stages[:last+1] {
		if err := b.buildStage(ctx, &df.Stages[i]); err != nil {
			return image.Image{}, err
		}
	}
	final := b.stages[len(b.stages)-1]
	if final.scratch {
		if err := b.materialize(final); err != nil {
			return image.Image{}, err
		}
	}
	var unused []string
	for k := range o.BuildArgs {
		if !b.used[k] {
			unused = append(unused, k)
		}
	}
	if len(unused) > 0 {
		sort.Strings(unused)
		fmt.Fprintf(o.Out, "WARNING: one or more build args were not consumed: %s\n", strings.Join(unused, ", "))
	}
	img := final.img
	fmt.Fprintf(o.Out, "Successfully built %s\n", img.ShortID())
	for _, t := range o.Tags {
		if img, err = e.Images.Tag(string(img.ID), t); err != nil {
			return image.Image{}, err
		}
		r, _ := image.ParseRef(t)
		fmt.Fprintf(o.Out, "Successfully tagged %s\n", r)
	}
	return img, nil
}

// metaArgs reads the ARGs before the first FROM: FROM lines can use
// them, and a stage's bare `ARG NAME` takes their value.
func (b *builder) metaArgs() error {
	for _, a := range b.df.MetaArgs {
		for _, kv := range a.Args {
			v := ""
			if kv.Value != nil {
				w, _, err := b.lex.ProcessWord(*kv.Value, shell.EnvsFromSlice(b.metaEnv()))
				if err != nil {
					return err
				}
				v = w
			}
			if bv, ok := b.o.BuildArgs[kv.Key]; ok {
				v = bv
				b.used[kv.Key] = true
			}
			b.meta[kv.Key] = v
		}
	}
	return nil
}

func (b *builder) metaEnv() []string {
	var env []string
	for k, v := range b.meta {
		env = append(env, k+"="+v)
	}
	return env
}

// printStep prints a step's header: STEP 3/7: COPY . /app.
func (b *builder) printStep(code string) {
	b.step++
	fmt.Fprintf(b.o.Out, "STEP %d/%d: %s\n", b.step, b.steps, strings.TrimSpace(code))
}

// buildStage runs one stage: its FROM, then each instruction.
func (b *builder) buildStage(ctx context.Context, s *instructions.Stage) error {
	b.printStep(s.SourceCode)
	base, _, err := b.lex.ProcessWord(s.BaseName, shell.EnvsFromSlice(b.metaEnv()))
	if err != nil {
		return fmt.Errorf("FROM %s: %w", s.BaseName, err)
	}
	st := &stage{name: s.Name, shell: []string{"/bin/sh", "-c"}}
	switch prev := b.stageNamed(base); {
	case prev != nil:
		st.img, st.scratch = prev.img, prev.scratch
	case strings.EqualFold(base, "scratch"):
		st.scratch = true
		st.img = image.Image{Image: ocilayout.NewImage(ocispec.ImageConfig{})}
	default:
		img, err := b.base(ctx, base)
		if err != nil {
			return err
		}
		st.img = img
	}
	if sh := st.img.Config.Ext.Shell; len(sh) > 0 {
		st.shell = slices.Clone(sh) // the base image's SHELL, as Docker
	}
	if !st.scratch {
		fmt.Fprintf(b.o.Out, "--> %s\n", st.img.ShortID())
	}
	b.stages = append(b.stages, st)
	for _, c := range s.Commands {
		b.printStep(c.(fmt.Stringer).String())
		if err := b.dispatch(ctx, st, c); err != nil {
			return fmt.Errorf("%s:%d: %s: %w", filepath.Base(b.dockerfileName()), line(c.Location()), strings.ToUpper(c.Name()), err)
		}
	}
	return nil
}

// base is a FROM image of the store: Ensure's, as --pull says (so a
// missing one is pulled, as Docker's and podman's builds pull it), once
// a build however many stages start from it. The steps after FROM are
// cached by the base's ID (key), so a pull that brings a new image
// misses the cache of every step that follows.
func (b *builder) base(ctx context.Context, ref string) (image.Image, error) {
	if img, ok := b.bases[ref]; ok {
		return img, nil
	}
	img, err := b.e.Images.Ensure(ctx, ref, b.o.Base)
	switch {
	case errors.Is(err, image.ErrNotFound) && b.o.Base.Policy == image.PullNever:
		return img, fmt.Errorf("FROM %s: %w (--pull never: `unbox pull` it first, or build without --pull never)", ref, err)
	case err != nil:
		return img, fmt.Errorf("FROM %s: %w", ref, err)
	}
	b.bases[ref] = img
	return img, nil
}

func (b *builder) dockerfileName() string {
	if b.o.Dockerfile != "" {
		return b.o.Dockerfile
	}
	return "Dockerfile"
}

// stageNamed is the earlier stage called name (case-insensitive, as
// Docker), or its index.
func (b *builder) stageNamed(name string) *stage {
	for _, s := range b.stages {
		if s.name != "" && strings.EqualFold(s.name, name) {
			return s
		}
	}
	return nil
}

// env is what an instruction's variables expand from: the image's
// environment over the stage's ARGs (ENV wins, as in Docker).
func (b *builder) env(st *stage) []string {
	env := slices.Clone(st.img.Config.Config.Env)
	for _, kv := range b.argEnv(st) {
		k, _, _ := strings.Cut(kv, "=")
		if !slices.ContainsFunc(env, func(x string) bool { return strings.HasPrefix(x, k+"=") }) {
			env = append(env, kv)
		}
	}
	return env
}

// argEnv is the stage's ARGs as NAME=value, those with a value only.
func (b *builder) argEnv(st *stage) []string {
	var out []string
	for _, a := range st.args {
		if a.Value != nil {
			out = append(out, a.Key+"="+*a.Value)
		}
	}
	return out
}
