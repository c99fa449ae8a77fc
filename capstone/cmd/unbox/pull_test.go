//go:build linux

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/unboxlab/unbox/capstone/image"
	"github.com/unboxlab/unbox/capstone/image/registrytest"
)

// pushOnly puts the built-in image into reg as name and leaves the store
// without it (and without unbox/busybox, so that a pull moves its layer
// again): the image is in the registry only.
func pushOnly(t *testing.T, e *env, config, name string) {
	t.Helper()
	e.ok("--config", config, "tag", image.Builtin, name)
	e.ok("--config", config, "push", name)
	e.ok("rmi", name, image.Builtin)
}

// imageHere says whether the store has ref.
func imageHere(e *env, ref string) bool {
	return e.run("image", "inspect", ref).code == 0
}

// TestPrivRunPullsMissing: run and create pull an image that is not here,
// as Docker's do: "Unable to find image ... locally", then the pull's
// lines on stderr (plain lines into a pipe), then the container; the
// second run pulls nothing; --pull never fails with 125 and makes
// nothing; --pull always pulls again (an image up to date); -q says
// nothing of the pull; a registry that does not answer is 125 with no
// container and no image; the built-in image is never pulled.
func TestPrivRunPullsMissing(t *testing.T) {
	e := newEnv(t)
	reg := registrytest.Start(t, registrytest.Options{})
	config := t.TempDir() // no daemon.json, no logins: the machine's are not read
	unbox := func(args ...string) result {
		t.Helper()
		return e.run(append([]string{"--config", config}, args...)...)
	}
	name := reg.Host + "/x:1"
	q := regexp.QuoteMeta
	id := `[0-9a-f]{12}`
	pushOnly(t, e, config, name)
	nothingMade := func(what string) {
		t.Helper()
		if ps := e.out("ps", "-aq"); ps != "" {
			t.Errorf("%s: containers %q; want none", what, ps)
		}
	}

	r := unbox("run", "--rm", name, "echo", "hi")
	if r.code != 0 || r.stdout != "hi\n" {
		t.Fatalf("run of an image only in the registry: %s; want it pulled, then hi", r)
	}
	matchLines(t, "run's pull", r.stderr, q("Unable to find image '"+name+"' locally"), q("1: Pulling from x"),
		id+": Pull complete", `Digest: sha256:[0-9a-f]{64}`, q("Status: Downloaded newer image for "+name))
	if strings.Contains(r.stderr, "\x1b") {
		t.Errorf("run's pull into a pipe drew with escape sequences:\n%q", r.stderr)
	}
	if r := unbox("run", "--rm", name, "echo", "hi"); r.code != 0 || r.stdout != "hi\n" || r.stderr != "" {
		t.Errorf("second run: %s; want hi and no pull", r)
	}
	r = unbox("run", "--rm", "--pull", "always", name, "echo", "hi")
	if r.code != 0 || r.stdout != "hi\n" || strings.Contains(r.stderr, "Unable to find") {
		t.Errorf("run --pull always: %s; want hi after a pull", r)
	}
	matchLines(t, "run --pull always", r.stderr, q("1: Pulling from x"), id+": Already exists", q("Status: Image is up to date for "+name))

	// A local image of another platform than --platform is not the one
	// asked for (s390x: no machine that runs these tests is one).
	r = unbox("run", "--rm", "--pull", "never", "--platform", "linux/s390x", name, "true")
	if r.code != exitEngine || !strings.Contains(r.stderr, "does not match the specified platform: wanted linux/s390x") {
		t.Errorf("run --pull never --platform linux/s390x of a local image of this machine's: %s; want 125", r)
	}

	e.ok("rmi", name)
	r = unbox("run", "--rm", "--pull", "never", name, "true")
	if r.code != exitEngine || !strings.Contains(r.stderr, "no such image: "+name) || strings.Contains(r.stderr, "Pulling") {
		t.Errorf("run --pull never of a missing image: %s; want 125, no such image, no pull", r)
	}
	nothingMade("run --pull never")
	if imageHere(e, name) {
		t.Errorf("run --pull never pulled %s", name)
	}

	// create pulls too; its stdout is the container's ID alone.
	r = unbox("create", name, "echo", "created")
	if r.code != 0 || !regexp.MustCompile(`^[0-9a-f]{64}\n$`).MatchString(r.stdout) || !strings.Contains(r.stderr, "Unable to find image '"+name+"' locally") {
		t.Fatalf("create of a missing image: %s; want the pull on stderr, the ID on stdout", r)
	}
	ctr := strings.TrimSpace(r.stdout)
	if out := e.ok("start", "-a", ctr).stdout; out != "created\n" {
		t.Errorf("start -a of the created container = %q; want created", out)
	}
	e.ok("rm", ctr)

	e.ok("rmi", name)
	if r := unbox("run", "--rm", "-q", name, "echo", "hi"); r.code != 0 || r.stdout != "hi\n" || r.stderr != "" {
		t.Errorf("run -q of a missing image: %s; want hi and nothing of the pull", r)
	}

	// A registry nobody answers at: the pull's error, 125, nothing made.
	dead := registrytest.FreeAddr(t) + "/x:1"
	r = unbox("run", "--rm", dead, "true")
	if r.code != exitEngine || !strings.Contains(r.stderr, "Unable to find image '"+dead+"' locally") || !strings.Contains(r.stderr, "pull "+dead) {
		t.Errorf("run of an image on a dead registry: %s; want 125 and the pull's error", r)
	}
	nothingMade("run from a dead registry")
	if imageHere(e, dead) {
		t.Errorf("a failed pull left an image %s", dead)
	}

	// The built-in image is made here, never pulled, whatever --pull says.
	r = unbox("run", "--rm", "--pull", "always", image.Builtin, "echo", "built-in")
	if r.code != 0 || r.stdout != "built-in\n" || r.stderr != "" {
		t.Errorf("run --pull always %s: %s; want it made here, no pull", image.Builtin, r)
	}
}

