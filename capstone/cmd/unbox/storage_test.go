//go:build linux

package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPrivVolumes: a bind mount (read-only or not), a named volume that
// outlives its containers and is filled from the image on first use, an
// anonymous volume that goes with run --rm, and volume's commands.
func TestPrivVolumes(t *testing.T) {
	e := newEnv(t)
	host := t.TempDir()
	os.WriteFile(filepath.Join(host, "in"), []byte("from the host\n"), 0o644)
	r := e.ok("run", "--rm", "-v", host+":/mnt", "unbox/busybox", "sh", "-c", "cat /mnt/in; echo back > /mnt/out")
	if r.stdout != "from the host\n" || readFile(t, filepath.Join(host, "out")) != "back\n" {
		t.Errorf("bind mount: %s; want the host's file read and one written back", r)
	}
	r = e.run("run", "--rm", "-v", host+":/mnt:ro", "unbox/busybox", "sh", "-c", "echo x > /mnt/out")
	if r.code == 0 || !strings.Contains(r.stderr, "Read-only file system") {
		t.Errorf("write to a :ro bind: %s; want refused", r)
	}
	// A named volume over /etc is filled with the image's /etc first.
	e.ok("run", "--rm", "-v", "etcdata:/etc", "unbox/busybox", "sh", "-c", "echo kept > /etc/mine")
	r = e.ok("run", "--rm", "-v", "etcdata:/etc", "unbox/busybox", "sh", "-c", "cat /etc/mine; grep -c root /etc/passwd")
	if r.stdout != "kept\n1\n" {
		t.Errorf("named volume across two containers: %s; want kept, and the image's passwd copied in", r)
	}
	if ls := e.out("volume", "ls", "-q"); ls != "etcdata" {
		t.Errorf("volume ls -q = %q; want etcdata alone (run --rm removed the anonymous ones)", ls)
	}
	var vs []map[string]any
	if err := json.Unmarshal([]byte(e.out("volume", "inspect", "etcdata")), &vs); err != nil || len(vs) != 1 || vs[0]["Driver"] != "local" {
		t.Fatalf("volume inspect: %v, %v", vs, err)
	}
	if mp, _ := vs[0]["Mountpoint"].(string); readFile(t, filepath.Join(mp, "mine")) != "kept\n" {
		t.Errorf("the volume's Mountpoint %s does not hold the file written in it", mp)
	}
	// An anonymous volume: kept by rm, removed by rm -v.
	e.ok("run", "--name", "anon", "-v", "/data", "unbox/busybox", "true")
	anon := e.inspect("anon").Mounts[0].Name
	if len(anon) != 64 {
		t.Fatalf("anonymous volume named %q; want a 64-digit ID", anon)
	}
	e.ok("run", "-d", "--name", "user", "-v", "etcdata:/etc", "unbox/busybox", "sleep", "1000")
	if r := e.run("volume", "rm", "etcdata"); r.code != 125 || !strings.Contains(r.stderr, "in use") {
		t.Errorf("volume rm of a volume in use: %s; want refused", r)
	}
	e.ok("rm", "-f", "user")
	e.ok("rm", "-v", "anon")
	if ls := e.out("volume", "ls", "-q"); ls != "etcdata" {
		t.Errorf("volume ls -q after rm -v = %q; want etcdata alone", ls)
	}
	e.ok("volume", "create", "--label", "a=b", "spare")
	e.ok("volume", "rm", "etcdata")
	if pr := e.out("volume", "prune", "-a", "-f"); !strings.Contains(pr, "spare") {
		t.Errorf("volume prune -a: %q; want spare removed", pr)
	}
	if ls := e.out("volume", "ls", "-q"); ls != "" {
		t.Errorf("volumes left: %q", ls)
	}
}

