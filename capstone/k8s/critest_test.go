//go:build linux

package k8s

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// critest (cri-tools' CRI validation suite) against the node, run in its
// namespaces, with images made here under the names its specs ask for.
//
// By default TestPrivCRI/critest runs the specs in critestFocus under the
// unbox handler, and every one must pass but those in
// critestKnownFailures, which must fail under runc as well: the part of
// the suite that exercises the runtime most, a minute and a half's worth.
// With -critest.full it runs every spec that needs no registry, under unbox
// and under runc, prints both results side by side, and fails for each
// spec that passes under runc and not under unbox:
//
//	UNBOX_REQUIRE_PRIVILEGED=1 go test -exec sudo -count=1 -timeout 60m -v \
//	    -run TestPrivCRI ./capstone/k8s -critest.full
var critestFull = flag.Bool("critest.full", false, "run all of critest's specs that need no registry, under unbox and runc, side by side")

// critestSkip are the specs no run here can pass, whatever the runtime,
// with the reason: each would pull an image from a registry (the node has
// no network to reach one), or needs what this node does not run.
var critestSkip = []struct{ pattern, reason string }{
	{`Image Manager|Image Consistency|Image Identifier|Image Volume`, "pulls images from a registry"},
	{`benchmark`, "measures, does not check (critest skips it by default)"},
	{`port mapping`, "needs the CNI portmap plugin and the host's iptables rules"},
	{`NRI`, "needs NRI, which containerd 1.6 lacks (critest skips it without --nri-socket)"},
	{`SupplementalGroupsPolicy`, "pulls an image with predefined groups from a registry"},
}

// critestFocus are the specs TestPrivCRI/critest runs by default.
var critestFocus = []string{
	`basic operations on container`,
	`should support log`,
	`Streaming runtime should support streaming interfaces runtime should support (exec|attach)`,
	`Security Context bucket`,
	`NoNewPrivs`,
	`NamespaceOption`,
	`Container OOM`,
	`support sysctls`,
	`Multiple Containers`,
	`Idempotence`,
}

// webServer is a stand-in for the nginx and httpd images: busybox's httpd,
// serving a page on the port given first, with the pid file nginx writes
// and its arguments (the specs look for nginx's "master process" in
// /proc/1/cmdline) kept on its command line. Installed as /usr/sbin/nginx,
// its command name is nginx (pidof finds it).
const webServer = `#!/bin/sh
# A stand-in for nginx and httpd in critest's specs, made by unbox's
# capstone/k8s: a page on port $1 (busybox httpd), nginx's pid file, and
# the arguments in /proc/1/cmdline.
mkdir -p /var/run /usr/share/nginx/html
echo $$ >/var/run/nginx.pid
echo '<h1>Welcome to nginx!</h1>' >/usr/share/nginx/html/index.html
echo "$(basename "$0"): serving on port $1"
httpd -f -p "$1" -h /usr/share/nginx/html &
trap 'kill $!; exit 0' TERM INT
wait
`

// pgrep and ipcs are stand-ins for the tools the registry's busybox image
// has and the fixture's busybox lacks: pgrep NAME lists the PIDs of the
// processes of that name; ipcs lists what /proc/sysvipc/shm does.
const (
	pgrep = `#!/bin/sh
# pgrep NAME, for critest's specs (capstone/k8s): the PIDs whose command is NAME.
found=1
for d in /proc/[0-9]*; do
	if [ "$(cat "$d/comm" 2>/dev/null)" = "$1" ]; then echo "${d#/proc/}"; found=0; fi
done
exit $found
`
	ipcs = `#!/bin/sh
# ipcs -m, for critest's specs (capstone/k8s): the shared memory segments.
cat /proc/sysvipc/shm
`
)

