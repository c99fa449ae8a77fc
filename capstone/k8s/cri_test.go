//go:build linux

package k8s

import (
	"context"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/unboxlab/unbox/internal/cgroups"
)

// The crictl scenario: what a kubelet does with a pod, step by step, with
// crictl, under a runtime handler. It returns what it observed, one fact
// per key, so that two handlers can be compared fact by fact.
type scenario struct {
	t       *testing.T
	ctx     context.Context
	n       *testNode
	handler string
	facts   map[string]string
}

func (s *scenario) fact(key, format string, args ...any) {
	s.facts[key] = fmt.Sprintf(format, args...)
}

func (s *scenario) crictl(args ...string) string {
	s.t.Helper()
	out, err := s.n.crictl.Run(s.ctx, args...)
	if err != nil {
		s.t.Fatalf("%s: %v", s.handler, err)
	}
	return strings.TrimSpace(out)
}

// container is a ContainerConfig of the busybox image running script.
func container(name, script string, resources map[string]any) map[string]any {
	return ContainerConfig(name, BusyboxImage.Names[0], script, resources)
}

func (s *scenario) runPod(name string) (id string, config map[string]any) {
	s.t.Helper()
	config = PodConfig(name, filepath.Join(s.n.Dir, "logs"), s.n.cgroupRoot)
	id, err := s.n.crictl.RunJSON(s.ctx, s.n.Dir, []string{"runp", "--runtime", s.handler}, config)
	if err != nil {
		s.t.Fatalf("%s: %v", s.handler, err)
	}
	return id, config
}

func (s *scenario) startContainer(pod string, podConfig, config map[string]any) string {
	s.t.Helper()
	id, err := s.n.crictl.RunJSON(s.ctx, s.n.Dir, []string{"create", pod}, config, podConfig)
	if err != nil {
		s.t.Fatalf("%s: %v", s.handler, err)
	}
	s.crictl("start", id)
	return id
}

func (s *scenario) inspect(cmd, id string, keys ...string) string {
	s.t.Helper()
	v, err := s.n.crictl.Inspect(s.ctx, cmd, id)
	if err != nil {
		s.t.Fatalf("%s: %v", s.handler, err)
	}
	return fmt.Sprint(Field(v, keys...))
}

// waitFor polls fn until it returns true, for a minute at most.
func (s *scenario) waitFor(what string, fn func() bool) {
	s.t.Helper()
	for deadline := time.Now().Add(time.Minute); !fn(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			s.t.Fatalf("%s: %s: not within a minute", s.handler, what)
		}
	}
}

func (s *scenario) logs(id string) string {
	s.t.Helper()
	out, err := s.n.crictl.Run(s.ctx, "logs", id)
	if err != nil {
		s.t.Fatalf("%s: %v", s.handler, err)
	}
	return out
}

// cgroupFile reads a container's cgroup interface file from the host,
// where its cgroupsPath says it is.
func (s *scenario) cgroupFile(id, controller, v1, v2 string) string {
	s.t.Helper()
	path := s.inspect("inspect", id, "info", "runtimeSpec", "linux", "cgroupsPath")
	h, err := cgroups.OpenHost(cgroups.DefaultRoot)
	if err != nil {
		s.t.Fatal(err)
	}
	file := filepath.Join(h.Root, path, v2)
	if !h.Mode.V2() {
		dir, err := h.Dir(controller, path)
		if err != nil {
			s.t.Fatal(err)
		}
		file = filepath.Join(dir, v1)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		s.t.Fatalf("%s: %v", s.handler, err)
	}
	return strings.TrimSpace(string(b))
}

// limitsScript prints a container's memory limit and CPU quota from inside,
// on either cgroup version.
const limitsScript = `if [ -e /sys/fs/cgroup/memory.max ]; then
  echo "memory=$(cat /sys/fs/cgroup/memory.max) cpu=$(cut -d' ' -f1 /sys/fs/cgroup/cpu.max)"
else
  echo "memory=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes) cpu=$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us)"
fi`

