//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/unboxlab/unbox/capstone/engine"
	"github.com/unboxlab/unbox/internal/network"
)

// shopCompose is the seed's two-service shape, runnable here without the
// internet: a database stand-in keeping its data in a named volume and
// serving it (busybox httpd on 5432), with a healthcheck, and a web
// service (built from a Dockerfile) that depends on it being healthy,
// reaches it by its service name, and is published on a host port. db is
// on the network back only, web on back and the project's default, so
// the host reaches web through one network and web reaches db through
// the other.
const shopCompose = `
services:
  db:
    image: unbox/busybox
    command: ["sh", "-c", "echo db starting; sleep 1; touch /var/lib/db/ready; exec httpd -f -p 5432 -h /var/lib/db"]
    environment:
      DB_PASSWORD: ${DB_PASSWORD}
    volumes:
      - db_data:/var/lib/db
    networks:
      back: {aliases: [database]}
    restart: always
    stop_grace_period: 1s
    healthcheck:
      test: ["CMD-SHELL", "test -f /var/lib/db/ready"]
      interval: 1s
      retries: 10
    mem_limit: 64m
    extra_hosts: ["upstream.test=192.0.2.9"]
    shm_size: 64m
  web:
    build: ./web
    command: ["sh", "-c", "echo web up, password $$DB_PASSWORD; exec httpd -f -p 80 -h /srv"]
    environment:
      DB_PASSWORD: ${DB_PASSWORD}
    ports: ["${WEB_PORT}:80"]
    networks: [default, back]
    depends_on:
      db:
        condition: service_healthy
    stop_grace_period: 1s
    working_dir: /srv
    labels:
      tier: front
volumes:
  db_data:
networks:
  back:
`

// dbCGI is web's page /cgi-bin/data: what db holds, fetched by db's
// service name.
const dbCGI = "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\nwget -qO- http://db:5432/data\n"

// composeProject writes a project: compose.yaml, web's build context, and
// a .env with the password and the variables given (NAME=value).
func composeProject(t *testing.T, yaml string, vars ...string) string {
	t.Helper()
	return writeContext(t, map[string]string{
		"compose.yaml": yaml, ".env": strings.Join(append([]string{"DB_PASSWORD=s3cret"}, vars...), "\n") + "\n",
		"web/Dockerfile": "FROM unbox/busybox\nRUN mkdir -p /srv/cgi-bin && echo built > /srv/built\nCOPY data.cgi /srv/cgi-bin/data\nRUN chmod 755 /srv/cgi-bin/data\n",
		"web/data.cgi":   dbCGI,
	})
}