// TestPrivImagesAndCommit: commit makes an image of a container's
// changes that runs; history, tag, images, inspect, export, import, rmi
// and image prune act on it as Docker's.
func TestPrivImagesAndCommit(t *testing.T) {
	e := newEnv(t)
	e.ok("run", "--name", "builder", "unbox/busybox", "sh", "-c", "echo built > /greeting; rm /etc/motd 2>/dev/null; mkdir -p /srv && echo x > /srv/x")
	id := e.out("commit", "-m", "add a greeting", "-c", "CMD cat /greeting", "-c", "ENV WHO=me", "builder", "app:v1")
	if !strings.HasPrefix(id, "sha256:") {
		t.Fatalf("commit printed %q; want the image ID", id)
	}
	if r := e.ok("run", "--rm", "app:v1"); r.stdout != "built\n" {
		t.Errorf("run of the committed image (its CMD from --change): %s; want built", r)
	}
	if r := e.ok("run", "--rm", "app:v1", "sh", "-c", "echo $WHO; cat /etc/hostname | wc -c"); r.stdout != "me\n13\n" {
		t.Errorf("committed image's ENV, and its /etc/hostname (the new container's, not the committed one's): %s", r)
	}
	hist := e.out("history", "app:v1")
	if lines := strings.Split(hist, "\n"); len(lines) != 3 || !strings.Contains(lines[1], "add a greeting") {
		t.Errorf("history app:v1:\n%s\nwant the commit on top of the built-in image's layer", hist)
	}
	e.ok("tag", "app:v1", "app:latest")
	imgs := e.out("images")
	if !strings.Contains(imgs, "app             latest") || !strings.Contains(imgs, "app             v1") || !strings.Contains(imgs, id[7:19]) {
		t.Errorf("images:\n%s\nwant app:latest and app:v1, one ID", imgs)
	}
	var ii []imageInspect
	if err := json.Unmarshal([]byte(e.out("image", "inspect", "app")), &ii); err != nil || len(ii) != 1 || ii[0].ID != id || len(ii[0].RootFS.DiffIDs) != 2 {
		t.Errorf("image inspect app: %+v, %v", ii, err)
	}
	// export the container's file system, import it as an image, run it.
	tarPath := filepath.Join(t.TempDir(), "fs.tar")
	e.ok("export", "-o", tarPath, "builder")
	inTar := tarNames(t, tarPath)
	for _, want := range []string{"greeting", "bin/busybox", "srv/x", "etc/passwd"} {
		if !inTar[want] {
			t.Errorf("export lacks %s", want)
		}
	}
	imported := e.out("image", "import", "-c", "CMD [\"cat\", \"/srv/x\"]", tarPath, "flat:1")
	if r := e.ok("run", "--rm", "flat:1"); r.stdout != "x\n" {
		t.Errorf("run of the imported export: %s; want x", r)
	}
	if h := e.out("history", "-q", "flat:1"); strings.Count(h, "\n") != 0 || !strings.Contains(imported, h) {
		t.Errorf("history -q of an imported image: %q; want one layer, its ID %s", h, imported)
	}
	// rmi: a name, then the image; one a container uses is refused.
	if r := e.ok("rmi", "app:latest"); r.stdout != "Untagged: app:latest\n" {
		t.Errorf("rmi app:latest: %s; want the name untagged alone", r)
	}
	if r := e.run("rmi", "unbox/busybox"); r.code != 125 || !strings.Contains(r.stderr, "container builder is using") {
		t.Errorf("rmi of the image a container uses: %s; want a conflict", r)
	}
	e.ok("rm", "builder")
	if r := e.ok("rmi", "app:v1", "flat:1"); !strings.Contains(r.stdout, "Deleted: "+id) {
		t.Errorf("rmi app:v1: %s; want it deleted", r)
	}
	// image prune -a removes what no container uses, the built-in image too.
	if r := e.ok("image", "prune", "-a", "-f"); !strings.Contains(r.stdout, "untagged: unbox/busybox:latest") {
		t.Errorf("image prune -a: %s", r)
	}
	if imgs := e.out("images", "-q"); imgs != "" {
		t.Errorf("images left after image prune -a: %q", imgs)
	}
	blobs, _ := os.ReadDir(filepath.Join(e.root, "images", "blobs", "sha256"))
	snaps, _ := os.ReadDir(filepath.Join(e.root, "snapshots", "sha256"))
	if len(blobs)+len(snaps) > 0 {
		t.Errorf("blobs %v and snapshots %v left after every image was removed", names(blobs), names(snaps))
	}
	// and the next run makes the built-in image again.
	e.ok("run", "--rm", "unbox/busybox", "true")
}

