//go:build linux

package compose

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/unboxlab/unbox/capstone/engine"
)

func load(t *testing.T, yaml string, files map[string]string) (*Compose, error) {
	t.Helper()
	dir := t.TempDir()
	files["compose.yaml"] = yaml
	for n, c := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p, err := Load(context.Background(), LoadOptions{Files: []string{filepath.Join(dir, "compose.yaml")}, Project: "shop", Env: []string{"FROM_HOST=host"}})
	if err != nil {
		return nil, err
	}
	return New(nil, p, nil), nil
}

const seedLike = `
services:
  db:
    image: unbox/busybox
    command: ["sh", "-c", "sleep 1000"]
    environment:
      DB_PASSWORD: ${DB_PASSWORD}
      FROM_HOST: ${FROM_HOST}
    volumes:
      - db_data:/var/lib/db
      - /cache
      - type: tmpfs
        target: /run/db
    restart: always
    healthcheck:
      test: ["CMD-SHELL", "test -f /var/lib/db/ready"]
      interval: 1s
      retries: 5
    mem_limit: 64m
    cpus: 0.5
    pids_limit: 50
    dns: 1.1.1.1
    extra_hosts: ["gw=host-gateway", "v6=::1"]
    security_opt: ["seccomp=profiles/db.json", "no-new-privileges:true"]
    shm_size: 64m
  web:
    image: unbox/busybox
    depends_on:
      db:
        condition: service_healthy
    ports: ["8080:80"]
    working_dir: /srv
    user: "1000"
    labels:
      tier: front
volumes:
  db_data: {}
`

func TestLoadTheSeedsShape(t *testing.T) {
	c, err := load(t, seedLike, map[string]string{".env": "DB_PASSWORD=from-dotenv\n"})
	if err != nil {
		t.Fatal(err)
	}
	order, err := Order(c.P)
	if err != nil || !slices.Equal(order, []string{"db", "web"}) {
		t.Fatalf("Order = %v, %v; want [db web]", order, err)
	}
	db := c.P.Services["db"]
	o, err := c.CreateOptions(db, ContainerName(c.P, db, 1), 1, false)
	if err != nil {
		t.Fatal(err)
	}
	if o.Name != "shop-db-1" || o.Network != "shop_default" || !slices.Equal(o.Aliases, []string{"db"}) || o.Publish != nil || o.Memory != 64<<20 || o.NanoCPUs != 5e8 || o.PidsLimit != 50 || o.Restart.Name != "always" {
		t.Errorf("CreateOptions(db) = %+v", o)
	}
	if !slices.Equal(o.Env, []string{"DB_PASSWORD=from-dotenv", "FROM_HOST=host"}) {
		t.Errorf("db's environment = %v; want .env's and the host's values interpolated", o.Env)
	}
	if !slices.Equal(o.Volumes, []string{"shop_db_data:/var/lib/db", "/cache"}) || !slices.Equal(o.Tmpfs, []string{"/run/db"}) {
		t.Errorf("db's volumes = %v, tmpfs %v; want the project's volume shop_db_data, an anonymous one, a tmpfs", o.Volumes, o.Tmpfs)
	}
	for k, want := range map[string]string{LabelProject: "shop", LabelService: "db", LabelNumber: "1", LabelOneoff: "False"} {
		if o.Labels[k] != want {
			t.Errorf("label %s = %q; want %q", k, o.Labels[k], want)
		}
	}
	if c.P.Volumes["db_data"].Name != "shop_db_data" {
		t.Errorf("volume db_data is named %q; want shop_db_data", c.P.Volumes["db_data"].Name)
	}
	if h := o.Healthcheck; h == nil || h.Retries != 5 || h.Interval.Seconds() != 1 || h.Timeout != 0 || !slices.Equal(h.Test, []string{"CMD-SHELL", "test -f /var/lib/db/ready"}) {
		t.Errorf("CreateOptions(db).Healthcheck = %+v; want CMD-SHELL, 1s, 5 retries, the rest the image's", h)
	}
	web := c.P.Services["web"]
	if o, err := c.CreateOptions(web, "shop-web-1", 1, false); err != nil || !slices.Equal(o.Publish, []string{"8080:80/tcp"}) {
		t.Errorf("CreateOptions(web).Publish = %q, %v; want [8080:80/tcp]", o.Publish, err)
	}
	if o, err := c.CreateOptions(web, "shop-web-run-1", 1, true); err != nil || o.Publish != nil || o.Aliases != nil {
		t.Errorf("CreateOptions(web, one-off) publishes %q as %q, %v; want neither ports nor the service's alias", o.Publish, o.Aliases, err)
	}
	if o, err := c.CreateOptions(db, "shop-db-1", 1, false); err != nil || !slices.Equal(o.DNS, []string{"1.1.1.1"}) ||
		!slices.Equal(o.ExtraHosts, []string{"gw=host-gateway", "v6=::1"}) {
		t.Errorf("CreateOptions(db): dns %q, extra hosts %q, %v; want the file's", o.DNS, o.ExtraHosts, err)
	} else if want := []string{"seccomp=" + filepath.Join(c.P.WorkingDir, "profiles/db.json"), "no-new-privileges:true"}; !slices.Equal(o.SecurityOpt, want) {
		t.Errorf("CreateOptions(db).SecurityOpt = %q; want %q (the profile's path the project's)", o.SecurityOpt, want)
	}
	warnings := strings.Join(Warnings(c.P), "\n")
	if want := `service "db": shm_size is not supported`; !strings.Contains(warnings, want) {
		t.Errorf("Warnings lacks %q:\n%s", want, warnings)
	}
	if strings.Contains(warnings, "healthcheck") || strings.Contains(warnings, "mem_limit") || strings.Contains(warnings, "depends_on") || strings.Contains(warnings, "ports") ||
		strings.Contains(warnings, "dns") || strings.Contains(warnings, "extra_hosts") {
		t.Errorf("Warnings names a supported key:\n%s", warnings)
	}
	if a, b := ConfigHash(db), ConfigHash(c.P.Services["web"]); a == b || a != ConfigHash(c.P.Services["db"]) {
		t.Errorf("ConfigHash: db %s, web %s: want stable and distinct", a, b)
	}
}