// critestImages are the images critest's selected specs ask for, made from
// the fixture; nnp is the built testdata/nnp.
func critestImages(nnp []byte) []Image {
	const e2e = "registry.k8s.io/e2e-test-images/"
	web := func(name string) []File { return []File{{Name: name, Mode: 0o755, Data: []byte(webServer)}} }
	return []Image{
		{Names: []string{e2e + "busybox:1.29-2"}, Cmd: []string{"sh"}, Files: []File{
			{Name: "usr/bin/pgrep", Mode: 0o755, Data: []byte(pgrep)},
			{Name: "usr/bin/ipcs", Mode: 0o755, Data: []byte(ipcs)},
		}},
		{Names: []string{e2e + "nginx:1.14-2"}, Entrypoint: []string{"/usr/sbin/nginx", "80", "master process"}, Files: web("usr/sbin/nginx")},
		{Names: []string{"gcr.io/k8s-staging-cri-tools/hostnet-nginx-" + runtime.GOARCH + ":latest"},
			Entrypoint: []string{"/usr/sbin/nginx", "12003"}, Files: web("usr/sbin/nginx")},
		{Names: []string{e2e + "httpd:2.4.39-4"}, Entrypoint: []string{"/usr/local/bin/httpd-foreground", "80"}, Files: web("usr/local/bin/httpd-foreground")},
		{Names: []string{e2e + "nonewprivs:1.3"}, Entrypoint: []string{"/usr/local/bin/nnp"},
			Files: []File{{Name: "usr/local/bin/nnp", Mode: 0o4755, Data: nnp}}},
	}
}

// specResult is one spec's outcome in a run.
type specResult struct {
	Name    string
	State   string // passed, failed, skipped, ...
	Message string
}