// tarNames lists a tar archive's entries, without a trailing slash.
func tarNames(t *testing.T, p string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	eachTarEntry(t, p, func(h *tar.Header, _ io.Reader) { out[strings.TrimSuffix(h.Name, "/")] = true })
	return out
}

// eachTarEntry calls fn with each entry of the tar archive at p, and its
// contents.
func eachTarEntry(t *testing.T, p string, fn func(h *tar.Header, r io.Reader)) {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		fn(h, tr)
	}
}

// TestPrivCp: cp in both directions, running and stopped, through a
// volume, and to and from tar streams; a symlink in the container never
// leads the copy out of it.
func TestPrivCp(t *testing.T) {
	e := newEnv(t)
	e.ok("run", "-d", "--name", "box", "-v", "vol:/vol", "unbox/busybox", "sh", "-c", "echo inside > /file; ln -s /etc/shadow /vol/evil; ln -s / /rootlink; sleep 1000")
	e.waitStatus("box", "running")
	dst := t.TempDir()
	for deadline := 0; deadline < 100 && e.run("cp", "box:/file", dst).code != 0; deadline++ {
	}
	if got := readFile(t, filepath.Join(dst, "file")); got != "inside\n" {
		t.Errorf("cp box:/file DIR: %q", got)
	}
	e.ok("cp", "box:/file", filepath.Join(dst, "renamed"))
	if got := readFile(t, filepath.Join(dst, "renamed")); got != "inside\n" {
		t.Errorf("cp box:/file NEWNAME: %q", got)
	}
	src := filepath.Join(t.TempDir(), "tree")
	os.MkdirAll(filepath.Join(src, "sub"), 0o755)
	os.WriteFile(filepath.Join(src, "sub", "f"), []byte("host\n"), 0o600)
	e.ok("cp", src, "box:/vol")
	if r := e.ok("exec", "box", "sh", "-c", "cat /vol/tree/sub/f; stat -c %u /vol/tree/sub/f"); r.stdout != "host\n0\n" {
		t.Errorf("cp DIR box:/vol (a volume): %s; want the tree there, owned by root", r)
	}
	// Through the symlink /rootlink -> /: still inside the container.
	e.ok("cp", "box:/rootlink/etc/hostname", filepath.Join(dst, "h"))
	if got := strings.TrimSpace(readFile(t, filepath.Join(dst, "h"))); got != e.inspect("box").Config.Hostname {
		t.Errorf("cp through a link to /: got %q; want the container's hostname", got)
	}
	// A link in a volume to /etc/shadow is copied as a link, not followed.
	e.ok("cp", "box:/vol/evil", filepath.Join(dst, "evil"))
	if target, err := os.Readlink(filepath.Join(dst, "evil")); err != nil || target != "/etc/shadow" {
		t.Errorf("cp of a symlink: %q, %v; want the link itself", target, err)
	}
	// Into and out of a stopped container, and tar streams.
	e.ok("stop", "-t", "0", "box")
	var tarball bytes.Buffer
	tw := tar.NewWriter(&tarball)
	tw.WriteHeader(&tar.Header{Name: "streamed", Mode: 0o644, Size: 3, Typeflag: tar.TypeReg})
	tw.Write([]byte("hi\n"))
	tw.Close()
	if r := e.runIn(&tarball, "cp", "-", "box:/"); r.code != 0 {
		t.Fatalf("cp - box:/ from a tar stream: %s", r)
	}
	r := e.ok("cp", "box:/streamed", "-")
	names := map[string]string{}
	tr := tar.NewReader(strings.NewReader(r.stdout))
	for h, err := tr.Next(); err == nil; h, err = tr.Next() {
		b, _ := io.ReadAll(tr)
		names[h.Name] = string(b)
	}
	if names["streamed"] != "hi\n" {
		t.Errorf("cp box:/streamed - gave %v; want a tar with streamed", names)
	}
	e.ok("start", "box")
	if r := e.ok("exec", "box", "cat", "/streamed"); r.stdout != "hi\n" {
		t.Errorf("a file copied into the stopped container: %s", r)
	}
}
