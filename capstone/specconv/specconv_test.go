//go:build linux

package specconv

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/capstone/container"
	"github.com/unboxlab/unbox/internal/cgroups"
)

// bundle makes a bundle directory with an empty rootfs and returns the
// example spec pointing at it.
func bundle(t *testing.T) (string, *specs.Spec) {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir, Example()
}

func convert(t *testing.T, dir string, s *specs.Spec) (*container.Config, error) {
	t.Helper()
	return Convert(s, Options{ID: "c1", Bundle: dir})
}

func TestExampleConverts(t *testing.T) {
	dir, s := bundle(t)
	c, err := convert(t, dir, s)
	if err != nil {
		t.Fatalf("Convert(Example()) = %v", err)
	}
	if c.Rootfs != filepath.Join(dir, "rootfs") {
		t.Errorf("Rootfs = %q; want the bundle's rootfs", c.Rootfs)
	}
	if got, want := c.Cgroup.Path(), "/unbox-runtime/c1"; got != want {
		t.Errorf("cgroup path = %q; want %q", got, want)
	}
	if got := CapNames(c.Process.Caps.Bounding); strings.Join(got, ",") != "CAP_KILL,CAP_NET_BIND_SERVICE,CAP_AUDIT_WRITE" {
		t.Errorf("bounding set = %v", got)
	}
	if c.RootPropagation != unix.MS_SLAVE|unix.MS_REC {
		t.Errorf("RootPropagation = %#x; want rslave by default", c.RootPropagation)
	}
	if len(c.Devices) != 6 {
		t.Errorf("devices = %v; want the default six", c.Devices)
	}
}

// TestBadSpecs: each mistake is refused with a message that names it.
func TestBadSpecs(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(s *specs.Spec)
		wants string
	}{
		{"unknown namespace", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "bogus"})
		}, `unknown namespace type "bogus"`},
		{"namespace twice", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "pid"})
		}, `"pid" listed twice`},
		{"no mount namespace", func(s *specs.Spec) {
			s.Linux.Namespaces = []specs.LinuxNamespace{{Type: "pid"}}
			s.Hostname = ""
		}, "a mount namespace is required"},
		{"hostname without uts", func(s *specs.Spec) {
			s.Linux.Namespaces = []specs.LinuxNamespace{{Type: "mount"}}
		}, "needs a UTS namespace"},
		{"join a user namespace", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "user", Path: "/proc/1/ns/user"})
		}, "joining the user namespace"},
		{"no process", func(s *specs.Spec) { s.Process = nil }, "process: missing"},
		{"no args", func(s *specs.Spec) { s.Process.Args = nil }, "process.args: empty"},
		{"relative cwd", func(s *specs.Spec) { s.Process.Cwd = "tmp" }, "must be an absolute path"},
		{"no root", func(s *specs.Spec) { s.Root = nil }, "root.path: missing"},
		{"missing rootfs", func(s *specs.Spec) { s.Root.Path = "nope" }, "root.path"},
		{"unknown capability", func(s *specs.Spec) { s.Process.Capabilities.Bounding = []string{"CAP_FLY"} }, `unknown capability "CAP_FLY"`},
		{"unknown rlimit", func(s *specs.Spec) { s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_FUN"}} }, `unknown type "RLIMIT_FUN"`},
		{"soft above hard", func(s *specs.Spec) {
			s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 10, Hard: 5}}
		}, "soft limit 10 is above its hard limit 5"},
		{"host sysctl", func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"vm.swappiness": "1"} }, "not namespaced"},
		{"relative mount target", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "data", Type: "tmpfs", Source: "tmpfs"})
		}, "is not an absolute path"},
		{"idmapped mount", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Source: "/tmp", Options: []string{"rbind", "idmap"}})
		}, "idmapped mounts are not supported"},
		{"untyped mount", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Source: "/tmp"})
		}, "no type, and not a bind mount"},
		{"bad device type", func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/x", Type: "z"}}
		}, `type "z"`},
		{"bad propagation", func(s *specs.Spec) { s.Linux.RootfsPropagation = "sideways" }, `unknown propagation "sideways"`},
		{"memory swap below memory", func(s *specs.Spec) {
			m, sw := int64(100<<20), int64(50<<20)
			s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &m, Swap: &sw}
		}, "MemorySwap"},
		{"hugepages", func(s *specs.Spec) {
			s.Linux.Resources.HugepageLimits = []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 1}}
		}, "hugepageLimits: not supported"},
		{"seccomp notify", func(s *specs.Spec) {
			s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActNotify}
		}, "SCMP_ACT_NOTIFY"},
		{"systemd path", func(s *specs.Spec) { s.Linux.CgroupsPath = "/a/b" }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, s := bundle(t)
			tc.edit(s)
			_, err := convert(t, dir, s)
			switch {
			case tc.wants == "" && err != nil:
				t.Errorf("Convert = %v; want no error", err)
			case tc.wants != "" && (err == nil || !strings.Contains(err.Error(), tc.wants)):
				t.Errorf("Convert = %v; want an error containing %q", err, tc.wants)
			}
		})
	}
}

