package compose

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/unboxlab/unbox/capstone/build"
	"github.com/unboxlab/unbox/capstone/engine"
	"github.com/unboxlab/unbox/capstone/image"
	"github.com/unboxlab/unbox/internal/volume"
)

// Compose is one project on one engine.
type Compose struct {
	E *engine.Engine
	P *types.Project
	// Out gets the progress lines ("Container p-web-1  Started"), as
	// Compose writes them to its stderr.
	Out io.Writer
	// BuildOut gets builds' output.
	BuildOut io.Writer
	// Remote gives what a pull needs (credentials, mirrors, insecure
	// registries), read when a pull is to be made; nil reads the
	// configuration in image.DefaultConfigDir.
	Remote func() (image.RemoteOptions, error)

	pulled map[string]string // image → the service it was pulled for, by this command
}

// New is the project p on the engine e.
func New(e *engine.Engine, p *types.Project, out io.Writer) *Compose {
	if out == nil {
		out = io.Discard
	}
	return &Compose{E: e, P: p, Out: out, BuildOut: out}
}

func (c *Compose) progress(kind, name, what string) {
	fmt.Fprintf(c.Out, " %s %s  %s\n", kind, name, what)
}

// Containers are the project's containers (labelled with its name), in
// service order, one-off ones (run) only with oneoff; of the services
// named, or all.
func (c *Compose) Containers(ctx context.Context, oneoff bool, services ...string) ([]*engine.Container, error) {
	all, err := c.E.Containers(ctx)
	if err != nil {
		return nil, err
	}
	order, _ := Order(c.P)
	var out []*engine.Container
	for _, ctr := range all {
		l := ctr.Config.Labels
		if l[LabelProject] != c.P.Name || (!oneoff && l[LabelOneoff] == "True") {
			continue
		}
		if len(services) > 0 && !slices.Contains(services, l[LabelService]) {
			continue
		}
		out = append(out, ctr)
	}
	rank := func(ctr *engine.Container) int {
		i := slices.Index(order, ctr.Config.Labels[LabelService])
		if i < 0 {
			i = len(order)
		}
		return i
	}
	slices.SortStableFunc(out, func(a, b *engine.Container) int {
		if d := rank(a) - rank(b); d != 0 {
			return d
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out, nil
}

// selected is the services named and, transitively, what they depend
// on, in start order; all of them when none is named.
func (c *Compose) selected(services []string, withDeps bool) ([]string, error) {
	order, err := Order(c.P)
	if err != nil {
		return nil, err
	}
	if len(services) == 0 {
		return order, nil
	}
	want := map[string]bool{}
	var add func(n string) error
	add = func(n string) error {
		s, ok := c.P.Services[n]
		if !ok {
			return fmt.Errorf("no such service: %s", n)
		}
		if want[n] {
			return nil
		}
		want[n] = true
		if withDeps {
			for d := range s.DependsOn {
				if err := add(d); err != nil {
					return err
				}
			}
		}
		return nil
	}
	for _, n := range services {
		if err := add(n); err != nil {
			return nil, err
		}
	}
	return slices.DeleteFunc(order, func(n string) bool { return !want[n] }), nil
}

// UpOptions are `compose up`'s.
type UpOptions struct {
	Services []string
	// Build builds every service that has a build section first.
	Build bool
	// Pull, if set, is every service's pull_policy (`up --pull`): always,
	// missing, never or build.
	Pull string
}

// Up makes sure every service's image is here (pulled or built, as its
// pull_policy says: ensureImage), then makes the project's networks and
// volumes, then each service's container in dependency order, each
// started once what it depends on is (started, healthy, or exited 0, as
// depends_on's condition says). Images come first, as in Compose: an
// image that cannot be had leaves nothing made.
func (c *Compose) Up(ctx context.Context, o UpOptions) error {
	order, err := c.selected(o.Services, true)
	if err != nil {
		return err
	}
	imgs := map[string]image.Image{}
	for _, name := range order {
		if imgs[name], err = c.ensureImage(ctx, c.P.Services[name], o.Build, o.Pull); err != nil {
			return err
		}
	}
	if err := c.ensureNetworks(ctx); err != nil {
		return err
	}
	if err := c.ensureVolumes(); err != nil {
		return err
	}
	for _, name := range order {
		s := c.P.Services[name]
		if err := c.waitDeps(ctx, s); err != nil {
			return err
		}
		if err := c.upService(ctx, s, imgs[name]); err != nil {
			return err
		}
	}
	return nil
}

// ensureVolumes makes the project's named volumes, labelled; an external
// one must exist.
func (c *Compose) ensureVolumes() error {
	for _, key := range slices.Sorted(mapKeys(c.P.Volumes)) {
		v := c.P.Volumes[key]
		if v.External {
			if _, err := c.E.Volumes.Get(v.Name); err != nil {
				return fmt.Errorf("external volume %q not found", v.Name)
			}
			continue
		}
		_, created, err := c.E.Volumes.Create(v.Name, volume.CreateOptions{Labels: volumeLabels(c.P, key, v)})
		if err != nil {
			return fmt.Errorf("volume %s: %w", v.Name, err)
		}
		if created {
			c.progress("Volume", v.Name, "Created")
		}
	}
	return nil
}

// BuildOptions are `compose build`'s.
type BuildOptions struct {
	Services []string
	// NoCache runs every step.
	NoCache bool
	// Pull pulls every FROM image, as `compose build --pull` does (a
	// build section's pull: true does it for one service).
	Pull bool
}

// buildOptions tune one service's build.
type buildOptions struct{ noCache, pull bool }

// build builds a service's image (its build section) as ImageName. Its
// FROM images are had as a run's image is (image.Store.Ensure): pulled
// when missing, in Compose's lines, or in any case with --pull or the
// section's pull: true.
func (c *Compose) build(ctx context.Context, s types.ServiceConfig, o buildOptions) (image.Image, error) {
	b := s.Build
	df := b.Dockerfile
	if df != "" && !filepath.IsAbs(df) {
		df = filepath.Join(b.Context, df)
	}
	args := map[string]string{}
	for k, v := range b.Args {
		if v != nil {
			args[k] = *v
		}
	}
	if strings.Contains(b.Context, "://") {
		return image.Image{}, fmt.Errorf("service %q: build context %s: only local directories are built", s.Name, b.Context)
	}
	base := image.EnsureOptions{Policy: image.PullMissing, Pull: c.puller(s.Name)}
	if o.pull || b.Pull {
		base.Policy = image.PullAlways
	}
	fmt.Fprintf(c.Out, " Service %s  Building\n", s.Name)
	img, err := build.Build(ctx, c.E, build.Options{
		Context: b.Context, Dockerfile: df, Tags: append([]string{ImageName(c.P, s)}, b.Tags...), BuildArgs: args,
		NoCache: o.noCache || b.NoCache, Target: b.Target, Out: c.BuildOut, Base: base,
	})
	if err != nil {
		return img, fmt.Errorf("service %q: build: %w", s.Name, err)
	}
	fmt.Fprintf(c.Out, " Service %s  Built\n", s.Name)
	return img, nil
}

// Build builds the services that have a build section (`compose build`).
func (c *Compose) Build(ctx context.Context, o BuildOptions) error {
	order, err := c.selected(o.Services, false)
	if err != nil {
		return err
	}
	for _, n := range order {
		if s := c.P.Services[n]; s.Build != nil {
			if _, err := c.build(ctx, s, buildOptions{noCache: o.NoCache, pull: o.Pull}); err != nil {
				return err
			}
		}
	}
	return nil
}

// upService brings a service's container up: an existing one made from
// the same configuration and image is started if it is not running; one
// made from another is replaced.
func (c *Compose) upService(ctx context.Context, s types.ServiceConfig, img image.Image) error {
	name := ContainerName(c.P, s, 1)
	old, err := c.E.Lookup(name)
	switch {
	case errors.Is(err, engine.ErrNotFound):
	case err != nil:
		return err
	case old.Config.Labels[LabelProject] != c.P.Name:
		return fmt.Errorf("container name %q is already in use by container %s, which is not project %s's", name, engine.Short(old.ID), c.P.Name)
	case old.Config.Labels[LabelConfigHash] == ConfigHash(s) && old.Image == img.ID:
		if old.State.Running {
			c.progress("Container", name, "Running")
			return nil
		}
		return c.start(ctx, name)
	default:
		if _, err := c.E.Stop(ctx, old.ID, stopTimeout(s)); err != nil {
			return err
		}
		if _, err := c.E.Remove(ctx, old.ID, true, false); err != nil {
			return err
		}
		c.progress("Container", name, "Recreated")
	}
	o, err := c.CreateOptions(s, name, 1, false)
	if err != nil {
		return err
	}
	ctr, err := c.E.Create(ctx, o)
	if err != nil {
		return fmt.Errorf("service %q: %w", s.Name, err)
	}
	c.progress("Container", name, "Created")
	if err := c.connectMore(ctx, s, ctr.Name, false); err != nil {
		return err
	}
	return c.start(ctx, ctr.Name)
}

func (c *Compose) start(ctx context.Context, name string) error {
	if _, err := c.E.Start(ctx, name, engine.StartOptions{}); err != nil && !errors.Is(err, engine.ErrRunning) {
		return fmt.Errorf("start %s: %w", name, err)
	}
	c.progress("Container", name, "Started")
	return nil
}

// stopTimeout is a service's stop_grace_period, or Docker's 10 seconds.
func stopTimeout(s types.ServiceConfig) time.Duration {
	if s.StopGracePeriod != nil {
		return time.Duration(*s.StopGracePeriod)
	}
	return 10 * time.Second
}

// CreateOptions is the engine's container for service s, named name:
// what `unbox create` would be given for it.
func (c *Compose) CreateOptions(s types.ServiceConfig, name string, n int, oneoff bool) (engine.CreateOptions, error) {
	o := engine.CreateOptions{
		Name: name, Image: ImageName(c.P, s), Cmd: s.Command, WorkingDir: s.WorkingDir, User: s.User,
		Hostname: s.Hostname, Labels: containerLabels(c.P, s, n, oneoff), Tty: s.Tty, OpenStdin: s.StdinOpen,
		Memory: int64(s.MemLimit), PidsLimit: s.PidsLimit, CPUPeriod: s.CPUPeriod, CPUQuota: s.CPUQuota,
		Privileged: s.Privileged, ReadOnly: s.ReadOnly, CapAdd: s.CapAdd, CapDrop: s.CapDrop, Runtime: s.Runtime,
		StopSignal: s.StopSignal, Tmpfs: slices.Clone(s.Tmpfs), Healthcheck: Healthcheck(s),
		DNS: s.DNS, DNSSearch: s.DNSSearch, DNSOptions: s.DNSOpts,
	}
	// "=" keeps an IPv6 address whole; sorted, as the map has no order.
	o.ExtraHosts = s.ExtraHosts.AsList("=")
	slices.Sort(o.ExtraHosts)
	for _, opt := range s.SecurityOpt {
		// A profile's path is the project directory's, as Compose reads it.
		if p, ok := strings.CutPrefix(opt, "seccomp="); ok && p != "unconfined" && !filepath.IsAbs(p) {
			opt = "seccomp=" + filepath.Join(c.P.WorkingDir, p)
		}
		o.SecurityOpt = append(o.SecurityOpt, opt)
	}
	if s.Entrypoint != nil {
		o.Entrypoint = s.Entrypoint
		if len(o.Entrypoint) == 0 {
			o.Entrypoint = []string{""}
		}
	}
	if s.Init != nil {
		o.Init = *s.Init
	}
	if s.CPUS > 0 {
		o.NanoCPUs = int64(float64(s.CPUS) * 1e9)
	}
	for _, k := range slices.Sorted(mapKeys(s.Environment)) {
		if v := s.Environment[k]; v != nil {
			o.Env = append(o.Env, k+"="+*v)
		}
	}
	var err error
	if o.Restart, err = engine.ParseRestartPolicy(s.Restart); err != nil {
		return o, fmt.Errorf("service %q: %w", s.Name, err)
	}
	for _, v := range s.Volumes {
		spec, tmpfs, err := c.volumeSpec(s, v)
		if err != nil {
			return o, err
		}
		if tmpfs != "" {
			o.Tmpfs = append(o.Tmpfs, tmpfs)
		} else {
			o.Volumes = append(o.Volumes, spec)
		}
	}
	if err := c.networkMode(&o, s, oneoff); err != nil {
		return o, err
	}
	return o, nil
}

// volumeSpec is one of a service's volumes as `-v` takes it (or, for a
// tmpfs, as --tmpfs does): a named volume by its project name, a bind's
// host directory made if missing, as Compose does.
func (c *Compose) volumeSpec(s types.ServiceConfig, v types.ServiceVolumeConfig) (spec, tmpfs string, err error) {
	ro := ""
	if v.ReadOnly {
		ro = ":ro"
	}
	switch v.Type {
	case types.VolumeTypeVolume:
		if v.Source == "" {
			return v.Target, "", nil
		}
		vol, ok := c.P.Volumes[v.Source]
		if !ok {
			return "", "", fmt.Errorf("service %q refers to undefined volume %s", s.Name, v.Source)
		}
		return vol.Name + ":" + v.Target + ro, "", nil
	case types.VolumeTypeBind:
		if v.Bind == nil || v.Bind.CreateHostPath {
			if err := os.MkdirAll(v.Source, 0o755); err != nil {
				return "", "", fmt.Errorf("service %q: bind %s: %w", s.Name, v.Source, err)
			}
		}
		return v.Source + ":" + v.Target + ro, "", nil
	case types.VolumeTypeTmpfs:
		t := v.Target
		if v.Tmpfs != nil && v.Tmpfs.Size > 0 {
			t += ":size=" + strconv.FormatInt(int64(v.Tmpfs.Size), 10)
		}
		return "", t, nil
	}
	return "", "", fmt.Errorf("service %q: volume type %s is not supported (volume, bind and tmpfs are)", s.Name, v.Type)
}