func (s *scenario) run() map[string]string {
	s.facts = map[string]string{}

	// One pod, one container: logs, exec, limits, devices, update, stop, rm.
	pod, podCfg := s.runPod("ubx-" + s.handler + "-a")
	s.fact("pod.state", "%s", s.inspect("inspectp", pod, "status", "state"))
	s.fact("pod.runtime", "%s", s.inspect("inspectp", pod, "info", "runtimeHandler"))
	res := map[string]any{"memory_limit_in_bytes": 64 << 20, "cpu_period": 100000, "cpu_quota": 25000, "cpu_shares": 256}
	c1 := s.startContainer(pod, podCfg, container("c1",
		`trap 'echo got TERM; exit 7' TERM; echo "hello from $(hostname)"; while :; do sleep 1; done`, res))
	s.waitFor("c1 logs its greeting", func() bool { return strings.Contains(s.logs(c1), "hello") })
	s.fact("c1.logs", "%s", strings.TrimSpace(s.logs(c1)))
	s.fact("c1.state", "%s", s.inspect("inspect", c1, "status", "state"))
	s.fact("c1.exec", "%s", s.crictl("exec", c1, "sh", "-c", `echo "pid1=$(cat /proc/1/comm) uid=$(id -u) host=$(hostname)"`))
	s.fact("c1.limits.inside", "%s", s.crictl("exec", c1, "sh", "-c", limitsScript))
	s.fact("c1.limits.host", "memory=%s cpu=%s shares=%s",
		s.cgroupFile(c1, "memory", "memory.limit_in_bytes", "memory.max"),
		s.cgroupFile(c1, "cpu", "cpu.cfs_quota_us", "cpu.max"),
		s.cgroupFile(c1, "cpu", "cpu.shares", "cpu.weight"))
	// The default capabilities include CAP_MKNOD: the device cgroup is
	// what keeps the disk's node, once made, closed.
	s.fact("c1.devices", "%s", s.crictl("exec", c1, "sh", "-c",
		`mknod /tmp/sda b 8 0 && echo made; (exec 3</tmp/sda) 2>&1 | sed 's/.*: //'; head -c1 /dev/zero | wc -c`))
	s.crictl("update", "--memory", fmt.Sprint(128<<20), c1)
	s.fact("c1.update.host", "memory=%s", s.cgroupFile(c1, "memory", "memory.limit_in_bytes", "memory.max"))
	if out, err := s.n.crictl.Run(s.ctx, "exec", c1, "sh", "-c", "exit 3"); err == nil {
		s.fact("c1.exec.status", "0 (%s)", out)
	} else {
		s.fact("c1.exec.status", "%s", strings.TrimSpace(err.Error()[strings.LastIndex(err.Error(), ":")+1:]))
	}
	s.crictl("stop", "--timeout", "10", c1)
	s.fact("c1.stopped", "state=%s exit=%s reason=%s", s.inspect("inspect", c1, "status", "state"),
		s.inspect("inspect", c1, "status", "exitCode"), s.inspect("inspect", c1, "status", "reason"))
	s.fact("c1.logs.after", "%s", strings.TrimSpace(s.logs(c1)))
	s.crictl("rm", c1)

	// A container over its memory limit is killed, and the shim's OOM
	// watch (on the cgroup the runtime made) says so.
	oom := s.startContainer(pod, podCfg, container("oom", "dd if=/dev/zero of=/dev/null bs=64M count=1",
		map[string]any{"memory_limit_in_bytes": 16 << 20}))
	s.waitFor("the oom container exits", func() bool { return s.inspect("inspect", oom, "status", "state") == "CONTAINER_EXITED" })
	s.fact("oom", "exit=%s reason=%s", s.inspect("inspect", oom, "status", "exitCode"), s.inspect("inspect", oom, "status", "reason"))
	s.crictl("rm", oom)

	// Two containers in one pod share its network namespace: the client
	// reaches the server on the pod's loopback.
	pod2, pod2Cfg := s.runPod("ubx-" + s.handler + "-b")
	server := s.startContainer(pod2, pod2Cfg, container("server", "echo pong | nc -l -p 8080; sleep 600", nil))
	client := s.startContainer(pod2, pod2Cfg, container("client",
		`until out=$(nc 127.0.0.1 8080 </dev/null) && [ -n "$out" ]; do sleep 0.2; done; echo "client got $out"; sleep 600`, nil))
	s.waitFor("the client logs the answer", func() bool { return strings.Contains(s.logs(client), "client got") })
	s.fact("net.client", "%s", strings.TrimSpace(s.logs(client)))
	nsOf := func(id string) string { return s.crictl("exec", id, "readlink", "/proc/self/ns/net") }
	s.fact("net.shared", "%v", nsOf(server) == nsOf(client))
	ip := s.inspect("inspectp", pod2, "status", "network", "ip")
	_, subnet, _ := net.ParseCIDR(testSubnet)
	onEth0 := strings.Contains(s.crictl("exec", client, "ip", "-4", "addr", "show", "eth0"), "inet "+ip+"/")
	s.fact("net.ip", "in %s: %v, on eth0: %v", testSubnet, subnet.Contains(net.ParseIP(ip)), onEth0)

	for i, p := range []string{pod, pod2} {
		s.crictl("stopp", p)
		s.fact(fmt.Sprintf("stopp.%d", i+1), "%s", s.inspect("inspectp", p, "status", "state"))
		s.crictl("rmp", p)
	}
	s.fact("after", "pods=%q containers=%q", s.crictl("pods", "-q"), s.crictl("ps", "-a", "-q"))
	return s.facts
}