func TestParseErrorsSayWhere(t *testing.T) {
	_, err := Parse("config.json", []byte("{\n  \"ociVersion\": \"1.0.0\",\n  \"process\": {\"args\": 3}\n}"))
	if err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("Parse(bad type) = %v; want line 3 named", err)
	}
	_, err = Parse("config.json", []byte("{\n\"ociVersion\": \"1.0.0\",,\n}"))
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("Parse(syntax error) = %v; want line 2 named", err)
	}
	_, err = Load(t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "is ") || !strings.Contains(err.Error(), "an OCI bundle") {
		t.Errorf("Load(empty dir) = %v; want a hint that it is not a bundle", err)
	}
}

func TestMountOptions(t *testing.T) {
	for _, tc := range []struct {
		m     specs.Mount
		flags uintptr
		prop  uintptr
		data  string
		typ   string
		top   uintptr
	}{
		{m: specs.Mount{Destination: "/d", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "mode=755", "size=1m"}},
			flags: unix.MS_NOSUID | unix.MS_NODEV, data: "mode=755,size=1m", typ: "tmpfs"},
		// ro on a recursive bind: the top mount's alone (runc's reading).
		{m: specs.Mount{Destination: "/v", Type: "bind", Source: "vol", Options: []string{"rbind", "ro", "rprivate"}},
			flags: unix.MS_BIND | unix.MS_REC, prop: unix.MS_PRIVATE | unix.MS_REC, top: unix.MS_RDONLY},
		// rro: every mount's, below too.
		{m: specs.Mount{Destination: "/v", Type: "bind", Source: "vol", Options: []string{"rbind", "rro", "nosuid"}},
			flags: unix.MS_BIND | unix.MS_REC | unix.MS_RDONLY, top: unix.MS_NOSUID},
		{m: specs.Mount{Destination: "/v", Source: "/x", Options: []string{"bind", "ro", "rw", "noexec", "exec", "rslave"}},
			flags: unix.MS_BIND, prop: unix.MS_SLAVE | unix.MS_REC},
		{m: specs.Mount{Destination: "/v", Source: "/x", Options: []string{"bind", "ro"}},
			flags: unix.MS_BIND | unix.MS_RDONLY},
		{m: specs.Mount{Destination: "/s", Type: "sysfs", Source: "sysfs", Options: []string{"ro", "tmpcopyup", "x-anything"}},
			flags: unix.MS_RDONLY, typ: "sysfs"},
	} {
		c, err := convertMount("/bundle", tc.m)
		if err != nil {
			t.Errorf("convertMount(%v) = %v", tc.m, err)
			continue
		}
		if c.Flags != tc.flags || c.Propagation != tc.prop || c.Data != tc.data || c.Type != tc.typ || c.TopFlags != tc.top {
			t.Errorf("convertMount(%v) = flags %#x prop %#x data %q type %q top %#x; want %#x %#x %q %q %#x",
				tc.m.Options, c.Flags, c.Propagation, c.Data, c.Type, c.TopFlags, tc.flags, tc.prop, tc.data, tc.typ, tc.top)
		}
		if tc.m.Source == "vol" && c.Source != "/bundle/vol" {
			t.Errorf("relative bind source = %q; want it relative to the bundle", c.Source)
		}
	}
}

func TestCgroupPath(t *testing.T) {
	for _, tc := range []struct {
		path    string
		systemd bool
		want    string
		err     string
	}{
		{"", false, "/unbox-runtime/c1", ""},
		{"/libpod_parent/libpod-c1", false, "/libpod_parent/libpod-c1", ""},
		{"default/c1", false, "/default/c1", ""},
		{"/", false, "", "root cgroup"},
		{"machine.slice:libpod:c1", true, "/machine.slice/libpod-c1.scope", ""},
		{"kubepods-besteffort-pod12.slice:cri-containerd:abc", true,
			"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod12.slice/cri-containerd-abc.scope", ""},
		{":unbox:c1", true, "/system.slice/unbox-c1.scope", ""},
		{"/a/b", true, "", "slice:prefix:name"},
		{"a--b.slice:p:n", true, "", "dashes"},
	} {
		got, err := CgroupPath("c1", tc.path, tc.systemd)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("CgroupPath(%q, systemd %v) = %v, %v; want an error with %q", tc.path, tc.systemd, got, err, tc.err)
			}
		case err != nil || got.Path() != tc.want:
			t.Errorf("CgroupPath(%q, systemd %v) = %q, %v; want %q", tc.path, tc.systemd, got.Path(), err, tc.want)
		}
	}
}