// runCritest runs critest under handler, with the focus patterns (all
// specs if none), and returns each spec's outcome from Ginkgo's JSON report.
func runCritest(t *testing.T, ctx context.Context, n *testNode, handler string, focus []string) []specResult {
	t.Helper()
	dir := t.TempDir()
	report := filepath.Join(dir, "report.json")
	var skips []string
	for _, s := range critestSkip {
		skips = append(skips, s.pattern)
	}
	args := []string{
		"--config", "/dev/null", "--runtime-endpoint", "unix://" + n.Socket(), "--image-endpoint", "unix://" + n.Socket(),
		"--runtime-handler", handler, "--ginkgo.no-color", "--ginkgo.json-report=" + report,
		"--ginkgo.skip=" + strings.Join(skips, "|"),
	}
	for _, f := range focus {
		args = append(args, "--ginkgo.focus="+f)
	}
	cmd := n.Command(dir, n.critest, args...)
	log, err := os.Create(filepath.Join(dir, "critest.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	cmd.Cmd.Stdout, cmd.Cmd.Stderr = log, log
	start := time.Now()
	if err := cmd.Start(ctx); err != nil {
		t.Fatal(err)
	}
	// A failed spec fails critest; the report says which.
	_ = cmd.Wait()
	t.Logf("critest under %s took %v", handler, time.Since(start).Round(time.Second))
	b, err := os.ReadFile(report)
	if err != nil {
		out, _ := os.ReadFile(log.Name())
		t.Fatalf("critest under %s wrote no report (%v):\n%s", handler, err, out)
	}
	var suites []struct {
		SpecReports []struct {
			ContainerHierarchyTexts []string
			LeafNodeText            string
			LeafNodeType            string
			State                   string
			Failure                 struct{ Message string }
		}
	}
	if err := json.Unmarshal(b, &suites); err != nil {
		t.Fatalf("critest's report: %v", err)
	}
	var out []specResult
	for _, s := range suites {
		for _, r := range s.SpecReports {
			if r.LeafNodeType != "It" {
				continue
			}
			name := strings.Join(append(r.ContainerHierarchyTexts, r.LeafNodeText), " ")
			out = append(out, specResult{Name: name, State: r.State, Message: r.Failure.Message})
		}
	}
	slices.SortFunc(out, func(a, b specResult) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// importCritestImages builds testdata/nnp and imports the images critest
// asks for into the node.
func importCritestImages(t *testing.T, n *testNode) {
	t.Helper()
	nnp := filepath.Join(t.TempDir(), "nnp")
	build := goCommand(context.Background(), "", "build", "-o", nnp, "./testdata/nnp")
	build.Env = append(build.Env, "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build testdata/nnp: %v\n%s", err, out)
	}
	b, err := os.ReadFile(nnp)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.ImportImages(context.Background(), critestImages(b)...); err != nil {
		t.Fatal(err)
	}
	// critest puts its pods' cgroups under /test.slice when the runtime
	// does not say which cgroup driver it has (containerd 1.6 does not).
	if _, err := os.Stat("/sys/fs/cgroup/memory/test.slice"); os.IsNotExist(err) {
		t.Cleanup(func() { removeCgroupTree(t, "/test.slice") })
	}
}

// critestKnownFailures are the specs of critestFocus that fail under both
// handlers on this node, for reasons outside the OCI runtime, with the
// reason. The default run does not excuse them on trust: each must fail
// under runc too (critest runs them again with the runc handler), or it is
// ours to fix; and one that passes under unbox must leave this list.
var critestKnownFailures = []struct{ pattern, reason string }{
	{`Idempotence StopContainer should not return an error if not found`,
		"containerd 1.6 answers NotFound to StopContainer of an unknown ID, where the CRI asks for success"},
	{`Idempotence StopPodSandbox should not return an error if not found`,
		"containerd 1.6 answers NotFound to StopPodSandbox of an unknown ID, where the CRI asks for success"},
	{`should support MaskedPaths`,
		"the fixture's busybox shell runs its applets itself (FEATURE_SH_STANDALONE), so `sh -c ls` never executes the masked /bin/ls; the registry's busybox execs it"},
}

// knownFailure is the entry of critestKnownFailures that names spec, or nil.
func knownFailure(spec string) *struct{ pattern, reason string } {
	for i, k := range critestKnownFailures {
		if regexp.MustCompile(k.pattern).MatchString(spec) {
			return &critestKnownFailures[i]
		}
	}
	return nil
}

// testCritest: see the comment on critestFull.
func testCritest(t *testing.T, n *testNode) {
	importCritestImages(t, n)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Minute)
	defer cancel()
	if !*critestFull {
		results := runCritest(t, ctx, n, Handler, critestFocus)
		passed, excused := 0, map[string]string{}
		for _, r := range results {
			switch k := knownFailure(r.Name); {
			case r.State == "skipped":
			case r.State == "passed" && k != nil:
				t.Errorf("%s passes under unbox now: remove it from critestKnownFailures", r.Name)
			case r.State == "passed":
				passed++
			case k != nil:
				excused[r.Name] = k.reason
			default:
				t.Errorf("%s: %s\n%s", r.Name, r.State, r.Message)
			}
		}
		if passed == 0 {
			t.Error("critest ran no spec")
		}
		t.Logf("critest under %s: %d passed, %d known failures (run under runc next), %d ran", Handler, passed, len(excused), passed+len(excused))
		if len(excused) == 0 {
			return
		}
		var focus []string
		for name := range excused {
			focus = append(focus, knownFailure(name).pattern)
		}
		theirs := runCritest(t, ctx, n, "runc", focus)
		for _, r := range theirs {
			if _, ok := excused[r.Name]; !ok {
				continue
			}
			if r.State == "passed" {
				t.Errorf("%s fails under unbox and passes under runc: it is ours to fix, not %q", r.Name, excused[r.Name])
			} else {
				t.Logf("fails under both (%s): %s", excused[r.Name], r.Name)
			}
			delete(excused, r.Name)
		}
		for name := range excused {
			t.Errorf("%s: critest under runc did not run it", name)
		}
		return
	}
	ours := runCritest(t, ctx, n, Handler, nil)
	theirs := runCritest(t, ctx, n, "runc", nil)
	state := map[string]string{}
	for _, r := range theirs {
		state[r.Name] = r.State
	}
	var table strings.Builder
	count := map[string]map[string]int{Handler: {}, "runc": {}}
	for _, r := range ours {
		count[Handler][r.State]++
		count["runc"][state[r.Name]]++
		if r.State == "skipped" && state[r.Name] == "skipped" {
			continue
		}
		fmt.Fprintf(&table, "%-8s %-8s %s\n", r.State, state[r.Name], r.Name)
		if r.State != "passed" && state[r.Name] == "passed" {
			t.Errorf("passes under runc, not under unbox: %s\n%s", r.Name, r.Message)
		}
	}
	t.Logf("unbox    runc     spec\n%s", table.String())
	for _, h := range []string{Handler, "runc"} {
		c := count[h]
		t.Logf("%-5s: %d passed, %d failed, %d skipped", h, c["passed"], len(ours)-c["passed"]-c["skipped"], c["skipped"])
	}
}
