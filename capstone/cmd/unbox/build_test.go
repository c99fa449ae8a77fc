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
	"time"
)

// writeContext writes a build context: name → content.
func writeContext(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// appDockerfile is the seed's application shape: a base image, WORKDIR,
// the manifest copied and "installed" (RUN), then the sources, EXPOSE,
// CMD; with ARG, ENV and USER besides.
const appDockerfile = `FROM unbox/busybox
ARG FLAVOUR=plain
ENV APP_ENV=production GREETING="hello world"
WORKDIR /srv/app
COPY package.json ./
RUN echo "installed $(cat package.json) ($FLAVOUR)" > node_modules.txt && echo install step ran
COPY src/ ./src/
EXPOSE 3000
USER 1000:1000
CMD ["sh", "-c", "echo env=$APP_ENV greeting=$GREETING; echo pwd=$(pwd); cat node_modules.txt src/index.js; id -u"]
`

// TestPrivBuild builds the seed's application shape on the built-in
// image, runs it and sees every instruction's effect; a rebuild is all
// cached; a changed source file reruns only what follows its COPY.
func TestPrivBuild(t *testing.T) {
	e := newEnv(t)
	ctx := writeContext(t, map[string]string{
		"Dockerfile": appDockerfile, "package.json": `{"name":"app"}`, "src/index.js": "console.log('v1')\n",
		"secret.key": "not for the image", ".dockerignore": "*.key\n",
	})
	out := e.ok("build", "-t", "app:1", "--build-arg", "FLAVOUR=fancy", ctx).stdout
	for _, want := range []string{"STEP 1/10: FROM unbox/busybox", "install step ran", "Successfully tagged app:1"} {
		if !strings.Contains(out, want) {
			t.Errorf("build output lacks %q:\n%s", want, out)
		}
	}
	got := e.ok("run", "--rm", "app:1").stdout
	want := "env=production greeting=hello world\npwd=/srv/app\ninstalled {\"name\":\"app\"} (fancy)\nconsole.log('v1')\n1000\n"
	if got != want {
		t.Errorf("run app:1 = %q; want %q", got, want)
	}
	if r := e.run("run", "--rm", "app:1", "ls", "/srv/app"); strings.Contains(r.stdout, "secret") {
		t.Errorf("the image holds a file .dockerignore excludes: %s", r)
	}
	var imgs []struct {
		Config struct {
			ExposedPorts map[string]struct{}
			User         string
		}
	}
	raw := e.ok("inspect", "--type", "image", "app:1").stdout
	if err := json.Unmarshal([]byte(raw), &imgs); err != nil || len(imgs) != 1 {
		t.Fatalf("inspect app:1: %v\n%s", err, raw)
	}
	if _, ok := imgs[0].Config.ExposedPorts["3000/tcp"]; !ok || imgs[0].Config.User != "1000:1000" {
		t.Errorf("config = %+v; want 3000/tcp exposed and user 1000:1000", imgs[0].Config)
	}
	history := e.ok("history", "--no-trunc", "app:1").stdout
	for _, want := range []string{"ENV APP_ENV=production GREETING=hello world", "WORKDIR /srv/app", "COPY package.json ./",
		`RUN |1 FLAVOUR=fancy /bin/sh -c echo "installed`, "EXPOSE 3000/tcp", "USER 1000:1000", `CMD ["sh","-c",`} {
		if !strings.Contains(history, want) {
			t.Errorf("history lacks %q:\n%s", want, history)
		}
	}

	// The steps' images are the cache, listed with -a only.
	if imgs := e.ok("images").stdout; strings.Contains(imgs, "<none>") {
		t.Errorf("images lists a build's intermediate images:\n%s", imgs)
	}
	if imgs := e.ok("images", "-a").stdout; strings.Count(imgs, "<none>") < 7 {
		t.Errorf("images -a does not list the build's steps:\n%s", imgs)
	}

	// The same build again: every step cached, the same image.
	id1 := e.out("images", "-q", "app:1")
	out = e.ok("build", "-t", "app:2", "--build-arg", "FLAVOUR=fancy", ctx).stdout
	ran := regexp.MustCompile(`(?m)^install step ran$`)
	if n := strings.Count(out, "--> CACHED"); n != 8 || ran.MatchString(out) {
		t.Errorf("rebuild: %d steps CACHED, want 8 (all but FROM and ARG), and RUN not run:\n%s", n, out)
	}
	if id2 := e.out("images", "-q", "app:2"); id2 != id1 {
		t.Errorf("rebuild made image %s; want the cached %s", id2, id1)
	}
	// A changed source: the install step is still cached, the sources' COPY is not.
	os.WriteFile(filepath.Join(ctx, "src/index.js"), []byte("console.log('v2')\n"), 0o644)
	out = e.ok("build", "-t", "app:3", "--build-arg", "FLAVOUR=fancy", ctx).stdout
	if !regexp.MustCompile(`STEP 6/10: RUN [^\n]*\n--> CACHED`).MatchString(out) || regexp.MustCompile(`STEP 7/10: COPY src/ ./src/\n--> CACHED`).MatchString(out) {
		t.Errorf("rebuild after a source change: want RUN cached and COPY src/ run:\n%s", out)
	}
	if got := e.ok("run", "--rm", "app:3", "cat", "src/index.js").stdout; got != "console.log('v2')\n" {
		t.Errorf("app:3 src/index.js = %q; want v2", got)
	}
	// --no-cache runs everything.
	if out = e.ok("build", "--no-cache", "-t", "app:4", ctx).stdout; strings.Contains(out, "CACHED") || !ran.MatchString(out) {
		t.Errorf("build --no-cache used the cache:\n%s", out)
	}
	if ids := strings.Fields(e.ok("ps", "-aq").stdout); len(ids) != 0 {
		t.Errorf("build left containers: %v", ids)
	}
}

// TestPrivBuildMultiStage copies a file made in a first stage into an
// image that starts from scratch... and from the built-in image.
func TestPrivBuildMultiStage(t *testing.T) {
	e := newEnv(t)
	ctx := writeContext(t, map[string]string{"Dockerfile": `FROM unbox/busybox AS builder
RUN mkdir -p /out && echo built-in-stage-one > /out/artifact
FROM unbox/busybox
COPY --from=builder /out/artifact /artifact
COPY --from=0 --chmod=0600 /out/artifact /private
CMD ["sh", "-c", "cat /artifact; stat -c %a /private"]
`})
	e.ok("build", "-t", "multi", ctx)
	if got := e.ok("run", "--rm", "multi").stdout; got != "built-in-stage-one\n600\n" {
		t.Errorf("run multi = %q; want the first stage's file, and 600", got)
	}
	// FROM scratch: only what was copied.
	ctx = writeContext(t, map[string]string{"Dockerfile": "FROM unbox/busybox AS tools\nFROM scratch\nCOPY --from=tools /bin/busybox /bin/busybox\nCOPY hello /hello\n", "hello": "from scratch\n"})
	e.ok("build", "-t", "tiny", ctx)
	if got := e.ok("run", "--rm", "tiny", "/bin/busybox", "cat", "/hello").stdout; got != "from scratch\n" {
		t.Errorf("run tiny = %q", got)
	}
	if r := e.run("run", "--rm", "tiny", "/bin/busybox", "ls", "/etc/passwd"); r.code == 0 {
		t.Errorf("a FROM scratch image has the base image's /etc/passwd: %s", r)
	}
}

// TestPrivBuildBadInput: each bad build fails with a clear error, names
// the line, tags nothing and leaves no container.
func TestPrivBuildBadInput(t *testing.T) {
	e := newEnv(t)
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret"), []byte("host secret"), 0o644)
	for _, tc := range []struct {
		name, dockerfile string
		setup            func(ctx string)
		want             []string
	}{
		{"unknown instruction", "FROM unbox/busybox\nRUN true\nFROBNICATE x\n", nil, []string{"Dockerfile:3: unknown instruction: FROBNICATE"}},
		{"unsupported instruction", "FROM unbox/busybox\nONBUILD RUN true\n", nil, []string{"Dockerfile:2: the ONBUILD instruction is not supported"}},
		{"dot-dot", "FROM unbox/busybox\nCOPY ../secret /s\n", nil, []string{"Dockerfile:2: COPY: forbidden path outside the build context"}},
		{"symlink out", "FROM unbox/busybox\nCOPY link /s\n", func(ctx string) { os.Symlink(filepath.Join(outside, "secret"), filepath.Join(ctx, "link")) },
			[]string{"Dockerfile:2: COPY: link: refused: it leads outside the build context"}},
		{"symlinked dir out", "FROM unbox/busybox\nCOPY d/ /s/\n", func(ctx string) { os.Symlink(outside, filepath.Join(ctx, "d")) },
			[]string{"leads outside the build context"}},
		{"failing RUN", "FROM unbox/busybox\nRUN echo about to fail; exit 3\n", nil,
			[]string{"about to fail", "Dockerfile:2: RUN: the command '/bin/sh -c echo about to fail; exit 3' returned a non-zero code: 3"}},
		// --pull never: a missing base is not looked for in a registry
		// (the default would pull it from Docker Hub).
		{"missing base", "FROM nosuch/image\n", nil, []string{"FROM nosuch/image: no such image", "--pull never"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := writeContext(t, map[string]string{"Dockerfile": tc.dockerfile})
			if tc.setup != nil {
				tc.setup(ctx)
			}
			r := e.run("build", "--pull=never", "-t", "bad", ctx)
			if r.code != 1 {
				t.Errorf("build = exit %d; want 1\n%s", r.code, r)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stdout+r.stderr, w) {
					t.Errorf("build output lacks %q:\n%s", w, r)
				}
			}
			if strings.Contains(r.stdout+r.stderr, "host secret") {
				t.Errorf("the build read the host's file:\n%s", r)
			}
			if r := e.run("images", "-q", "bad"); strings.TrimSpace(r.stdout) != "" {
				t.Errorf("a failed build tagged bad: %s", r)
			}
			if ids := strings.Fields(e.ok("ps", "-aq").stdout); len(ids) != 0 {
				t.Errorf("a failed build left containers: %v", ids)
			}
		})
	}
}

