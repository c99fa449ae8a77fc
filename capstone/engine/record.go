package engine

import (
	"fmt"
	"strings"
	"time"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	digest "github.com/opencontainers/go-digest"
)

// Container is a container's record, the file containers/<id>/config.json
// under the engine's root: what `unbox inspect` prints, with Docker's
// field names so that scripts written for `docker inspect` read it.
type Container struct {
	ID      string    `json:"Id"`
	Created time.Time `json:"Created"`
	// Path and Args are what the container's process runs: entrypoint and
	// command, joined as Docker joins them.
	Path  string   `json:"Path"`
	Args  []string `json:"Args"`
	State State    `json:"State"`
	// Image is the image's ID; Config.Image the reference as given.
	Image        digest.Digest `json:"Image"`
	Name         string        `json:"Name"`
	RestartCount int           `json:"RestartCount"`
	Driver       string        `json:"Driver"`
	LogPath      string        `json:"LogPath"`
	HostConfig   HostConfig    `json:"HostConfig"`
	GraphDriver  GraphDriver   `json:"GraphDriver"`
	Mounts       []MountPoint  `json:"Mounts"`
	Config       Config        `json:"Config"`
	// NetworkSettings: the networks it is on (network_record.go).
	NetworkSettings NetworkSettings `json:"NetworkSettings"`
	// Volumes are the store's volumes the container uses (by name), which
	// rm releases.
	Volumes []string `json:"Volumes,omitempty"`
}

// Config is what the container runs, from the image and the flags
// (Docker's container Config).
type Config struct {
	Hostname    string            `json:"Hostname"`
	Domainname  string            `json:"Domainname"`
	User        string            `json:"User"`
	AttachStdin bool              `json:"AttachStdin"`
	Tty         bool              `json:"Tty"`
	OpenStdin   bool              `json:"OpenStdin"`
	StdinOnce   bool              `json:"StdinOnce"`
	Env         []string          `json:"Env"`
	Cmd         []string          `json:"Cmd"`
	Image       string            `json:"Image"`
	WorkingDir  string            `json:"WorkingDir"`
	Entrypoint  []string          `json:"Entrypoint"`
	Labels      map[string]string `json:"Labels"`
	StopSignal  string            `json:"StopSignal,omitempty"`
	// StopTimeout is `stop`'s default wait, in seconds (10).
	StopTimeout *int `json:"StopTimeout,omitempty"`
	// ExposedPorts are the image's EXPOSE and --expose, "80/tcp"; -P
	// publishes them.
	ExposedPorts map[string]struct{} `json:"ExposedPorts,omitempty"`
	// Healthcheck is the image's HEALTHCHECK with the --health-* flags
	// (or a Compose service's healthcheck) on top; Test ["NONE"]: none
	// (health.go).
	Healthcheck *dockerspec.HealthcheckConfig `json:"Healthcheck,omitempty"`
	// Shell is the image's SHELL, which a CMD-SHELL healthcheck runs
	// through (/bin/sh -c when none).
	Shell []string `json:"Shell,omitempty"`
}

// HostConfig is how the container runs on this host (Docker's
// HostConfig): volumes, limits, policy, privileges.
type HostConfig struct {
	Binds       []string          `json:"Binds"`
	Tmpfs       map[string]string `json:"Tmpfs,omitempty"`
	NetworkMode string            `json:"NetworkMode"`
	// PortBindings are -p, "80/tcp" to the host's side; PublishAllPorts
	// is -P.
	PortBindings    map[string][]PortBinding `json:"PortBindings"`
	PublishAllPorts bool                     `json:"PublishAllPorts"`
	RestartPolicy   RestartPolicy            `json:"RestartPolicy"`
	AutoRemove      bool                     `json:"AutoRemove"`
	Runtime         string                   `json:"Runtime"`
	Privileged      bool                     `json:"Privileged"`
	ReadonlyRootfs  bool                     `json:"ReadonlyRootfs"`
	CapAdd          []string                 `json:"CapAdd"`
	CapDrop         []string                 `json:"CapDrop"`
	Init            bool                     `json:"Init"`
	Memory          int64                    `json:"Memory"`
	NanoCPUs        int64                    `json:"NanoCpus"`
	CPUPeriod       int64                    `json:"CpuPeriod"`
	CPUQuota        int64                    `json:"CpuQuota"`
	PidsLimit       int64                    `json:"PidsLimit"`
	CgroupParent    string                   `json:"CgroupParent"`
	// DNS, DNSSearch and DNSOptions are --dns, --dns-search and
	// --dns-option; ExtraHosts are --add-host, as HOST:IP.
	// SecurityOpt are --security-opt: seccomp=unconfined|JSON,
	// no-new-privileges (see checkSecurityOpts).
	SecurityOpt []string `json:"SecurityOpt"`
	DNS         []string `json:"Dns"`
	DNSSearch   []string `json:"DnsSearch"`
	DNSOptions  []string `json:"DnsOptions"`
	ExtraHosts  []string `json:"ExtraHosts"`
}

// RestartPolicy is --restart: Name is "no", "on-failure", "always" or
// "unless-stopped"; MaximumRetryCount bounds on-failure (0: no bound).
type RestartPolicy struct {
	Name              string `json:"Name"`
	MaximumRetryCount int    `json:"MaximumRetryCount"`
}

