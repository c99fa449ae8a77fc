package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"

	"github.com/unboxlab/unbox/capstone/image"
	"github.com/unboxlab/unbox/internal/statefile"
	"github.com/unboxlab/unbox/internal/volume"
)

// CreateOptions are `unbox create` and `unbox run`'s flags.
type CreateOptions struct {
	Name  string
	Image string
	// Cmd replaces the image's command when not empty; Entrypoint
	// replaces its entrypoint when not nil ([]string{""}: none).
	Cmd        []string
	Entrypoint []string
	// Env are NAME=value (or NAME, taken from this process's environment)
	// from -e and --env-file, in order.
	Env        []string
	WorkingDir string
	User       string
	Hostname   string
	Labels     map[string]string
	Tty        bool
	OpenStdin  bool
	Volumes    []string // -v, as given
	Tmpfs      []string // --tmpfs, as given
	Memory     int64
	NanoCPUs   int64
	CPUPeriod  int64
	CPUQuota   int64
	PidsLimit  int64
	Restart    RestartPolicy
	AutoRemove bool
	Init       bool
	ReadOnly   bool
	CapAdd     []string
	CapDrop    []string
	Privileged bool
	Runtime    string
	StopSignal string
	// Network is --network: a network's name (DefaultNetwork when
	// empty), none, host or container:NAME; Aliases (--network-alias)
	// and IP (--ip) are the container's on it.
	Network string
	Aliases []string
	IP      string
	// Publish are -p values; PublishAll is -P (every exposed port, on a
	// host port chosen at start); Expose are --expose values.
	Publish    []string
	PublishAll bool
	Expose     []string
	// DNS (--dns: IP, or IP:PORT on a user-defined network), DNSSearch,
	// DNSOptions and ExtraHosts (--add-host HOST:IP or HOST=IP, IP may
	// be host-gateway) shape /etc/resolv.conf and /etc/hosts.
	DNS        []string
	DNSSearch  []string
	DNSOptions []string
	ExtraHosts []string
	// SecurityOpt are --security-opt values, as given.
	SecurityOpt []string
	// Healthcheck is --health-* (Test ["NONE"]: --no-healthcheck), laid
	// over the image's HEALTHCHECK field by field; nil keeps the image's.
	Healthcheck *dockerspec.HealthcheckConfig
}

// Create makes a container (`unbox create`), without starting it. Every
// flag is checked before anything is made, so that bad input leaves
// nothing behind (exit status 125). Then the container is made in a
// directory of its own under a temporary name, held with a lock, and
// renamed into place, name checked unique, in one step: a create killed
// at any point leaves either a whole container or a temporary directory
// that the next command finds unlocked and removes (repair.go).
func (e *Engine) Create(ctx context.Context, o CreateOptions) (*Container, error) {
	c, specs, err := e.checkCreate(ctx, o)
	if err != nil {
		return nil, &ExitCodeError{Code: 125, Err: err}
	}
	release, err := e.Images.Hold()
	if err != nil {
		return nil, err
	}
	defer release()
	img, err := e.Images.Resolve(string(c.Image))
	if err != nil {
		return nil, &ExitCodeError{Code: 125, Err: err}
	}
	if c.ID, err = e.freshID(); err != nil {
		return nil, err
	}
	tmp := filepath.Join(e.Root, "containers", ".new-"+c.ID)
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return nil, err
	}
	unlock, err := statefile.Lock(tmp)
	if err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	defer unlock()
	fail := func(err error) (*Container, error) {
		e.discardNew(c.ID)
		return nil, err
	}
	if err := e.prepare(ctx, c, img, tmp, specs); err != nil {
		return fail(err)
	}
	if err := e.publish(c, tmp); err != nil {
		return fail(&ExitCodeError{Code: 125, Err: err})
	}
	return c, nil
}