// serverDockerfile is the seed's application shape as a server: the
// sources copied, an install step, EXPOSE, a HEALTHCHECK and a CMD that
// serves them (busybox's httpd standing in for koa).
const serverDockerfile = `FROM unbox/busybox
WORKDIR /srv/app
COPY package.json ./
RUN mkdir -p public && echo "installed $(cat package.json)" > public/install.txt
COPY public/ ./public/
EXPOSE 3000
HEALTHCHECK --interval=1s --timeout=3s --retries=2 CMD wget -q -O /dev/null http://127.0.0.1:3000/ || exit 1
CMD ["httpd", "-f", "-p", "3000", "-h", "/srv/app/public"]
`

// TestPrivBuildServes: the built image runs and answers on its published
// port, -p and -P (which publishes what EXPOSE says); HEALTHCHECK and
// SHELL are in the image's config where Docker writes them, a child image
// inherits the SHELL, and HEALTHCHECK NONE turns the parent's off.
func TestPrivBuildServes(t *testing.T) {
	e := newNetEnv(t)
	ctx := writeContext(t, map[string]string{
		"Dockerfile": serverDockerfile, "package.json": `{"name":"app"}`, "public/index.html": "hello from the built image\n",
	})
	e.ok("build", "-t", "web:1", ctx)

	port := freeHostPort(t)
	e.ok("run", "-d", "--name", "web", "-p", fmt.Sprintf("127.0.0.1:%d:3000", port), "web:1")
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	waitHTTP(t, addr, "/", "hello from the built image")
	waitHTTP(t, addr, "/install.txt", `installed {"name":"app"}`)
	// The image's HEALTHCHECK (wget of its own port) runs, and passes.
	if c := e.waitHealth("web", "healthy"); c.Config.Healthcheck == nil || c.Config.Healthcheck.Interval != time.Second {
		t.Errorf("web's Healthcheck = %+v; want the image's", c.Config.Healthcheck)
	}
	if ps := e.out("ps", "--filter", "name=web"); !strings.Contains(ps, "(healthy)") {
		t.Errorf("ps: %s; want web (healthy)", ps)
	}

	// -P publishes EXPOSE 3000 on a port the kernel picks; `port` says which.
	e.ok("run", "-d", "--name", "webp", "-P", "web:1")
	mapped := strings.TrimSpace(e.out("port", "webp", "3000"))
	_, p, ok := strings.Cut(strings.Split(mapped, "\n")[0], ":")
	if !ok {
		t.Fatalf("port webp 3000 = %q", mapped)
	}
	waitHTTP(t, "127.0.0.1:"+p, "/", "hello from the built image")
	e.ok("rm", "-f", "web", "webp")

	type imageConfig struct {
		Cmd         []string
		Shell       []string
		Healthcheck *struct {
			Test     []string
			Interval time.Duration
			Timeout  time.Duration
			Retries  int
		}
	}
	configOf := func(ref string) imageConfig {
		t.Helper()
		var imgs []struct{ Config imageConfig }
		raw := e.ok("inspect", "--type", "image", ref).stdout
		if err := json.Unmarshal([]byte(raw), &imgs); err != nil || len(imgs) != 1 {
			t.Fatalf("inspect %s: %v\n%s", ref, err, raw)
		}
		return imgs[0].Config
	}
	h := configOf("web:1").Healthcheck
	if h == nil || !slices.Equal(h.Test, []string{"CMD-SHELL", "wget -q -O /dev/null http://127.0.0.1:3000/ || exit 1"}) ||
		h.Interval != time.Second || h.Timeout != 3*time.Second || h.Retries != 2 {
		t.Errorf("web:1's Healthcheck = %+v; want the HEALTHCHECK's test, 1s, 3s, 2 retries", h)
	}
	if history := e.ok("history", "--no-trunc", "web:1").stdout; !strings.Contains(history, `HEALTHCHECK --interval=1s --timeout=3s --retries=2 ["CMD-SHELL",`) {
		t.Errorf("history lacks the HEALTHCHECK:\n%s", history)
	}

	ctx = writeContext(t, map[string]string{"Dockerfile": `FROM web:1
SHELL ["/bin/sh", "-ec"]
`})
	e.ok("build", "-t", "web:shell", ctx)
	if sh := configOf("web:shell").Shell; !slices.Equal(sh, []string{"/bin/sh", "-ec"}) {
		t.Errorf("Shell = %q; want the SHELL instruction's", sh)
	}
	ctx = writeContext(t, map[string]string{"Dockerfile": `FROM web:shell
HEALTHCHECK NONE
CMD echo "$0 $-" 
`})
	e.ok("build", "-t", "web:child", ctx)
	c := configOf("web:child")
	if !slices.Equal(c.Cmd, []string{"/bin/sh", "-ec", `echo "$0 $-"`}) {
		t.Errorf("Cmd = %q; want the shell form through the base image's SHELL", c.Cmd)
	}
	if c.Healthcheck == nil || !slices.Equal(c.Healthcheck.Test, []string{"NONE"}) {
		t.Errorf("Healthcheck = %+v; want HEALTHCHECK NONE's [NONE]", c.Healthcheck)
	}
	if got := e.ok("run", "--rm", "web:child").stdout; !strings.HasPrefix(got, "/bin/sh ") || !strings.Contains(got, "e") {
		t.Errorf("run web:child = %q; want sh with -e set", got)
	}
}
