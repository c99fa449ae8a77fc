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

// inRegistryOnly starts a registry and puts the built-in image into it
// as repo:1 (pushOnly); it returns the configuration directory to use
// (no daemon.json, no logins: the machine's are not read) and the
// image's full name.
func inRegistryOnly(t *testing.T, e *env, repo string) (config, name string) {
	t.Helper()
	reg := registrytest.Start(t, registrytest.Options{})
	config, name = t.TempDir(), reg.Host+"/"+repo+":1"
	pushOnly(t, e, config, name)
	return config, name
}

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
	config, name := inRegistryOnly(t, e, "x")
	unbox := func(args ...string) result {
		t.Helper()
		return e.run(append([]string{"--config", config}, args...)...)
	}
	q := regexp.QuoteMeta
	id := `[0-9a-f]{12}`
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
	config, name := inRegistryOnly(t, e, "x")
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

// TestPrivBuildPullsBase: build pulls a FROM image that is not here, as
// Docker's and podman's builds do, its progress on stderr under the FROM
// step; --pull=never with the base missing fails, pulls nothing and tags
// nothing; a second build pulls nothing and is all CACHED; --pull (always)
// asks the registry again: an up-to-date base keeps the cache, a base the
// registry has replaced is pulled, and the steps after FROM run again on
// it (their cache key is the base's ID).
func TestPrivBuildPullsBase(t *testing.T) {
	e := newEnv(t)
	config, name := inRegistryOnly(t, e, "base")
	unbox := func(args ...string) result {
		t.Helper()
		return e.run(append([]string{"--config", config}, args...)...)
	}
	q := regexp.QuoteMeta
	ctx := writeContext(t, map[string]string{"Dockerfile": "FROM " + name + "\nRUN echo built on $(ls /v2 2>/dev/null || echo v1) > /built\nCMD [\"cat\", \"/built\"]\n"})
	ranRUN := regexp.MustCompile(`STEP 2/3: RUN [^\n]*\n--> [0-9a-f]{12}\n`)
	cachedRUN := regexp.MustCompile(`STEP 2/3: RUN [^\n]*\n--> CACHED`)

	r := unbox("build", "--pull=never", "-t", "pb", ctx)
	if r.code != 1 || !strings.Contains(r.stderr, "FROM "+name+": no such image") || strings.Contains(r.stderr, "Pulling") {
		t.Errorf("build --pull=never of a missing base: %s; want 1, no such image, no pull", r)
	}
	if imageHere(e, "pb") || imageHere(e, name) {
		t.Errorf("build --pull=never of a missing base tagged pb or pulled %s", name)
	}

	r = unbox("build", "-t", "pb", ctx)
	if r.code != 0 || !strings.Contains(r.stdout, "STEP 1/3: FROM "+name+"\n") || !ranRUN.MatchString(r.stdout) {
		t.Fatalf("build of a base only in the registry: %s; want it pulled, then built", r)
	}
	matchLines(t, "build's pull", r.stderr, q("1: Pulling from base"), `[0-9a-f]{12}: Pull complete`,
		`Digest: sha256:[0-9a-f]{64}`, q("Status: Downloaded newer image for "+name))
	if got := e.ok("run", "--rm", "pb").stdout; got != "built on v1\n" {
		t.Errorf("run pb = %q; want built on v1", got)
	}
	if r := unbox("build", "-t", "pb", ctx); r.code != 0 || r.stderr != "" || !cachedRUN.MatchString(r.stdout) {
		t.Errorf("second build: %s; want no pull, RUN cached", r)
	}
	// A bare --pull is always (Docker's boolean): the registry is asked,
	// the base is up to date, so is the cache.
	r = unbox("build", "--pull", "-t", "pb", ctx)
	if r.code != 0 || !cachedRUN.MatchString(r.stdout) {
		t.Errorf("build --pull with the base up to date: %s; want RUN cached", r)
	}
	matchLines(t, "build --pull", r.stderr, q("1: Pulling from base"), q("Status: Image is up to date for "+name))

	// The registry's base:1 becomes another image; the store keeps the old.
	old := e.out("images", "-q", "--no-trunc", name)
	newer := writeContext(t, map[string]string{"Dockerfile": "FROM " + name + "\nRUN echo v2 > /v2\n"})
	e.ok("build", "-t", name, newer)
	e.ok("--config", config, "push", name)
	newID := e.out("images", "-q", "--no-trunc", name)
	e.ok("tag", old, name)
	r = unbox("build", "--pull=always", "-t", "pb", ctx)
	if r.code != 0 || !ranRUN.MatchString(r.stdout) || cachedRUN.MatchString(r.stdout) {
		t.Errorf("build --pull=always of a base the registry replaced: %s; want the RUN step run again", r)
	}
	matchLines(t, "build --pull=always", r.stderr, q("1: Pulling from base"), q("Status: Downloaded newer image for "+name))
	if got := e.out("images", "-q", "--no-trunc", name); got != newID || newID == old {
		t.Errorf("%s after build --pull=always = %s; want the registry's %s (the old was %s)", name, got, newID, old)
	}
	if got := e.ok("run", "--rm", "pb").stdout; got != "built on /v2\n" {
		t.Errorf("run pb after build --pull=always = %q; want built on /v2 (the new base)", got)
	}

	// -q: the image ID alone, nothing of the pull; a bad --pull is refused.
	e.ok("rmi", "pb", name)
	if r := unbox("build", "-q", "-t", "pb", ctx); r.code != 0 || r.stderr != "" || !regexp.MustCompile(`^sha256:[0-9a-f]{64}\n$`).MatchString(r.stdout) {
		t.Errorf("build -q of a missing base: %s; want the ID alone, the pull silent", r)
	}
	if r := unbox("build", "--pull=sometimes", ctx); r.code == 0 || !strings.Contains(r.stderr, "invalid pull option: 'sometimes'") {
		t.Errorf("build --pull=sometimes: %s; want refused", r)
	}
}