// checkCreate checks every flag and builds the record, making nothing but
// the built-in image on its first use.
func (e *Engine) checkCreate(ctx context.Context, o CreateOptions) (*Container, []volume.Spec, error) {
	if o.Name != "" {
		n, err := CheckName(o.Name)
		if err != nil {
			return nil, nil, err
		}
		if e.nameTaken(n) != "" {
			return nil, nil, nameConflict(n, e.nameTaken(n))
		}
		o.Name = n
	}
	if o.AutoRemove && o.Restart.Name != "" && o.Restart.Name != "no" {
		return nil, nil, errors.New("conflicting options: --restart and --rm")
	}
	if err := checkLimits(o.Memory, o.NanoCPUs, o.CPUPeriod, o.CPUQuota); err != nil {
		return nil, nil, err
	}
	if _, err := e.runtimeFor(o.Runtime); err != nil {
		return nil, nil, err
	}
	if o.Init {
		if err := checkStaticSelf(); err != nil {
			return nil, nil, err
		}
	}
	if _, err := capabilities(HostConfig{CapAdd: o.CapAdd, CapDrop: o.CapDrop}); err != nil {
		return nil, nil, err
	}
	var specs []volume.Spec
	for _, v := range o.Volumes {
		s, err := volume.ParseSpec(v)
		if err != nil {
			return nil, nil, err
		}
		specs = append(specs, s)
	}
	var mounts []MountPoint
	for _, t := range o.Tmpfs {
		m, err := tmpfsMount(t)
		if err != nil {
			return nil, nil, err
		}
		mounts = append(mounts, m)
	}
	// An image not in the store is the Docker daemon's "no such image:
	// REF": pulling it is the CLI's part (`unbox run --pull`), as Docker's.
	img, err := e.Images.Get(ctx, o.Image)
	if err != nil {
		return nil, nil, err
	}
	// The image's VOLUMEs not covered by a -v: anonymous volumes.
	for target := range img.Config.Config.Volumes {
		covered := slices.ContainsFunc(specs, func(s volume.Spec) bool { return s.Target == filepath.Clean(target) })
		if !covered && !slices.ContainsFunc(mounts, func(m MountPoint) bool { return m.Destination == filepath.Clean(target) }) {
			s, err := volume.ParseSpec(target)
			if err != nil {
				return nil, nil, fmt.Errorf("image volume %s: %w", target, err)
			}
			specs = append(specs, s)
		}
	}
	if err := volume.CheckSpecs(specs); err != nil {
		return nil, nil, err
	}
	for _, m := range mounts {
		if slices.ContainsFunc(specs, func(s volume.Spec) bool { return s.Target == m.Destination }) {
			return nil, nil, fmt.Errorf("duplicate mount point: %s", m.Destination)
		}
	}
	ic := img.Config.Config
	cfg := Config{
		User: o.User, Tty: o.Tty, OpenStdin: o.OpenStdin, StdinOnce: o.OpenStdin,
		Env: mergeEnv(ic.Env, o.Env), Cmd: ic.Cmd, Entrypoint: ic.Entrypoint, Image: o.Image,
		WorkingDir: ic.WorkingDir, Labels: map[string]string{}, StopSignal: ic.StopSignal, Hostname: o.Hostname,
	}
	if o.StopSignal != "" {
		cfg.StopSignal = o.StopSignal
	}
	cfg.Healthcheck, cfg.Shell = MergeHealthcheck(o.Healthcheck, img.Config.Ext.Healthcheck), img.Config.Ext.Shell
	if err := checkHealthcheck(cfg.Healthcheck); err != nil {
		return nil, nil, err
	}
	if _, err := ParseSignal(cfg.StopSignal); cfg.StopSignal != "" && err != nil {
		return nil, nil, err
	}
	for k, v := range ic.Labels {
		cfg.Labels[k] = v
	}
	for k, v := range o.Labels {
		cfg.Labels[k] = v
	}
	if cfg.User == "" {
		cfg.User = ic.User
	}
	if o.WorkingDir != "" {
		if !filepath.IsAbs(o.WorkingDir) {
			return nil, nil, fmt.Errorf("the working directory '%s' is invalid: it needs to be an absolute path", o.WorkingDir)
		}
		cfg.WorkingDir = o.WorkingDir
	}
	if o.Entrypoint != nil {
		cfg.Entrypoint = nil
		if len(o.Entrypoint) > 1 || o.Entrypoint[0] != "" {
			cfg.Entrypoint = o.Entrypoint
		}
		if len(o.Cmd) == 0 {
			cfg.Cmd = nil // a new entrypoint drops the image's command, as Docker does
		}
	}
	if len(o.Cmd) > 0 {
		cfg.Cmd = o.Cmd
	}
	if len(cfg.Entrypoint)+len(cfg.Cmd) == 0 {
		return nil, nil, errors.New("no command specified")
	}
	args := append(slices.Clone(cfg.Entrypoint), cfg.Cmd...)
	if o.Restart.Name == "" {
		o.Restart.Name = "no"
	}
	c := &Container{
		Created: time.Now().UTC(), Path: args[0], Args: args[1:], Image: img.ID, Name: o.Name, Driver: "overlay",
		Config: cfg, Mounts: mounts,
		HostConfig: HostConfig{
			Binds: o.Volumes, NetworkMode: o.Network, RestartPolicy: o.Restart, AutoRemove: o.AutoRemove,
			Runtime: o.Runtime, Privileged: o.Privileged, ReadonlyRootfs: o.ReadOnly, CapAdd: o.CapAdd, CapDrop: o.CapDrop,
			Init: o.Init, Memory: o.Memory, NanoCPUs: o.NanoCPUs, CPUPeriod: o.CPUPeriod, CPUQuota: o.CPUQuota,
			PidsLimit: o.PidsLimit, CgroupParent: e.CgroupParent,
		},
	}
	if c.HostConfig.Runtime == "" {
		c.HostConfig.Runtime = e.Runtime
	}
	if len(o.Tmpfs) > 0 {
		c.HostConfig.Tmpfs = map[string]string{}
		for _, t := range o.Tmpfs {
			dst, opts, _ := strings.Cut(t, ":")
			c.HostConfig.Tmpfs[dst] = opts
		}
	}
	if err := e.checkNetworkOptions(c, o, ic.ExposedPorts); err != nil {
		return nil, nil, err
	}
	if err := checkNameOptions(c, o); err != nil {
		return nil, nil, err
	}
	if err := checkSecurityOpts(c, o.SecurityOpt); err != nil {
		return nil, nil, err
	}
	c.State.set(Created)
	return c, specs, nil
}

