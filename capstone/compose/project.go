package compose

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
)

// LoadOptions say which Compose file to read, and as which project.
type LoadOptions struct {
	// Files are the Compose files (-f), merged in order; none: compose.yaml
	// (or docker-compose.yml, ...) in WorkDir or above, as Compose looks.
	Files []string
	// Project is the project's name (-p); "" is the file's `name:`, else
	// the directory's name.
	Project string
	// WorkDir is where relative paths and .env are read from; "" is the
	// first file's directory.
	WorkDir string
	// Env is the environment variables interpolate from (os.Environ()),
	// under the .env file's.
	Env []string
}

// Load reads the project with compose-go: the files merged, .env read,
// ${VAR} interpolated, env_file folded into environment, defaults filled
// (the default network, volume names PROJECT_NAME).
func Load(ctx context.Context, o LoadOptions) (*types.Project, error) {
	var opts []cli.ProjectOptionsFn
	if o.WorkDir != "" {
		opts = append(opts, cli.WithWorkingDirectory(o.WorkDir))
	}
	// In Compose's own order: the environment, then .env over it (in the
	// working directory: the first file's), then the files.
	opts = append(opts, cli.WithEnv(o.Env), cli.WithEnvFiles(), cli.WithDotEnv, cli.WithDefaultConfigPath)
	if o.Project != "" {
		opts = append(opts, cli.WithName(o.Project))
	}
	po, err := cli.NewProjectOptions(o.Files, opts...)
	if err != nil {
		return nil, err
	}
	p, err := po.LoadProject(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := Order(p); err != nil {
		return nil, err
	}
	return p, nil
}

// supportedService are the service keys this package acts on.
var supportedService = map[string]bool{
	"image": true, "build": true, "command": true, "entrypoint": true, "environment": true, "env_file": true,
	"volumes": true, "networks": true, "depends_on": true, "healthcheck": true, "restart": true,
	"working_dir": true, "user": true, "hostname": true, "cpus": true, "mem_limit": true, "pids_limit": true,
	"labels": true, "container_name": true, "tmpfs": true, "stop_signal": true, "stop_grace_period": true,
	"tty": true, "stdin_open": true, "read_only": true, "cap_add": true, "cap_drop": true, "privileged": true,
	"init": true, "runtime": true, "network_mode": true, "expose": true, "cpu_period": true, "cpu_quota": true,
	"pull_policy": true, "ports": true, "dns": true, "dns_search": true, "dns_opt": true, "extra_hosts": true,
	"security_opt": true,
}

// Warnings names every key of the project that this package does not act
// on: each service's, the top level's, and those a volume or network sets
// that the engine has no use for.
func Warnings(p *types.Project) []string {
	var out []string
	for _, name := range slices.Sorted(mapKeys(p.Services)) {
		s := p.Services[name]
		var keys []string
		setKeys(reflect.ValueOf(s), &keys)
		for _, k := range keys {
			if !supportedService[k] {
				out = append(out, fmt.Sprintf("service %q: %s is not supported by unbox compose and is ignored", name, k))
			}
		}
		if p, _, err := s.GetPullPolicy(); err == nil && p == types.PullPolicyRefresh {
			out = append(out, fmt.Sprintf("service %q: pull_policy %s pulls only a missing image here (the store keeps no time of the last pull)", name, s.PullPolicy))
		}
		if len(s.Ports) > 0 && s.NetworkMode != "" && s.NetworkMode != "bridge" && s.NetworkMode != "default" {
			out = append(out, fmt.Sprintf("service %q: ports are not published with network_mode %s (the container has no network of its own)", name, s.NetworkMode))
		}
		for _, key := range slices.Sorted(mapKeys(s.Networks)) {
			if cfg := s.Networks[key]; cfg != nil {
				var keys []string
				setKeys(reflect.ValueOf(*cfg), &keys)
				for _, k := range keys {
					if !supportedServiceNetwork[k] {
						out = append(out, fmt.Sprintf("service %q: networks.%s.%s is not supported by unbox compose and is ignored", name, key, k))
					}
				}
			}
		}
	}
	for _, top := range []struct {
		key string
		n   int
	}{{"secrets", len(p.Secrets)}, {"configs", len(p.Configs)}, {"models", len(p.Models)}} {
		if top.n > 0 {
			out = append(out, fmt.Sprintf("%s is not supported by unbox compose and is ignored", top.key))
		}
	}
	for name, v := range p.Volumes {
		if v.Driver != "" && v.Driver != "local" || len(v.DriverOpts) > 0 {
			out = append(out, fmt.Sprintf("volume %q: driver and driver_opts are not supported (volumes are local directories)", name))
		}
	}
	for name, n := range p.Networks {
		if n.External {
			continue
		}
		out = append(out, networkWarnings(name, n)...)
	}
	sort.Strings(out)
	return out
}

// supportedServiceNetwork are the keys of a service's entry under
// networks: that this package acts on.
var supportedServiceNetwork = map[string]bool{"aliases": true, "ipv4_address": true, "priority": true, "use_service_name_alias": true}

// networkWarnings names what a top-level network sets that a bridge of
// the engine does not do: one IPv4 subnet, its gateway, and the
// resolvers of its DNS responder (driver_opts unbox.dns_servers) are all
// it takes.
func networkWarnings(name string, n types.NetworkConfig) []string {
	var out []string
	say := func(format string, args ...any) {
		out = append(out, fmt.Sprintf("network %q: ", name)+fmt.Sprintf(format, args...)+" is not supported by unbox compose and is ignored")
	}
	if n.Driver != "" && n.Driver != "bridge" {
		say("driver %s (networks are bridges)", n.Driver)
	}
	for _, k := range slices.Sorted(mapKeys(n.DriverOpts)) {
		if k != DNSServersOption {
			say("driver_opts %s", k)
		}
	}
	if n.Ipam.Driver != "" && n.Ipam.Driver != "default" || len(n.Ipam.Options) > 0 {
		say("ipam driver and options")
	}
	for i, pool := range n.Ipam.Config {
		if i > 0 {
			say("ipam config %s (one subnet per network)", pool.Subnet)
		} else if pool.IPRange != "" || len(pool.AuxiliaryAddresses) > 0 {
			say("ipam ip_range and aux_addresses")
		}
	}
	if n.Internal {
		say("internal")
	}
	if n.EnableIPv6 != nil && *n.EnableIPv6 {
		say("enable_ipv6")
	}
	return out
}

// setKeys appends the yaml names of v's fields that are set, looking
// through the structs Compose inlines.
func setKeys(v reflect.Value, keys *[]string) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("yaml"), ",")
		if slices.Contains(tag[1:], "inline") && f.Type.Kind() == reflect.Struct {
			setKeys(v.Field(i), keys)
			continue
		}
		name := tag[0]
		if name == "" || name == "-" || strings.HasPrefix(name, "#") || name == "name" {
			continue
		}
		if !v.Field(i).IsZero() {
			*keys = append(*keys, name)
		}
	}
}

