//go:build linux

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// shopCompose is the seed's two-service shape, runnable here without the
// internet: a database stand-in keeping its data in a named volume, with
// a healthcheck, and a web service (built from a Dockerfile) that
// depends on it being healthy.
const shopCompose = `
services:
  db:
    image: unbox/busybox
    command: ["sh", "-c", "echo db starting; sleep 1; touch /var/lib/db/ready; exec sleep 1000"]
    environment:
      DB_PASSWORD: ${DB_PASSWORD}
    volumes:
      - db_data:/var/lib/db
    restart: always
    stop_grace_period: 1s
    healthcheck:
      test: ["CMD-SHELL", "test -f /var/lib/db/ready"]
      interval: 1s
      retries: 10
    mem_limit: 64m
    dns: 192.0.2.1
  web:
    build: ./web
    command: ["sh", "-c", "echo web up, password $$DB_PASSWORD; exec sleep 1000"]
    environment:
      DB_PASSWORD: ${DB_PASSWORD}
    depends_on:
      db:
        condition: service_healthy
    stop_grace_period: 1s
    working_dir: /srv
    labels:
      tier: front
volumes:
  db_data:
`

func composeProject(t *testing.T, yaml string) string {
	t.Helper()
	return writeContext(t, map[string]string{
		"compose.yaml": yaml, ".env": "DB_PASSWORD=s3cret\n",
		"web/Dockerfile": "FROM unbox/busybox\nRUN mkdir -p /srv && echo built > /srv/built\n",
	})
}