// mergeEnv is the image's environment with the flags' on top: a NAME=value
// replaces the image's NAME; a bare NAME takes this process's value, or is
// dropped if it has none, as Docker does.
func mergeEnv(base, flags []string) []string {
	env := slices.Clone(base)
	for _, kv := range flags {
		k, _, hasValue := strings.Cut(kv, "=")
		if !hasValue {
			v, ok := os.LookupEnv(k)
			if !ok {
				continue
			}
			kv = k + "=" + v
		}
		env = slices.DeleteFunc(env, func(x string) bool { return strings.HasPrefix(x, k+"=") })
		env = append(env, kv)
	}
	return env
}

// freshID is a new ID whose short form no container has.
func (e *Engine) freshID() (string, error) {
	ids, err := e.ids()
	if err != nil {
		return "", err
	}
	for {
		id, err := newID()
		if err != nil {
			return "", err
		}
		if !slices.ContainsFunc(ids, func(x string) bool { return Short(x) == Short(id) }) {
			return id, nil
		}
	}
}

// prepare makes the container's directories inside tmp, its volumes, and
// fills in the record's paths.
func (e *Engine) prepare(ctx context.Context, c *Container, img image.Image, tmp string, specs []volume.Spec) error {
	lower, err := e.Images.Snapshots(ctx, img)
	if err != nil {
		return err
	}
	dir := e.dir(c.ID)
	for _, d := range []string{"init", "upper", "work", "rootfs", "bundle"} {
		if err := os.Mkdir(filepath.Join(tmp, d), 0o755); err != nil {
			return err
		}
	}
	c.LogPath = filepath.Join(dir, c.ID+"-json.log")
	c.GraphDriver = GraphDriver{Name: "overlay", Data: map[string]string{
		"LowerDir":      strings.Join(append([]string{filepath.Join(dir, "init")}, lower...), ":"),
		"ImageLowerDir": strings.Join(lower, ":"),
		"UpperDir":      filepath.Join(dir, "upper"),
		"WorkDir":       filepath.Join(dir, "work"),
		"MergedDir":     filepath.Join(dir, "rootfs"),
	}}
	if c.Config.Hostname == "" {
		c.Config.Hostname = Short(c.ID)
	}
	if len(specs) == 0 {
		return nil
	}
	// Volumes are filled from the image on first use: a read-only view
	// of it, mounted for the copy.
	root := filepath.Join(tmp, "rootfs")
	if err := mountOverlay(root, layersIn(tmp, c, true), true); err != nil {
		return err
	}
	att, err := e.Volumes.Attach(c.ID, root, specs)
	if uerr := unmount(root); err == nil {
		err = uerr
	}
	if err != nil {
		return err
	}
	vi := 0
	for _, s := range specs {
		m := MountPoint{Type: "bind", Source: s.Source, Destination: s.Target, RW: !s.ReadOnly, Propagation: propagationName(s.Propagation)}
		if s.ReadOnly {
			m.Mode = "ro"
		}
		if s.Kind != volume.Bind {
			v := att.Volumes[vi]
			vi++
			m.Type, m.Name, m.Source = "volume", v.Name, v.Mountpoint
			c.Volumes = append(c.Volumes, v.Name)
		}
		c.Mounts = append(c.Mounts, m)
	}
	return nil
}
