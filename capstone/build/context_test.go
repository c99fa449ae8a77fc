//go:build linux

package build

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// ctxDir makes a build context: files (name → content; a content
// starting with "->" is a symlink to the rest).
func ctxDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		if target, ok := strings.CutPrefix(content, "->"); ok {
			err = os.Symlink(target, p)
		} else {
			err = os.WriteFile(p, []byte(content), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// copyOut is what COPY src would put in the image: the tar entries the
// walker writes, as name → content (symlinks as "->target").
func copyOut(t *testing.T, dir, src string) (map[string]string, error) {
	t.Helper()
	tr, err := openContext(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	rels, err := tr.sources(src)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, rel := range rels {
		if err := tr.writeSource(tw, rel, rel, tarOptions{}); err != nil {
			return nil, err
		}
	}
	tw.Close()
	out := map[string]string{}
	r := tar.NewReader(&buf)
	for {
		h, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r)
		switch h.Typeflag {
		case tar.TypeSymlink:
			out[h.Name] = "->" + h.Linkname
		case tar.TypeDir:
			out[h.Name] = "/"
		default:
			out[h.Name] = string(b)
		}
		if h.Uid != 0 || h.Gid != 0 {
			t.Errorf("%s is owned by %d:%d; COPY's files are root's", h.Name, h.Uid, h.Gid)
		}
	}
}

// TestHostileContexts: a context is untrusted input. Whatever it holds,
// COPY reads nothing outside it.
func TestHostileContexts(t *testing.T) {
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("host secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		files map[string]string
		src   string
		want  string // error text
	}{
		{"dot-dot", map[string]string{"a": "x"}, "../secret", "forbidden path outside the build context"},
		{"dot-dot inside a path", map[string]string{"a/b": "x"}, "a/../../secret", "forbidden path outside the build context"},
		{"absolute symlink", map[string]string{"link": "->" + filepath.Join(outside, "secret")}, "link", "leads outside the build context"},
		{"relative symlink out", map[string]string{"link": "->../../../../../../" + outside + "/secret"}, "link", "leads outside the build context"},
		{"symlinked directory out", map[string]string{"dir": "->" + outside}, "dir/secret", "leads outside the build context"},
		{"symlink to /", map[string]string{"root": "->/"}, "root/etc/passwd", "leads outside the build context"},
		{"glob through a symlink out", map[string]string{"dir": "->" + outside}, "dir/*", "leads outside the build context"},
		{"whiteout name", map[string]string{"d/.wh.passwd": "x"}, "d", "whiteout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := copyOut(t, ctxDir(t, tc.files), tc.src)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("COPY %s = %v, %v; want an error with %q", tc.src, got, err, tc.want)
			}
			for name, content := range got {
				if strings.Contains(content, "host secret") {
					t.Errorf("COPY %s read the host's secret as %s", tc.src, name)
				}
			}
		})
	}
}

// TestContextCopiesLinksAsLinks: symlinks below a source are copied as
// symlinks, never followed; a symlink that stays inside may be a source.
func TestContextCopiesLinksAsLinks(t *testing.T) {
	dir := ctxDir(t, map[string]string{
		"app/main.go": "package main", "app/etc": "->/etc", "app/up": "->../../..", "inside": "->app/main.go",
	})
	got, err := copyOut(t, dir, "app")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"app/main.go": "package main", "app/etc": "->/etc", "app/up": "->../../.."}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("COPY app: %s = %q; want %q (all: %v)", k, got[k], v, got)
		}
	}
	got, err = copyOut(t, dir, "inside")
	if err != nil || got["inside"] != "package main" {
		t.Errorf("COPY inside (a symlink to app/main.go) = %v, %v; want the file's content", got, err)
	}
}

func TestDockerignore(t *testing.T) {
	dir := ctxDir(t, map[string]string{
		".dockerignore": "# comment\n*.log\nsecrets/\nnode_modules\n!node_modules/keep\n",
		"a.log":         "x", "main.go": "package main", "secrets/key": "k", "node_modules/dep/x": "d", "node_modules/keep": "kept",
	})
	got, err := copyOut(t, dir, ".")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for k := range got {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, n := range names {
		if strings.HasSuffix(n, ".log") || strings.HasPrefix(n, "secrets") || strings.Contains(n, "dep") {
			t.Errorf("COPY . took %s, which .dockerignore excludes (all: %v)", n, names)
		}
	}
	if got["main.go"] != "package main" || got["node_modules/keep"] != "kept" {
		t.Errorf("COPY . = %v; want main.go and the !exception node_modules/keep", names)
	}
	if _, err := copyOut(t, dir, "secrets/key"); err == nil || !strings.Contains(err.Error(), ".dockerignore") {
		t.Errorf("COPY secrets/key = %v; want an error naming .dockerignore", err)
	}
}