// ParseRestartPolicy reads --restart.
func ParseRestartPolicy(s string) (RestartPolicy, error) {
	name, n, hasN := strings.Cut(s, ":")
	p := RestartPolicy{Name: name}
	switch name {
	case "", "no":
		p.Name = "no"
	case "always", "unless-stopped":
	case "on-failure":
		if hasN {
			if _, err := fmt.Sscanf(n, "%d", &p.MaximumRetryCount); err != nil || p.MaximumRetryCount < 0 || fmt.Sprint(p.MaximumRetryCount) != n {
				return p, fmt.Errorf("invalid restart policy %q: the maximum retry count must be a number", s)
			}
			return p, nil
		}
	default:
		return p, fmt.Errorf("invalid restart policy %q: want no, always, unless-stopped or on-failure[:max-retries]", s)
	}
	if hasN {
		return p, fmt.Errorf("invalid restart policy %q: only on-failure takes a maximum retry count", s)
	}
	return p, nil
}

// GraphDriver names the container's overlay directories, as Docker's
// inspect shows them.
type GraphDriver struct {
	Name string            `json:"Name"`
	Data map[string]string `json:"Data"`
}

// MountPoint is one volume, bind or tmpfs of the container, as inspect
// shows it.
type MountPoint struct {
	Type        string `json:"Type"` // bind, volume, tmpfs
	Name        string `json:"Name,omitempty"`
	Source      string `json:"Source"`
	Destination string `json:"Destination"`
	Mode        string `json:"Mode"`
	RW          bool   `json:"RW"`
	Propagation string `json:"Propagation"`
}

// The statuses of a container, Docker's words.
const (
	Created    = "created"
	Running    = "running"
	Paused     = "paused"
	Restarting = "restarting"
	Removing   = "removing"
	Exited     = "exited"
	Dead       = "dead"
)

// State is the container's state as last recorded (inspect's State).
// The monitor records it as the container starts and ends; a command
// that finds it running with its monitor gone repairs it (repair.go).
type State struct {
	Status     string    `json:"Status"`
	Running    bool      `json:"Running"`
	Paused     bool      `json:"Paused"`
	Restarting bool      `json:"Restarting"`
	OOMKilled  bool      `json:"OOMKilled"`
	Dead       bool      `json:"Dead"`
	Pid        int       `json:"Pid"`
	ExitCode   int       `json:"ExitCode"`
	Error      string    `json:"Error"`
	StartedAt  time.Time `json:"StartedAt"`
	FinishedAt time.Time `json:"FinishedAt"`
	// ManuallyStopped is set by stop and kill, so that the restart
	// policy does not start the container again (Docker's
	// HasBeenManuallyStopped).
	ManuallyStopped bool `json:"ManuallyStopped,omitempty"`
	// Health is the healthcheck's outcome, once a container with one
	// has started (health.go).
	Health *Health `json:"Health,omitempty"`
}

// set makes the booleans agree with Status.
func (s *State) set(status string) {
	s.Status = status
	s.Running = status == Running || status == Paused || status == Restarting
	s.Paused = status == Paused
	s.Restarting = status == Restarting
	s.Dead = status == Dead
	if !s.Running {
		s.Pid = 0
	}
}

// IsRunning reports whether the container's process is (meant to be)
// running: running, paused, or between restarts.
func (s State) IsRunning() bool { return s.Running }

// Describe is the STATUS column of `unbox ps`, as Docker words it:
// "Up 5 seconds", "Up 5 seconds (healthy)", "Up 1 second (health:
// starting)", "Exited (0) 3 minutes ago", "Created", "Restarting (1) 2
// seconds ago", "Removal In Progress", "Dead".
func (s State) Describe(now time.Time) string {
	switch s.Status {
	case Running:
		up := "Up " + humanDuration(now.Sub(s.StartedAt))
		switch {
		case s.Health == nil:
		case s.Health.Status == HealthStarting:
			up += " (health: starting)"
		default:
			up += " (" + s.Health.Status + ")"
		}
		return up
	case Paused:
		return "Up " + humanDuration(now.Sub(s.StartedAt)) + " (Paused)"
	case Restarting:
		return fmt.Sprintf("Restarting (%d) %s ago", s.ExitCode, humanDuration(now.Sub(s.FinishedAt)))
	case Removing:
		return "Removal In Progress"
	case Dead:
		return "Dead"
	case Exited:
		if s.FinishedAt.IsZero() {
			return fmt.Sprintf("Exited (%d)", s.ExitCode)
		}
		return fmt.Sprintf("Exited (%d) %s ago", s.ExitCode, humanDuration(now.Sub(s.FinishedAt)))
	}
	return "Created"
}

// HumanDuration is d as Docker writes ages: "Less than a second", "5
// seconds", "About a minute", "3 hours", "2 weeks".
func humanDuration(d time.Duration) string {
	s := d.Seconds()
	switch {
	case s < 1:
		return "Less than a second"
	case s == 1:
		return "1 second"
	case s < 60:
		return fmt.Sprintf("%d seconds", int(s))
	}
	m := d.Minutes()
	switch {
	case m == 1 || m < 2:
		return "About a minute"
	case m < 60:
		return fmt.Sprintf("%d minutes", int(m))
	}
	h := int(d.Hours() + 0.5)
	switch {
	case h == 1:
		return "About an hour"
	case h < 48:
		return fmt.Sprintf("%d hours", h)
	case h < 24*7*2:
		return fmt.Sprintf("%d days", h/24)
	case h < 24*30*2:
		return fmt.Sprintf("%d weeks", h/24/7)
	case h < 24*365*2:
		return fmt.Sprintf("%d months", h/24/30)
	}
	return fmt.Sprintf("%d years", int(d.Hours())/24/365)
}

// Ago is a time as Docker's CREATED column writes it: "5 seconds ago".
func Ago(t, now time.Time) string {
	if t.IsZero() {
		return ""
	}
	return humanDuration(now.Sub(t)) + " ago"
}