func TestResources(t *testing.T) {
	q, p, sh, mem, swap, pids := int64(50000), uint64(100000), uint64(512), int64(64<<20), int64(-1), int64(0)
	r, err := Resources(&specs.LinuxResources{
		CPU:    &specs.LinuxCPU{Quota: &q, Period: &p, Shares: &sh, Cpus: "0"},
		Memory: &specs.LinuxMemory{Limit: &mem, Swap: &swap},
		Pids:   &specs.LinuxPids{Limit: &pids},
	})
	want := cgroups.Resources{CPUQuota: 50000, CPUPeriod: 100000, CPUShares: 512, CpusetCPUs: "0",
		Memory: 64 << 20, MemorySwap: cgroups.Unlimited, PidsLimit: cgroups.Unlimited}
	if err != nil || !reflect.DeepEqual(r, want) {
		t.Errorf("Resources = %+v, %v; want %+v", r, err, want)
	}
}

func TestSysctlNeedsItsNamespace(t *testing.T) {
	has := func(ns ...string) func(string) bool {
		return func(n string) bool { return strings.Contains(strings.Join(ns, ","), n) }
	}
	for _, tc := range []struct {
		key string
		ns  []string
		ok  bool
	}{
		{"net.ipv4.ip_forward", []string{"network"}, true},
		{"net.ipv4.ip_forward", nil, false},
		{"kernel.shmmax", []string{"ipc"}, true},
		{"fs.mqueue.msg_max", nil, false},
		{"kernel.domainname", []string{"uts"}, true},
		{"kernel.panic", []string{"ipc", "uts", "network"}, false},
	} {
		if err := checkSysctl(tc.key, has(tc.ns...)); (err == nil) != tc.ok {
			t.Errorf("checkSysctl(%s, %v) = %v; want ok %v", tc.key, tc.ns, err, tc.ok)
		}
	}
}

func TestFeaturesMatchTheTables(t *testing.T) {
	f := Features()
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"rbind"`, `"rslave"`, `"CAP_SYS_ADMIN"`, `"SCMP_CMP_MASKED_EQ"`, `"cgroup"`, `"poststop"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("features lack %s:\n%s", want, b)
		}
	}
	if strings.Contains(string(b), `"time"`) {
		t.Errorf("features list the time namespace, which Convert refuses")
	}
	for _, o := range f.MountOptions {
		if _, err := parseMountOptions([]string{o}); err != nil {
			t.Errorf("features list mount option %q, which Convert refuses: %v", o, err)
		}
	}
}

// TestDeviceRules: the spec's rules come first, in order, then runc's
// defaults; bad rules are refused with their index.
func TestDeviceRules(t *testing.T) {
	major, minor := int64(10), int64(229)
	rules, err := DeviceRules(&specs.Linux{Resources: &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		{Allow: true, Type: "c", Major: &major, Minor: &minor, Access: "rw"},
		{Allow: true, Type: "b", Major: &major, Access: "m"},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"deny a *:* rwm", "allow c 10:229 rw", "allow b 10:* m",
		"allow c *:* m", "allow b *:* m", "allow c 1:3 rwm", "allow c 1:5 rwm", "allow c 1:7 rwm", "allow c 1:8 rwm",
		"allow c 1:9 rwm", "allow c 5:0 rwm", "allow c 136:* rwm", "allow c 5:2 rwm", "allow c 10:200 rwm"}
	var got []string
	for _, r := range rules {
		got = append(got, map[bool]string{true: "allow ", false: "deny "}[r.Allow]+r.String())
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("DeviceRules =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if rules, err := DeviceRules(&specs.Linux{}); err != nil || len(rules) != len(DefaultDeviceRules) {
		t.Errorf("DeviceRules of a spec without rules = %v, %v; want the defaults", rules, err)
	}
	for _, c := range []struct {
		d    specs.LinuxDeviceCgroup
		want string
	}{
		{specs.LinuxDeviceCgroup{Type: "p", Access: "rwm"}, `linux.resources.devices[0]: type "p"`},
		{specs.LinuxDeviceCgroup{Type: "c"}, "linux.resources.devices[0]: access is empty"},
		{specs.LinuxDeviceCgroup{Type: "c", Access: "rwx"}, "linux.resources.devices[0]: device rule"},
	} {
		_, err := DeviceRules(&specs.Linux{Resources: &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{c.d}}})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("DeviceRules(%+v) = %v; want an error with %q", c.d, err, c.want)
		}
	}
}

// TestDevicesGiveWayToLinks: a privileged pod's spec lists the host's
// /dev/ptmx; the container gets the link to its own devpts instead, and
// every other node.
func TestDevicesGiveWayToLinks(t *testing.T) {
	dir, s := bundle(t)
	s.Linux.Devices = []specs.LinuxDevice{
		{Path: "/dev/ptmx", Type: "c", Major: 5, Minor: 2},
		{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229},
	}
	c, err := convert(t, dir, s)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, d := range c.Devices {
		paths = append(paths, d.Path)
	}
	if got := strings.Join(paths, " "); got != "/dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty /dev/fuse" {
		t.Errorf("devices = %s; want the defaults and /dev/fuse, not /dev/ptmx", got)
	}
}