func TestDependsOnCycle(t *testing.T) {
	_, err := load(t, `
services:
  a: {image: unbox/busybox, depends_on: [b]}
  b: {image: unbox/busybox, depends_on: [c]}
  c: {image: unbox/busybox, depends_on: [a]}
`, map[string]string{})
	if err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Fatalf("Load of a depends_on cycle = %v; want an error naming the cycle", err)
	}
	// Order alone, on a project compose-go did not check.
	c, err := load(t, "services:\n  a: {image: x}\n  b: {image: x}\n", map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	a, b := c.P.Services["a"], c.P.Services["b"]
	a.DependsOn = map[string]types.ServiceDependency{"b": {}}
	b.DependsOn = map[string]types.ServiceDependency{"a": {}}
	c.P.Services["a"], c.P.Services["b"] = a, b
	if _, err := Order(c.P); !errors.Is(err, ErrCycle) || !strings.Contains(err.Error(), "a -> b -> a") {
		t.Errorf("Order = %v; want ErrCycle a -> b -> a", err)
	}
}

// TestComposeNetworks: a service's networks as the engine is given them: the
// first by priority at create with its aliases and address, ports in
// -p's form; network_mode service:; what a bridge cannot do is warned.
func TestComposeNetworks(t *testing.T) {
	c, err := load(t, `
services:
  app:
    image: unbox/busybox
    ports: ["127.0.0.1:8080:80", "9000/udp", "127.0.0.1::90"]
    expose: ["7000"]
    networks:
      back: {aliases: [api], ipv4_address: 10.89.7.10, priority: 10, mac_address: "02:42:ac:11:00:02"}
      front: {use_service_name_alias: false}
  sidecar:
    image: unbox/busybox
    network_mode: service:app
    ports: ["1234:1234"]
  odd:
    image: unbox/busybox
    network_mode: "ns:/proc/1/ns/net"
networks:
  back:
    ipam: {config: [{subnet: 10.89.7.0/24, gateway: 10.89.7.1}, {subnet: 10.89.8.0/24}]}
    driver_opts: {unbox.dns_servers: "127.0.0.1:5353,10.0.0.1", com.docker.network.bridge.name: br0}
    labels: {tier: back}
  front:
    internal: true
  outside:
    external: true
    name: shared
`, map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	app := c.P.Services["app"]
	o, err := c.CreateOptions(app, "shop-app-1", 1, false)
	if err != nil {
		t.Fatal(err)
	}
	if o.Network != "shop_back" || !slices.Equal(o.Aliases, []string{"app", "api"}) || o.IP != "10.89.7.10" {
		t.Errorf("CreateOptions(app) network %s, aliases %q, ip %s; want shop_back, [app api], 10.89.7.10", o.Network, o.Aliases, o.IP)
	}
	if want := []string{"127.0.0.1:8080:80/tcp", "9000/udp", "127.0.0.1::90/tcp"}; !slices.Equal(o.Publish, want) || !slices.Equal(o.Expose, []string{"7000"}) {
		t.Errorf("CreateOptions(app) publishes %q, exposes %q; want %q, [7000]", o.Publish, o.Expose, want)
	}
	if aliases, _ := c.endpoint(app, "front", false); aliases != nil {
		t.Errorf("app's aliases on front = %q; want none (use_service_name_alias: false)", aliases)
	}
	sc := c.P.Services["sidecar"]
	if o, err := c.CreateOptions(sc, "shop-sidecar-1", 1, false); err != nil || o.Network != "container:shop-app-1" || o.Publish != nil {
		t.Errorf("CreateOptions(sidecar) network %q, publish %q, %v; want container:shop-app-1 and no ports of its own", o.Network, o.Publish, err)
	}
	if _, ok := sc.DependsOn["app"]; !ok {
		t.Errorf("sidecar does not depend on app, whose network it shares: %v", sc.DependsOn)
	}
	if _, err := c.CreateOptions(c.P.Services["odd"], "shop-odd-1", 1, false); err == nil || !strings.Contains(err.Error(), "not supported") {
		t.Errorf("CreateOptions(network_mode ns:...) = %v; want not supported", err)
	}
	no := c.networkOptions("back", c.P.Networks["back"])
	if no.Name != "shop_back" || no.Subnet != "10.89.7.0/24" || no.Gateway != "10.89.7.1" || !slices.Equal(no.DNS, []string{"127.0.0.1:5353", "10.0.0.1"}) ||
		no.Labels[LabelProject] != "shop" || no.Labels[LabelNetwork] != "back" || no.Labels["tier"] != "back" {
		t.Errorf("networkOptions(back) = %+v", no)
	}
	warnings := strings.Join(Warnings(c.P), "\n")
	for _, want := range []string{`service "app": networks.back.mac_address is not supported`, `network "back": driver_opts com.docker.network.bridge.name`,
		`network "back": ipam config 10.89.8.0/24 (one subnet per network)`, `network "front": internal`,
		`service "sidecar": ports are not published with network_mode service:app`} {
		if !strings.Contains(warnings, want) {
			t.Errorf("Warnings lacks %q:\n%s", want, warnings)
		}
	}
	if strings.Contains(warnings, "dns_servers") || strings.Contains(warnings, "aliases") || strings.Contains(warnings, "outside") {
		t.Errorf("Warnings names what is supported:\n%s", warnings)
	}
}

// TestHealthcheck: a service's healthcheck as its container's config
// carries it, as Docker Compose converts it.
func TestHealthcheck(t *testing.T) {
	sec, three := types.Duration(time.Second), uint64(3)
	for _, tc := range []struct {
		hc   *types.HealthCheckConfig
		want string
	}{
		{nil, "<nil>"},
		{&types.HealthCheckConfig{Disable: true, Test: []string{"CMD", "true"}}, "&{[NONE] 0s 0s 0s 0s 0}"},
		{&types.HealthCheckConfig{Test: []string{"CMD", "true"}, Interval: &sec, StartInterval: &sec, Retries: &three}, "&{[CMD true] 1s 0s 0s 1s 3}"},
		{&types.HealthCheckConfig{Test: []string{"CMD-SHELL", "test -f /x"}, Timeout: &sec, StartPeriod: &sec}, "&{[CMD-SHELL test -f /x] 0s 1s 1s 0s 0}"},
	} {
		if got := fmt.Sprint(Healthcheck(types.ServiceConfig{WorkloadSpec: types.WorkloadSpec{HealthCheck: tc.hc}})); got != tc.want {
			t.Errorf("Healthcheck(%+v) = %s; want %s", tc.hc, got, tc.want)
		}
	}
}

// TestPortRanges: a service's port ranges reach the engine as -p takes
// them, and the engine reads them: port for port, or a host range for
// one port.
func TestPortRanges(t *testing.T) {
	c, err := load(t, "services:\n  web:\n    image: x\n    ports: [\"127.0.0.1:8000-8010:80\", \"9000-9001:90-91/udp\"]\n", map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	o, err := c.CreateOptions(c.P.Services["web"], "shop-web-1", 1, false)
	if err != nil {
		t.Fatal(err)
	}
	b, err := engine.ParsePublish(o.Publish)
	if err != nil {
		t.Fatalf("ParsePublish(%q): %v", o.Publish, err)
	}
	got := fmt.Sprint(b["80/tcp"], b["90/udp"], b["91/udp"])
	if want := "[{127.0.0.1 8000-8010}] [{ 9000}] [{ 9001}]"; got != want {
		t.Errorf("the engine's bindings of %q = %s; want %s", o.Publish, got, want)
	}
}