// TestPrivCompose: up, the data written, down, up again and the data is
// there; the names, labels and order Compose gives; down -v and it is
// gone.
func TestPrivCompose(t *testing.T) {
	e := newEnv(t)
	dir := composeProject(t, shopCompose)
	compose := func(args ...string) result {
		t.Helper()
		return e.ok(append([]string{"compose", "-f", filepath.Join(dir, "compose.yaml"), "-p", "shop"}, args...)...)
	}
	r := compose("up", "-d")
	for _, want := range []string{`service "db": dns is not supported by unbox compose and is ignored`, "this engine has no networks yet",
		"Volume shop_db_data  Created", "Service web  Built"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("up -d: stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if !regexp.MustCompile(`(?s)shop-db-1  Started.*shop-db-1  Healthy.*shop-web-1  Created`).MatchString(r.stderr) {
		t.Errorf("up -d: web was not created after db was healthy:\n%s", r.stderr)
	}
	db, web := e.inspect("shop-db-1"), e.inspect("shop-web-1")
	for _, c := range []struct {
		ctr     string
		labels  map[string]string
		service string
	}{{"shop-db-1", db.Config.Labels, "db"}, {"shop-web-1", web.Config.Labels, "web"}} {
		for k, want := range map[string]string{"com.docker.compose.project": "shop", "com.docker.compose.service": c.service,
			"com.docker.compose.container-number": "1", "com.docker.compose.oneoff": "False"} {
			if c.labels[k] != want {
				t.Errorf("%s: label %s = %q; want %q", c.ctr, k, c.labels[k], want)
			}
		}
	}
	if web.Config.Labels["tier"] != "front" || web.Config.WorkingDir != "/srv" || db.HostConfig.Memory != 64<<20 || db.HostConfig.RestartPolicy.Name != "always" {
		t.Errorf("the services' settings did not reach their containers: web %+v, db %+v", web.Config, db.HostConfig)
	}
	if got := e.out("exec", "shop-web-1", "cat", "/srv/built"); got != "built" {
		t.Errorf("web's image was not built from its Dockerfile: /srv/built = %q", got)
	}
	var vols []struct{ Labels map[string]string }
	json.Unmarshal([]byte(e.ok("volume", "inspect", "shop_db_data").stdout), &vols)
	if len(vols) != 1 || vols[0].Labels["com.docker.compose.project"] != "shop" || vols[0].Labels["com.docker.compose.volume"] != "db_data" {
		t.Errorf("volume shop_db_data's labels = %+v", vols)
	}
	if ps := compose("ps").stdout; !strings.Contains(ps, "shop-db-1") || !strings.Contains(ps, "shop-web-1") {
		t.Errorf("compose ps:\n%s", ps)
	}
	e.waitLog("shop-web-1", "web up")
	if logs := compose("logs").stdout; !strings.Contains(logs, "shop-web-1  | web up, password s3cret") || !strings.Contains(logs, "shop-db-1   | db starting") {
		t.Errorf("compose logs (with .env interpolated):\n%s", logs)
	}
	compose("exec", "db", "sh", "-c", "echo kept across down and up > /var/lib/db/data")
	if got := compose("exec", "db", "cat", "/var/lib/db/data").stdout; got != "kept across down and up\n" {
		t.Errorf("compose exec db cat = %q", got)
	}

	// down keeps the named volume; up again finds the data.
	compose("down")
	if ids := strings.Fields(e.ok("ps", "-aq").stdout); len(ids) != 0 {
		t.Errorf("down left containers: %v", ids)
	}
	if r := e.run("volume", "inspect", "shop_db_data"); r.code != 0 {
		t.Fatalf("down removed the named volume: %s", r)
	}
	compose("up", "-d")
	if got := compose("exec", "db", "cat", "/var/lib/db/data").stdout; got != "kept across down and up\n" {
		t.Errorf("after down and up, the volume holds %q", got)
	}
	// up again with nothing changed leaves the containers be.
	id := e.inspect("shop-db-1").ID
	if r := compose("up", "-d"); !strings.Contains(r.stderr, "shop-db-1  Running") || e.inspect("shop-db-1").ID != id {
		t.Errorf("a second up recreated db:\n%s", r.stderr)
	}
	compose("stop", "web")
	if st := e.inspect("shop-web-1").State.Status; st != "exited" {
		t.Errorf("after compose stop web, web is %s", st)
	}
	compose("start")
	if st := e.inspect("shop-web-1").State.Status; st != "running" {
		t.Errorf("after compose start, web is %s", st)
	}
	if got := compose("run", "--rm", "--no-deps", "web", "sh", "-c", "echo one-off in $(pwd)").stdout; got != "one-off in /srv\n" {
		t.Errorf("compose run --rm = %q", got)
	}
	if cfg := compose("config").stdout; !strings.Contains(cfg, "name: shop") || !strings.Contains(cfg, "DB_PASSWORD: s3cret") {
		t.Errorf("compose config:\n%s", cfg)
	}

	// down -v: the volume goes too.
	compose("down", "-v")
	if r := e.run("volume", "inspect", "shop_db_data"); r.code == 0 {
		t.Errorf("down -v left the volume: %s", r)
	}
	if ids := strings.Fields(e.ok("ps", "-aq").stdout); len(ids) != 0 {
		t.Errorf("down -v left containers: %v", ids)
	}
}

// TestPrivComposeBadInput: a depends_on cycle, an unknown image and a
// service whose healthcheck never passes fail clearly; the cycle makes
// nothing.
func TestPrivComposeBadInput(t *testing.T) {
	e := newEnv(t)
	dir := composeProject(t, `
services:
  a: {image: unbox/busybox, depends_on: [b], volumes: ["v:/v"]}
  b: {image: unbox/busybox, depends_on: [a]}
volumes:
  v:
`)
	r := e.run("compose", "-f", filepath.Join(dir, "compose.yaml"), "-p", "cyc", "up", "-d")
	if r.code == 0 || !strings.Contains(r.stderr, "cycle") {
		t.Errorf("up of a depends_on cycle: %s", r)
	}
	if vols := e.ok("volume", "ls", "-q").stdout; strings.TrimSpace(vols) != "" {
		t.Errorf("a cycle made volumes: %s", vols)
	}
	dir = composeProject(t, `
services:
  sick:
    image: unbox/busybox
    command: ["sleep", "1000"]
    stop_grace_period: 1s
    healthcheck: {test: ["CMD", "false"], interval: 1s, retries: 2}
  app:
    image: unbox/busybox
    depends_on: {sick: {condition: service_healthy}}
  ghost:
    image: nosuch/image
`)
	r = e.run("compose", "-f", filepath.Join(dir, "compose.yaml"), "-p", "sick", "up", "-d", "app")
	if r.code == 0 || !strings.Contains(r.stderr, "dependency failed to start: container sick-sick-1 is unhealthy") {
		t.Errorf("up with an unhealthy dependency: %s", r)
	}
	if r := e.run("inspect", "sick-app-1"); r.code == 0 {
		t.Errorf("app was created although its dependency is unhealthy")
	}
	r = e.run("compose", "-f", filepath.Join(dir, "compose.yaml"), "-p", "sick", "up", "-d", "ghost")
	if r.code == 0 || !strings.Contains(r.stderr, `service "ghost": image nosuch/image not found locally`) {
		t.Errorf("up with a missing image: %s", r)
	}
	e.ok("compose", "-f", filepath.Join(dir, "compose.yaml"), "-p", "sick", "down")
	os.RemoveAll(dir)
}
