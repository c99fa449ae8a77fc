//go:build linux

package volume_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/unboxlab/unbox/internal/volume"
)

func openStore(t *testing.T) *volume.Store {
	t.Helper()
	s, err := volume.Open(filepath.Join(t.TempDir(), "volumes"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func names(vs []volume.Volume) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Name)
	}
	return out
}

// TestStoreLifecycle: a named volume is made once, used and released by
// containers, refused removal while used, and listed dangling after.
func TestStoreLifecycle(t *testing.T) {
	s := openStore(t)
	var events []string
	s.Trace = func(e volume.Event) { events = append(events, e.Command) }

	v, created, err := s.Create("data", volume.CreateOptions{Labels: map[string]string{"app": "db"}})
	if err != nil || !created {
		t.Fatalf("Create(data) = %v, created %v", err, created)
	}
	if want := filepath.Join(s.Dir(), "data", "_data"); v.Mountpoint != want {
		t.Errorf("Mountpoint = %q; want %q", v.Mountpoint, want)
	}
	if fi, err := os.Stat(v.Mountpoint); err != nil || !fi.IsDir() {
		t.Errorf("stat %s: %v; want a directory", v.Mountpoint, err)
	}
	if _, created, err := s.Create("data", volume.CreateOptions{}); err != nil || created {
		t.Errorf("Create(data) again = %v, created %v; want the same volume, not made again", err, created)
	}
	for _, c := range []string{"ctr-a", "ctr-b", "ctr-a"} {
		if _, err := s.Use("data", c); err != nil {
			t.Fatal(err)
		}
	}
	if d, _ := s.Dangling(); len(d) != 0 {
		t.Errorf("Dangling() = %v while two containers use data", names(d))
	}
	var inUse *volume.InUseError
	if err := s.Remove("data"); !errors.As(err, &inUse) || !slices.Equal(inUse.Users, []string{"ctr-a", "ctr-b"}) {
		t.Errorf("Remove(data) in use = %v; want an InUseError naming ctr-a, ctr-b", err)
	}
	for _, c := range []string{"ctr-a", "ctr-b", "ctr-b"} {
		if _, err := s.Release("data", c); err != nil {
			t.Fatal(err)
		}
	}
	if d, err := s.Dangling(); err != nil || !slices.Equal(names(d), []string{"data"}) {
		t.Errorf("Dangling() = %v, %v; want [data]", names(d), err)
	}
	got, err := s.Get("data")
	if err != nil || got.Labels["app"] != "db" || got.Anonymous || !got.CopyUp {
		t.Errorf("Get(data) = %+v, %v; want its labels, named, copy-up pending", got, err)
	}
	if err := s.Remove("data"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("data"); !errors.Is(err, volume.ErrNotFound) {
		t.Errorf("Get after Remove = %v; want ErrNotFound", err)
	}
	want := []string{"mkdir -p " + v.Mountpoint, "rm -rf " + filepath.Join(s.Dir(), "data")}
	if !slices.Equal(events, want) {
		t.Errorf("trace = %q; want %q", events, want)
	}
	if left := entries(t, s.Dir()); !slices.Equal(left, []string{".lock"}) {
		t.Errorf("store after removing its only volume holds %v; want only .lock", left)
	}
}

func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

// TestStorePrune: prune removes dangling anonymous volumes; with all, the
// dangling named ones too; never one in use.
func TestStorePrune(t *testing.T) {
	s := openStore(t)
	anon, _, err := s.Create("", volume.CreateOptions{Anonymous: true})
	if err != nil {
		t.Fatal(err)
	}
	if !volume.IsID(anon.Name) || !anon.Anonymous {
		t.Errorf("Create(\"\", anonymous) = %+v; want a 64-hex ID, anonymous", anon)
	}
	busy, _, _ := s.Create("", volume.CreateOptions{Anonymous: true})
	if _, err := s.Use(busy.Name, "ctr"); err != nil {
		t.Fatal(err)
	}
	s.Create("data", volume.CreateOptions{})
	removed, err := s.Prune(false)
	if err != nil || !slices.Equal(removed, []string{anon.Name}) {
		t.Errorf("Prune(false) = %v, %v; want only the dangling anonymous volume", removed, err)
	}
	removed, err = s.Prune(true)
	if err != nil || !slices.Equal(removed, []string{"data"}) {
		t.Errorf("Prune(true) = %v, %v; want data", removed, err)
	}
	if vs, _ := s.List(); !slices.Equal(names(vs), []string{busy.Name}) {
		t.Errorf("left %v; want the volume in use", names(vs))
	}
}

// TestStoreDetach: docker rm releases a container's volumes; rm -v removes
// its anonymous ones, unless another container still uses one, and never
// a named one.
func TestStoreDetach(t *testing.T) {
	s := openStore(t)
	mine, _, _ := s.Create("", volume.CreateOptions{Anonymous: true})
	ours, _, _ := s.Create("", volume.CreateOptions{Anonymous: true})
	s.Create("data", volume.CreateOptions{})
	for _, u := range [][2]string{{mine.Name, "a"}, {ours.Name, "a"}, {ours.Name, "b"}, {"data", "a"}} {
		if _, err := s.Use(u[0], u[1]); err != nil {
			t.Fatal(err)
		}
	}
	removed, err := s.Detach("a", true)
	if err != nil || !slices.Equal(removed, []string{mine.Name}) {
		t.Errorf("Detach(a, true) = %v, %v; want only %s", removed, err, mine.Name)
	}
	v, _ := s.Get(ours.Name)
	d, _ := s.Get("data")
	if !slices.Equal(v.Users, []string{"b"}) || len(d.Users) != 0 {
		t.Errorf("after Detach(a): %s used by %v, data by %v; want [b] and none", ours.Name, v.Users, d.Users)
	}
	if removed, err := s.Detach("b", false); err != nil || len(removed) != 0 {
		t.Errorf("Detach(b, false) = %v, %v; want nothing removed", removed, err)
	}
	if d, _ := s.Dangling(); len(d) != 2 {
		t.Errorf("Dangling() = %v; want the anonymous volume b left and data", names(d))
	}
}

// TestStoreConcurrentCreate: twenty goroutines, each with its own lock
// descriptor as separate processes would have, make the same named volume:
// one makes it, all get it. Twenty anonymous volumes are twenty volumes.
// The store holds whole volumes only, and no temporary file.
func TestStoreConcurrentCreate(t *testing.T) {
	s := openStore(t)
	const n = 20
	var wg sync.WaitGroup
	var mu sync.Mutex
	made, ids := 0, map[string]bool{}
	errs := make(chan error, 2*n)
	for range n {
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, created, err := s.Create("shared", volume.CreateOptions{})
			if _, uerr := s.Use("shared", "c"); err == nil {
				err = uerr
			}
			errs <- err
			mu.Lock()
			defer mu.Unlock()
			if created {
				made++
			}
		}()
		go func() {
			defer wg.Done()
			v, _, err := s.Create("", volume.CreateOptions{Anonymous: true})
			errs <- err
			mu.Lock()
			defer mu.Unlock()
			ids[v.Name] = true
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if made != 1 || len(ids) != n {
		t.Errorf("%d goroutines made shared %d times and %d distinct anonymous volumes; want 1 and %d", n, made, len(ids), n)
	}
	vs, err := s.List()
	if err != nil || len(vs) != n+1 {
		t.Errorf("List() = %d volumes, %v; want %d", len(vs), err, n+1)
	}
	for _, e := range entries(t, s.Dir()) {
		if e == ".lock" {
			continue
		}
		if volume.ValidateName(e) != nil {
			t.Errorf("store holds %s, not a volume", e)
		}
		for _, f := range entries(t, filepath.Join(s.Dir(), e)) {
			if strings.HasPrefix(f, ".") {
				t.Errorf("%s holds a temporary file %s", e, f)
			}
		}
	}
}

// TestOpenRepairs: a process killed while making or removing a volume
// leaves a .new- or .rm- directory; the next Open removes it, and a
// directory that is not a whole volume is reported, not listed.
func TestOpenRepairs(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "volumes")
	s, err := volume.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	s.Create("kept", volume.CreateOptions{})
	for _, half := range []string{".new-123/_data", ".rm-456/v/_data"} {
		if err := os.MkdirAll(filepath.Join(s.Dir(), half), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(s.Dir(), "stray", "_data"), 0o700); err != nil {
		t.Fatal(err)
	}
	if s, err = volume.Open(dir); err != nil {
		t.Fatal(err)
	}
	if got := entries(t, s.Dir()); !slices.Equal(got, []string{".lock", "kept", "stray"}) {
		t.Errorf("after Open, the store holds %v; want the half-made and half-removed volumes gone", got)
	}
	vs, err := s.List()
	if !slices.Equal(names(vs), []string{"kept"}) || err == nil || !strings.Contains(err.Error(), "stray") {
		t.Errorf("List() = %v, %v; want [kept] and an error naming stray", names(vs), err)
	}
	if err := os.WriteFile(filepath.Join(s.Dir(), "kept", "volume.json"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("kept"); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("Get of a damaged record = %v; want it reported", err)
	}
}

// TestStoreRefusesBadNames: no name can lead out of the store.
func TestStoreRefusesBadNames(t *testing.T) {
	s := openStore(t)
	for _, bad := range []string{"..", "../x", "a/b", ".lock", "/etc"} {
		if _, _, err := s.Create(bad, volume.CreateOptions{}); err == nil {
			t.Errorf("Create(%q) = nil; want an error", bad)
		}
		if _, err := s.Get(bad); err == nil || errors.Is(err, volume.ErrNotFound) {
			t.Errorf("Get(%q) = %v; want a refusal of the name", bad, err)
		}
		if err := s.Remove(bad); err == nil {
			t.Errorf("Remove(%q) = nil; want an error", bad)
		}
	}
	if _, err := volume.Open("relative/dir"); err == nil {
		t.Errorf("Open(relative/dir) = nil; want an error")
	}
}

// TestRemoveDoesNotFollowSymlinks: a volume in which a container left a
// symlink to a host directory is removed without touching that directory.
func TestRemoveDoesNotFollowSymlinks(t *testing.T) {
	s := openStore(t)
	bait := t.TempDir()
	if err := os.WriteFile(filepath.Join(bait, "precious"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	v, _, _ := s.Create("data", volume.CreateOptions{})
	if err := os.Symlink(bait, filepath.Join(v.Mountpoint, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(bait+"/precious", filepath.Join(v.Mountpoint, "file")); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove("data"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(bait, "precious")); err != nil {
		t.Errorf("removing the volume removed %s/precious, through its symlink: %v", bait, err)
	}
}