// TestPrivComposeBuildPulls: compose run --pull, as Compose's: never with
// the image missing is an error that makes nothing, missing pulls it,
// always pulls again; up --build of a service whose FROM image is missing
// pulls it (in Compose's lines) and builds; compose build --pull asks the
// registry again.
func TestPrivComposeBuildPulls(t *testing.T) {
	e := newNetEnv(t)
	config, name := inRegistryOnly(t, e, "base")
	q := regexp.QuoteMeta
	dir := writeContext(t, map[string]string{
		"compose.yaml":   fmt.Sprintf("services:\n  plain:\n    image: %s\n    command: [\"echo\", \"plain ran\"]\n  app:\n    build: ./app\n", name),
		"app/Dockerfile": "FROM " + name + "\nRUN echo built > /built\nCMD [\"cat\", \"/built\"]\n",
	})
	compose := func(args ...string) result {
		t.Helper()
		return e.run(append([]string{"--config", config, "compose", "-f", filepath.Join(dir, "compose.yaml"), "-p", "cb"}, args...)...)
	}
	t.Cleanup(func() { compose("down") })

	r := compose("run", "--rm", "--pull", "never", "plain")
	if r.code == 0 || !strings.Contains(r.stderr, `service "plain": no such image: `+name+", and its pull_policy is never") || strings.Contains(r.stderr, "Pulling") {
		t.Errorf("compose run --pull never of a missing image: %s; want an error, no pull", r)
	}
	if ps := e.out("ps", "-aq"); ps != "" {
		t.Errorf("compose run --pull never made containers %q", ps)
	}
	if nets := e.out("network", "ls", "-q", "--filter", "label=com.docker.compose.project=cb"); nets != "" {
		t.Errorf("compose run --pull never made networks %q", nets)
	}
	r = compose("run", "--rm", "plain")
	if r.code != 0 || r.stdout != "plain ran\n" {
		t.Fatalf("compose run of an image only in the registry: %s; want it pulled, then run", r)
	}
	matchLines(t, "compose run's pull", r.stderr, " "+q("Image "+name+"  Pulling"), " "+q("Image "+name+"  Pulled"))
	r = compose("run", "--rm", "--pull", "always", "plain")
	if r.code != 0 || r.stdout != "plain ran\n" {
		t.Errorf("compose run --pull always: %s", r)
	}
	matchLines(t, "compose run --pull always", r.stderr, " "+q("Image "+name+"  Pulling"), " "+q("Image "+name+"  Pulled"))

	e.ok("rmi", name)
	r = compose("up", "-d", "--build", "app")
	if r.code != 0 {
		t.Fatalf("compose up --build of a service whose FROM image is missing: %s", r)
	}
	matchLines(t, "compose up --build", r.stderr, " Service app  Building", " "+q("Image "+name+"  Pulling"),
		" "+q("Image "+name+"  Pulled"), " Service app  Built")
	if got := e.ok("run", "--rm", "cb-app").stdout; got != "built\n" {
		t.Errorf("run cb-app = %q; want built", got)
	}
	if r := compose("build", "app"); r.code != 0 || strings.Contains(r.stderr, "Pulling") {
		t.Errorf("compose build with the base here: %s; want no pull", r)
	}
	r = compose("build", "--pull", "app")
	if r.code != 0 {
		t.Errorf("compose build --pull: %s", r)
	}
	matchLines(t, "compose build --pull", r.stderr, " "+q("Image "+name+"  Pulling"), " "+q("Image "+name+"  Pulled"))
}