// upstreamOverride is a Compose file, given after the project's, that
// sets the resolvers of the networks named to upstream (fakeUpstream), so
// that no name a container asks for leaves the machine.
func upstreamOverride(t *testing.T, dir, upstream string, networks ...string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("networks:\n")
	for _, n := range networks {
		fmt.Fprintf(&b, "  %s:\n    driver_opts: {unbox.dns_servers: %q}\n", n, upstream)
	}
	p := filepath.Join(dir, "test.yaml")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPrivCompose: up, the data written, reached from the host through
// web, which finds db by its service name; down, and nothing of the
// networks is left on the host, up again and the data is there; the
// names, labels and order Compose gives; down -v and it is gone.
func TestPrivCompose(t *testing.T) {
	e := newNetEnv(t)
	port := freeHostPort(t)
	dir := composeProject(t, shopCompose, fmt.Sprintf("WEB_PORT=%d", port))
	files := []string{"-f", filepath.Join(dir, "compose.yaml"), "-f", upstreamOverride(t, dir, fakeUpstream(t), "default", "back")}
	compose := func(args ...string) result {
		t.Helper()
		return e.ok(append(append([]string{"compose"}, files...), append([]string{"-p", "shop"}, args...)...)...)
	}
	before, _ := network.OursOnHost()
	r := compose("up", "-d")
	for _, want := range []string{`service "db": shm_size is not supported by unbox compose and is ignored`,
		"Network shop_back  Created", "Network shop_default  Created", "Volume shop_db_data  Created", "Service web  Built"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("up -d: stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if strings.Contains(r.stderr, "ports") || strings.Contains(r.stderr, "network none") {
		t.Errorf("up -d warns of ports or networks:\n%s", r.stderr)
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

	// The networks: Compose's names and labels; each container where the
	// file puts it, found by its service's name and its aliases.
	for _, n := range []string{"default", "back"} {
		var nets []engine.NetworkInfo
		json.Unmarshal([]byte(e.ok("network", "inspect", "shop_"+n).stdout), &nets)
		if len(nets) != 1 || nets[0].Labels["com.docker.compose.project"] != "shop" || nets[0].Labels["com.docker.compose.network"] != n {
			t.Errorf("network inspect shop_%s = %+v; want Compose's labels", n, nets)
		}
	}
	if got, want := engine.NetworkNames(&db), []string{"shop_back"}; !slices.Equal(got, want) {
		t.Errorf("db is on %v; want %v", got, want)
	}
	if got, want := engine.NetworkNames(&web), []string{"shop_back", "shop_default"}; !slices.Equal(got, want) {
		t.Errorf("web is on %v; want %v", got, want)
	}
	dbIP := e.ipOf("shop-db-1", "shop_back")
	for _, name := range []string{"db", "database", "shop-db-1"} {
		if got := e.resolve("shop-web-1", name); got != dbIP || dbIP == "" {
			t.Errorf("from web, %s resolves to %q; want db's address on back, %q", name, got, dbIP)
		}
	}

	var vols []struct{ Labels map[string]string }
	json.Unmarshal([]byte(e.ok("volume", "inspect", "shop_db_data").stdout), &vols)
	if len(vols) != 1 || vols[0].Labels["com.docker.compose.project"] != "shop" || vols[0].Labels["com.docker.compose.volume"] != "db_data" {
		t.Errorf("volume shop_db_data's labels = %+v", vols)
	}
	if ps := compose("ps").stdout; !strings.Contains(ps, "shop-db-1") || !strings.Contains(ps, "shop-web-1") || !strings.Contains(ps, fmt.Sprintf("0.0.0.0:%d->80/tcp", port)) {
		t.Errorf("compose ps (want both, and web's port):\n%s", ps)
	} else if !regexp.MustCompile(`(?m)^shop-db-1 .*Up .* \(healthy\)`).MatchString(ps) {
		t.Errorf("compose ps shows no (healthy) for db, whose healthcheck passed:\n%s", ps)
	}
	e.waitLog("shop-web-1", "web up")
	if logs := compose("logs").stdout; !strings.Contains(logs, "shop-web-1  | web up, password s3cret") || !strings.Contains(logs, "shop-db-1   | db starting") {
		t.Errorf("compose logs (with .env interpolated):\n%s", logs)
	}
	compose("exec", "db", "sh", "-c", "echo kept across down and up > /var/lib/db/data")
	if hosts := compose("exec", "db", "cat", "/etc/hosts").stdout; !strings.Contains(hosts, "192.0.2.9\tupstream.test\n") {
		t.Errorf("db's /etc/hosts lacks extra_hosts' upstream.test:\n%s", hosts)
	}
	if got := compose("exec", "db", "cat", "/var/lib/db/data").stdout; got != "kept across down and up\n" {
		t.Errorf("compose exec db cat = %q", got)
	}
	// The host, on web's published port; web, to db by name.
	hostPort := fmt.Sprintf("127.0.0.1:%d", port)
	waitHTTP(t, hostPort, "/cgi-bin/data", "kept across down and up")

	// down keeps the named volume, and leaves no network, link, table or
	// DNS responder; up again finds the data.
	r = compose("down")
	for _, want := range []string{"Network shop_default  Removed", "Network shop_back  Removed"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("down: stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if ids := strings.Fields(e.ok("ps", "-aq").stdout); len(ids) != 0 {
		t.Errorf("down left containers: %v", ids)
	}
	if nets := e.out("network", "ls", "-q", "--filter", "label=com.docker.compose.project=shop"); nets != "" {
		t.Errorf("down left networks: %s", nets)
	}
	if after, _ := network.OursOnHost(); !slices.Equal(after, before) {
		t.Errorf("down left network objects on the host:\nbefore up: %q\nafter down: %q", before, after)
	}
	if ents, _ := os.ReadDir(filepath.Join(e.state, "networks")); len(ents) != 0 {
		t.Errorf("down left DNS responders' state: %v", names(ents))
	}
	if r := e.run("volume", "inspect", "shop_db_data"); r.code != 0 {
		t.Fatalf("down removed the named volume: %s", r)
	}
	compose("up", "-d")
	waitHTTP(t, hostPort, "/cgi-bin/data", "kept across down and up")
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
	waitHTTP(t, hostPort, "/cgi-bin/data", "kept across down and up")
	// A one-off container is on the service's networks (it reaches db),
	// without the service's port (which web holds).
	if got := compose("run", "--rm", "--no-deps", "web", "sh", "-c", "echo one-off in $(pwd); wget -qO- http://db:5432/data").stdout; got != "one-off in /srv\nkept across down and up\n" {
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
	if after, _ := network.OursOnHost(); !slices.Equal(after, before) {
		t.Errorf("down -v left network objects on the host:\nbefore up: %q\nafter down: %q", before, after)
	}
}

// TestPrivComposeBadInput: a depends_on cycle, an unknown image and a
// service whose healthcheck never passes fail clearly; the cycle makes
// nothing.
func TestPrivComposeBadInput(t *testing.T) {
	e := newNetEnv(t)
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
	if nets := e.out("network", "ls", "-q", "--filter", "label=com.docker.compose.project"); nets != "" {
		t.Errorf("a cycle made networks: %s", nets)
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
    pull_policy: never
`)
	r = e.run("compose", "-f", filepath.Join(dir, "compose.yaml"), "-p", "sick", "up", "-d", "app")
	if r.code == 0 || !strings.Contains(r.stderr, "dependency failed to start: container sick-sick-1 is unhealthy") {
		t.Errorf("up with an unhealthy dependency: %s", r)
	}
	if r := e.run("inspect", "sick-app-1"); r.code == 0 {
		t.Errorf("app was created although its dependency is unhealthy")
	}
	r = e.run("compose", "-f", filepath.Join(dir, "compose.yaml"), "-p", "sick", "up", "-d", "ghost")
	if r.code == 0 || !strings.Contains(r.stderr, `service "ghost": no such image: nosuch/image:latest, and its pull_policy is never`) {
		t.Errorf("up with a missing image: %s", r)
	}
	// A container that is not the project's, on its network: down keeps
	// the network and says so, as Compose does; once it is gone, down
	// removes it.
	e.ok("create", "--name", "stranger", "--network", "sick_default", "unbox/busybox", "true")
	r = e.ok("compose", "-f", filepath.Join(dir, "compose.yaml"), "-p", "sick", "down")
	if !strings.Contains(r.stderr, "Network sick_default  Resource is still in use") || e.run("network", "inspect", "sick_default").code != 0 {
		t.Errorf("down of a network another container is on: %s; want it kept, and said", r)
	}
	e.ok("rm", "stranger")
	if r = e.ok("compose", "-f", filepath.Join(dir, "compose.yaml"), "-p", "sick", "down"); !strings.Contains(r.stderr, "Network sick_default  Removed") {
		t.Errorf("down once the network is free: %s", r)
	}
	os.RemoveAll(dir)
}

// quickStartCompose is the capstone README's second example,
// app/compose.yaml (TestComposeQuickStartInReadme keeps the two the same:
// the VM lane has the test binary, not the README).
const quickStartCompose = `services:
  db:
    image: unbox/busybox
    command: ["sh", "-c", "echo hello from db > /data/index.html; exec httpd -f -p 5432 -h /data"]
    volumes: [db_data:/data]
    restart: always
  web:
    image: unbox/busybox
    command: ["sh", "-c", "mkdir -p /www; until wget -qO /www/index.html http://db:5432/; do sleep 1; done; exec httpd -f -p 80 -h /www"]
    ports: ["8080:80"]
    depends_on: [db]
volumes:
  db_data:
`

// TestComposeQuickStartInReadme: the README shows quickStartCompose as
// app/compose.yaml, and `compose up -d` on it.
func TestComposeQuickStartInReadme(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, file, found := strings.Cut(string(b), "```yaml\n# app/compose.yaml\n")
	file, rest, closed := strings.Cut(file, "```")
	if !found || !closed || file != quickStartCompose {
		t.Errorf("capstone/README.md's app/compose.yaml = %q; want quickStartCompose, %q (change both)", file, quickStartCompose)
	}
	if !strings.Contains(rest, "unbox compose -f app/compose.yaml up -d") {
		t.Errorf("capstone/README.md does not run app/compose.yaml with compose up -d")
	}
}

// TestPrivComposeQuickStart runs the capstone README's second example,
// quickStartCompose (on a free host port instead of 8080): web fetches
// db's page by db's service name and serves it on the host's port; down
// -v leaves nothing.
func TestPrivComposeQuickStart(t *testing.T) {
	e := newNetEnv(t)
	file := quickStartCompose
	port := freeHostPort(t)
	dir := writeContext(t, map[string]string{"app/compose.yaml": strings.Replace(file, `"8080:80"`, fmt.Sprintf(`"%d:80"`, port), 1)})
	files := []string{"compose", "-f", filepath.Join(dir, "app/compose.yaml"), "-f", upstreamOverride(t, dir, fakeUpstream(t), "default")}
	compose := func(args ...string) result {
		t.Helper()
		return e.ok(append(slices.Clone(files), args...)...)
	}
	before, _ := network.OursOnHost()
	r := compose("up", "-d")
	for _, want := range []string{"Network app_default  Created", "Volume app_db_data  Created", "Container app-db-1  Started", "Container app-web-1  Started"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("up -d: stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if strings.Contains(r.stderr, "WARNING") {
		t.Errorf("up -d of the README's file warns:\n%s", r.stderr)
	}
	waitHTTP(t, fmt.Sprintf("127.0.0.1:%d", port), "/", "hello from db")
	if ps := compose("ps").stdout; !strings.Contains(ps, fmt.Sprintf("0.0.0.0:%d->80/tcp", port)) {
		t.Errorf("compose ps: want web's port:\n%s", ps)
	}
	compose("down", "-v")
	if vols := e.out("volume", "ls", "-q"); vols != "" {
		t.Errorf("down -v left volumes: %s", vols)
	}
	if after, _ := network.OursOnHost(); !slices.Equal(after, before) {
		t.Errorf("down -v left network objects on the host:\nbefore up: %q\nafter down: %q", before, after)
	}
}