// TestPrivCRI starts one node (containerd, once: its start, unbox-runtime's
// build and the images' import are a good part of the time) and runs on it
// the crictl scenario, then critest's specs.
func TestPrivCRI(t *testing.T) {
	n := startTestNode(t)
	if !t.Run("crictl", func(t *testing.T) { testCrictl(t, n) }) && !*critestFull {
		// The node is suspect; critest would fail for the same reason, at
		// length.
		return
	}
	t.Run("critest", func(t *testing.T) { testCritest(t, n) })
}

// testCrictl runs the crictl scenario under the unbox handler, checks what
// it saw, then runs it under runc on the same node and compares every fact.
func testCrictl(t *testing.T, n *testNode) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	got := map[string]map[string]string{}
	for _, handler := range []string{Handler, "runc"} {
		start := time.Now()
		got[handler] = (&scenario{t: t, ctx: ctx, n: n, handler: handler}).run()
		t.Logf("the scenario under %s took %v", handler, time.Since(start).Round(time.Millisecond))
	}
	ours := got[Handler]
	limits := "memory=67108864 cpu=25000"
	host := "memory=67108864 cpu=25000 shares=256"
	updated := "memory=134217728"
	if h, err := cgroups.OpenHost(cgroups.DefaultRoot); err == nil && h.Mode.V2() {
		host = fmt.Sprintf("memory=67108864 cpu=25000 100000 shares=%d", cgroups.SharesToWeight(256))
	}
	want := map[string]string{
		"pod.state":        "SANDBOX_READY",
		"pod.runtime":      Handler,
		"c1.logs":          "hello from ubx-unbox-a",
		"c1.state":         "CONTAINER_RUNNING",
		"c1.exec":          "pid1=sh uid=0 host=ubx-unbox-a",
		"c1.limits.inside": limits,
		"c1.limits.host":   host,
		"c1.devices":       "made\nOperation not permitted\n1",
		"c1.update.host":   updated,
		"c1.exec.status":   ours["c1.exec.status"], // compared with runc's below
		"c1.stopped":       "state=CONTAINER_EXITED exit=7 reason=Error",
		"c1.logs.after":    "hello from ubx-unbox-a\ngot TERM",
		"oom":              "exit=137 reason=OOMKilled",
		"net.client":       "client got pong",
		"net.shared":       "true",
		"net.ip":           "in " + testSubnet + ": true, on eth0: true",
		"stopp.1":          "SANDBOX_NOTREADY",
		"stopp.2":          "SANDBOX_NOTREADY",
		"after":            `pods="" containers=""`,
	}
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if ours[k] != want[k] {
			t.Errorf("unbox: %s = %q; want %q", k, ours[k], want[k])
		}
	}
	// The differential: runc saw the same, but for the handler's name in
	// what names it.
	theirs := got["runc"]
	for _, k := range slices.Sorted(maps.Keys(ours)) {
		a, b := ours[k], strings.ReplaceAll(theirs[k], "runc", Handler)
		if a != b {
			t.Errorf("%s: unbox %q, runc %q", k, ours[k], theirs[k])
		}
	}
}
