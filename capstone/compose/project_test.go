//go:build linux

package compose

import (
	"context"
	"errors"
	"github.com/compose-spec/compose-go/v2/types"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
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
	return New(nil, p, nil, nil), nil
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
	c.noNet = true
	db := c.P.Services["db"]
	o, err := c.CreateOptions(db, ContainerName(c.P, db, 1), 1, false)
	if err != nil {
		t.Fatal(err)
	}
	if o.Name != "shop-db-1" || o.Network != "none" || o.Memory != 64<<20 || o.NanoCPUs != 5e8 || o.PidsLimit != 50 || o.Restart.Name != "always" {
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
	h, ok := HealthOf(db)
	if !ok || h.Retries != 5 || h.Interval.Seconds() != 1 || !slices.Equal(h.Cmd, []string{"/bin/sh", "-c", "test -f /var/lib/db/ready"}) {
		t.Errorf("HealthOf(db) = %+v, %v", h, ok)
	}
	warnings := strings.Join(Warnings(c.P, false), "\n")
	for _, want := range []string{`service "db": dns is not supported`, `service "web": ports are not published`} {
		if !strings.Contains(warnings, want) {
			t.Errorf("Warnings lacks %q:\n%s", want, warnings)
		}
	}
	if strings.Contains(warnings, "healthcheck") || strings.Contains(warnings, "mem_limit") || strings.Contains(warnings, "depends_on") {
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