// ErrCycle is the error, wrapped, of a depends_on cycle.
var ErrCycle = errors.New("dependency cycle")

// Order is the project's services in the order up starts them: each
// after what it depends on (then by name). A cycle is an error naming it.
func Order(p *types.Project) ([]string, error) {
	const (
		unseen = iota
		visiting
		done
	)
	state := map[string]int{}
	var out, stack []string
	var visit func(name string) error
	visit = func(name string) error {
		switch state[name] {
		case done:
			return nil
		case visiting:
			i := slices.Index(stack, name)
			return fmt.Errorf("%w: %s", ErrCycle, strings.Join(append(slices.Clone(stack[i:]), name), " -> "))
		}
		s, ok := p.Services[name]
		if !ok {
			return fmt.Errorf("service %q is depended on but not defined", name)
		}
		state[name] = visiting
		stack = append(stack, name)
		for _, d := range slices.Sorted(mapKeys(s.DependsOn)) {
			if err := visit(d); err != nil {
				return err
			}
		}
		stack = stack[:len(stack)-1]
		state[name] = done
		out = append(out, name)
		return nil
	}
	for _, name := range slices.Sorted(mapKeys(p.Services)) {
		if err := visit(name); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func mapKeys[M ~map[string]V, V any](m M) func(yield func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// Healthcheck is s's healthcheck as its container's config carries it,
// converted as Docker Compose converts it: the test as written (compose-go
// makes a string CMD-SHELL), `disable: true` Test ["NONE"], durations
// and retries where given; nil (no healthcheck key) keeps the image's.
func Healthcheck(s types.ServiceConfig) *dockerspec.HealthcheckConfig {
	hc := s.HealthCheck
	if hc == nil {
		return nil
	}
	if hc.Disable {
		return &dockerspec.HealthcheckConfig{Test: []string{"NONE"}}
	}
	h := &dockerspec.HealthcheckConfig{Test: slices.Clone([]string(hc.Test))}
	for _, d := range []struct {
		from *types.Duration
		to   *time.Duration
	}{{hc.Interval, &h.Interval}, {hc.Timeout, &h.Timeout}, {hc.StartPeriod, &h.StartPeriod}, {hc.StartInterval, &h.StartInterval}} {
		if d.from != nil {
			*d.to = time.Duration(*d.from)
		}
	}
	if hc.Retries != nil {
		h.Retries = int(*hc.Retries)
	}
	return h
}
