package k8s

import (
	_ "embed"
	"fmt"
	"strings"
)

// HandlerConfig is containerd-unbox.toml: the runtime handler an operator
// adds to containerd's configuration.
//
//go:embed containerd-unbox.toml
var HandlerConfig string

// RuntimeClass is runtimeclass.yaml.
//
//go:embed runtimeclass.yaml
var RuntimeClass string

// defaultBinary is where HandlerConfig says unbox-runtime is installed.
const defaultBinary = "/usr/local/bin/unbox-runtime"

// Handler is the runtime handler's name: RuntimeClass's handler, and the
// key of HandlerConfig's table.
const Handler = "unbox"

// NodeConfig is what a node needs beyond HandlerConfig.
type NodeConfig struct {
	// Dir holds the node's state: containerd's root and state, its socket,
	// the CNI configuration and address leases, the pods' logs.
	Dir string
	// Runtime is the unbox-runtime binary.
	Runtime string
	// SandboxImage is the pod sandbox's image (PauseImage).
	SandboxImage string
	// CNIBinDir holds the CNI plugins: /usr/lib/cni on Debian.
	CNIBinDir string
	// RestrictOOMScoreAdj has containerd give no container an
	// oom_score_adj below its own: for a containerd without
	// CAP_SYS_RESOURCE, which the kernel needs to lower one (proc(5)),
	// and without which runc and unbox-runtime both fail to start the
	// pause container (-998). The CRI plugin's restrict_oom_score_adj.
	RestrictOOMScoreAdj bool
}

// Socket is containerd's socket, for ctr, crictl and critest.
func (c NodeConfig) Socket() string { return c.Dir + "/containerd.sock" }

// ContainerdConfig is the node's containerd configuration: a private root,
// state and socket, the CRI plugin with the sandbox image and a CNI
// configuration of its own, runc as the default handler, and
// HandlerConfig as it is shipped, but for BinaryName.
func (c NodeConfig) ContainerdConfig() (string, error) {
	line := fmt.Sprintf("BinaryName = %q", defaultBinary)
	if strings.Count(HandlerConfig, line) != 1 {
		return "", fmt.Errorf("containerd-unbox.toml: want one line %s", line)
	}
	handler := strings.Replace(HandlerConfig, line, fmt.Sprintf("BinaryName = %q", c.Runtime), 1)
	cri := `plugins."io.containerd.grpc.v1.cri"`
	return fmt.Sprintf(`version = 2
root = %q
state = %q
# Only what a CRI node uses: no other snapshotter probes the host.
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = %q
[ttrpc]
  address = %q
[plugins."io.containerd.internal.v1.opt"]
  path = %q

[%s]
  sandbox_image = %q
  restrict_oom_score_adj = %v
  # Streams (exec, attach, port-forward) on loopback, a port of the kernel's choice.
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [%s.cni]
    bin_dir = %q
    conf_dir = %q
  [%s.containerd]
    default_runtime_name = "runc"
    snapshotter = "overlayfs"
    [%s.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"

%s`, c.Dir+"/root", c.Dir+"/state", c.Socket(), c.Socket()+".ttrpc", c.Dir+"/opt",
		cri, c.SandboxImage, c.RestrictOOMScoreAdj, cri, c.CNIBinDir, c.Dir+"/cni", cri, cri, handler), nil
}

// Bridge is the CNI bridge the node's pods are on.
const Bridge = "ubx-cri0"

// CNIConfig is the pods' network: the bridge plugin on Bridge in the
// node's network namespace, with the subnet's first address (the node
// reaches its pods, as a kubelet's probes do) and no masquerade, so
// nothing goes further; host-local addresses from subnet, kept in the
// node's directory.
func (c NodeConfig) CNIConfig(subnet string) string {
	return fmt.Sprintf(`{
  "cniVersion": "0.4.0",
  "name": "unbox-cri",
  "plugins": [{
    "type": "bridge",
    "bridge": %q,
    "isGateway": true,
    "ipMasq": false,
    "ipam": {"type": "host-local", "ranges": [[{"subnet": %q}]], "dataDir": %q}
  }]
}
`, Bridge, subnet, c.Dir+"/cni-ipam")
}
