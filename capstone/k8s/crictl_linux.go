package k8s

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Crictl is crictl pointed at a node, run in its namespaces (exec and
// attach reach containerd's stream server on the node's loopback): its
// configuration file names the node's socket for both the runtime and the
// image service.
type Crictl struct {
	Bin    string
	Config string
	node   *Node
}

// Crictl writes the node's crictl.yaml and returns crictl with it.
func (n *Node) Crictl(bin string) (*Crictl, error) {
	conf := filepath.Join(n.Dir, "crictl.yaml")
	text := fmt.Sprintf("runtime-endpoint: unix://%s\nimage-endpoint: unix://%s\ntimeout: 60\n", n.Socket(), n.Socket())
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		return nil, err
	}
	return &Crictl{Bin: bin, Config: conf, node: n}, nil
}

// Run runs crictl and returns what it printed on stdout; an error carries
// stderr.
func (c *Crictl) Run(ctx context.Context, args ...string) (string, error) {
	cmd := c.node.Command(c.node.Dir, c.Bin, append([]string{"--config", c.Config}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Cmd.Stdout, cmd.Cmd.Stderr = &stdout, &stderr
	err := cmd.Start(ctx)
	if err == nil {
		err = cmd.Wait()
	}
	if err != nil {
		return stdout.String(), fmt.Errorf("crictl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// RunJSON runs crictl with a JSON document written to a file in dir and
// named by the last argument: runp POD.json, create POD CTR.json POD.json.
// It returns crictl's output, trimmed: the new object's ID.
func (c *Crictl) RunJSON(ctx context.Context, dir string, args []string, docs ...any) (string, error) {
	for _, doc := range docs {
		b, err := json.Marshal(doc)
		if err != nil {
			return "", err
		}
		f, err := os.CreateTemp(dir, "crictl-*.json")
		if err != nil {
			return "", err
		}
		_, err = f.Write(b)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return "", err
		}
		defer os.Remove(f.Name())
		args = append(args, f.Name())
	}
	out, err := c.Run(ctx, args...)
	return strings.TrimSpace(out), err
}

// Inspect runs `crictl inspect[p] ID` and decodes its JSON.
func (c *Crictl) Inspect(ctx context.Context, cmd, id string) (map[string]any, error) {
	out, err := c.Run(ctx, cmd, "-o", "json", id)
	if err != nil {
		return nil, err
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		return nil, fmt.Errorf("crictl %s %s: %w", cmd, id, err)
	}
	return v, nil
}

// Field reads a path of keys out of decoded JSON: Field(v, "status",
// "state").
func Field(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// PodConfig is a PodSandboxConfig as crictl reads it (the CRI's protobuf
// field names, enums as numbers): name as the pod's name, uid and
// hostname, its logs under logDir, its cgroup below cgroupParent, and each
// container in a PID namespace of its own, as the kubelet asks unless
// shareProcessNamespace is set.
func PodConfig(name, logDir, cgroupParent string) map[string]any {
	return map[string]any{
		"metadata":      map[string]any{"name": name, "namespace": "unbox-test", "uid": name + "-uid"},
		"hostname":      name,
		"log_directory": filepath.Join(logDir, name),
		"linux": map[string]any{
			"cgroup_parent":    cgroupParent + "/" + name,
			"security_context": map[string]any{"namespace_options": map[string]any{"pid": 1}}, // CONTAINER
		},
	}
}

// ContainerConfig is a ContainerConfig of image running script with sh,
// with linux.resources if given (memory_limit_in_bytes, cpu_quota, ...),
// in a PID namespace of its own (the kubelet says so for each container
// too).
func ContainerConfig(name, image, script string, resources map[string]any) map[string]any {
	linux := map[string]any{"security_context": map[string]any{"namespace_options": map[string]any{"pid": 1}}}
	if resources != nil {
		linux["resources"] = resources
	}
	return map[string]any{
		"metadata": map[string]any{"name": name},
		"image":    map[string]any{"image": image},
		"command":  []string{"sh", "-c", script},
		"log_path": name + ".log",
		"linux":    linux,
	}
}