// TestPrivComposePulls: compose pull pulls a service's image from the
// registry (and skips what is built or made here); up pulls an image that
// is missing before it makes anything; pull_policy never (and up --pull
// never) with the image missing is an error that makes nothing; a failed
// pull is an error unless --ignore-pull-failures.
func TestPrivComposePulls(t *testing.T) {
	e := newNetEnv(t)
	reg := registrytest.Start(t, registrytest.Options{})
	config := t.TempDir()
	name := reg.Host + "/x:1"
	pushOnly(t, e, config, name)
	dead := registrytest.FreeAddr(t) + "/y:1"
	dir := composeProject(t, fmt.Sprintf(`
services:
  app:
    image: %[1]s
    command: ["sleep", "1000"]
    stop_grace_period: 1s
  again:
    image: %[1]s
  bb:
    image: unbox/busybox
  web:
    build: ./web
  ghost:
    image: %[2]s
`, name, dead))
	never := filepath.Join(dir, "never.yaml")
	if err := os.WriteFile(never, fmt.Appendf(nil, "services:\n  app:\n    image: %s\n    pull_policy: never\n    command: [\"sleep\", \"1000\"]\n", name), 0o644); err != nil {
		t.Fatal(err)
	}
	compose := func(file, project string, args ...string) result {
		t.Helper()
		return e.run(append([]string{"--config", config, "compose", "-f", file, "-p", project}, args...)...)
	}
	file := filepath.Join(dir, "compose.yaml")

	r := compose(file, "pl", "pull", "app", "again", "bb", "web")
	if r.code != 0 {
		t.Fatalf("compose pull: %s", r)
	}
	matchLines(t, "compose pull", r.stderr, " "+regexp.QuoteMeta("Image "+name+"  Pulling"), " "+regexp.QuoteMeta("Image "+name+"  Pulled"),
		" "+regexp.QuoteMeta("Image "+name+"  Skipped - Image is already being pulled by ")+"(app|again)",
		" Image unbox/busybox  Skipped - Made on this machine", " Service web  Skipped - No image to be pulled")
	if n := strings.Count(r.stderr, "Pulling"); n != 1 {
		t.Errorf("compose pull of one image for two services pulled it %d times:\n%s", n, r.stderr)
	}
	if !imageHere(e, name) {
		t.Errorf("compose pull did not pull %s", name)
	}
	if imageHere(e, "pl-web") {
		t.Errorf("compose pull built web")
	}

	r = compose(file, "pl", "pull", "ghost")
	if r.code == 0 || !strings.Contains(r.stderr, " Image "+dead+"  Error") {
		t.Errorf("compose pull from a dead registry: %s; want an error", r)
	}
	if r := compose(file, "pl", "pull", "--ignore-pull-failures", "ghost"); r.code != 0 || !strings.Contains(r.stderr, " Image "+dead+"  Error") {
		t.Errorf("compose pull --ignore-pull-failures from a dead registry: %s; want the error said, exit 0", r)
	}

	// pull_policy never, and up --pull never, with the image missing:
	// an error, and no container, network or volume.
	e.ok("rmi", name)
	for _, tc := range []struct {
		file string
		args []string
	}{{never, []string{"up", "-d"}}, {file, []string{"up", "-d", "--pull", "never", "app"}}} {
		r = compose(tc.file, "pn", tc.args...)
		if r.code == 0 || !strings.Contains(r.stderr, `service "app": no such image: `+name+", and its pull_policy is never") || strings.Contains(r.stderr, "Pulling") {
			t.Errorf("compose %v with pull_policy never and no image: %s; want an error, no pull", tc.args, r)
		}
		if ps := e.out("ps", "-aq"); ps != "" {
			t.Errorf("compose %v with pull_policy never made containers %q", tc.args, ps)
		}
		if nets := e.out("network", "ls", "-q", "--filter", "label=com.docker.compose.project=pn"); nets != "" {
			t.Errorf("compose %v with pull_policy never made networks %q", tc.args, nets)
		}
	}

	// up pulls the missing image first, then makes the network and the
	// container.
	r = compose(file, "pl", "up", "-d", "app")
	if r.code != 0 {
		t.Fatalf("compose up -d of an image only in the registry: %s", r)
	}
	matchLines(t, "compose up", r.stderr, " "+regexp.QuoteMeta("Image "+name+"  Pulled"), " Network pl_default  Created", " Container pl-app-1  Started")
	if c := e.inspect("pl-app-1"); !c.State.Running || c.Config.Image != name {
		t.Errorf("pl-app-1 after up: running %v, image %q; want running %s", c.State.Running, c.Config.Image, name)
	}
	if r := compose(file, "pl", "up", "-d", "app"); r.code != 0 || strings.Contains(r.stderr, "Pulling") {
		t.Errorf("second compose up: %s; want no pull", r)
	}
	e.ok("--config", config, "compose", "-f", file, "-p", "pl", "down")
}
