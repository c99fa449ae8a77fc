//go:build linux

package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/kit/kittest"
	"github.com/unboxlab/unbox/internal/mount"
	"github.com/unboxlab/unbox/internal/rootfs/rootfstest"
)

// Each kind of volume, from both sides: the containers are the lesson's
// own (lab.start), the checks are on what the container reports and what
// the host sees. The leak check proves that lab.teardown left nothing.

var containerNeeds = append([]kit.Need{kit.NeedOverlay, needUpperFS}, kit.NeedNamespaces("mnt", "pid", "uts")...)

// newTestLab is a lab in the test's temp directory with the image built,
// torn down when the test ends.
func newTestLab(t *testing.T, extra ...kit.Need) *lab {
	t.Helper()
	kittest.Privileged(t, append(containerNeeds, extra...)...)
	l := &lab{}
	err := l.open(filepath.Join(t.TempDir(), "lab"))
	t.Cleanup(func() {
		if _, err := l.teardown(""); err != nil {
			t.Errorf("teardown: %v", err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.buildImage(context.Background()); err != nil {
		t.Fatal(err)
	}
	return l
}

func (l *lab) mustStart(t *testing.T, o runOpts) *container {
	t.Helper()
	c, err := l.start(context.Background(), o)
	if err != nil {
		t.Fatalf("%s: %v", l.dockerRun(o), err)
	}
	return c
}

func do(t *testing.T, c *container, req request) reply {
	t.Helper()
	r, err := c.do(req)
	if err != nil {
		t.Fatalf("%s: %s %s: %v", c.Name, req.Op, req.Path, err)
	}
	return r
}

// TestPrivBindBothSides: a write on either side shows on the other, with
// the same owner numbers; :ro refuses writes, on its submount too, and
// leaves the host's mounts writable.
func TestPrivBindBothSides(t *testing.T) {
	l := newTestLab(t)
	project, _, err := l.hostProject()
	if err != nil {
		t.Fatal(err)
	}
	c := l.mustStart(t, runOpts{Name: "web", Volumes: []string{project + ":/project", project + ":/ro:ro"}})
	if r := do(t, c, request{Op: "write", Path: "/project/in", Data: "x"}); r.Err != "" {
		t.Fatalf("write /project/in inside: %s", r.Err)
	}
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(project, "in"), &st); err != nil || st.Uid != 0 {
		t.Errorf("on the host, host/project/in: uid %d, %v; want the file, owned by 0", st.Uid, err)
	}
	if err := os.WriteFile(filepath.Join(project, "out"), []byte("y\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := do(t, c, request{Op: "cat", Path: "/project/out"}); r.Text != "y" {
		t.Errorf("inside, cat /project/out = %q, %q; want the host's write", r.Text, r.Err)
	}
	r := do(t, c, request{Op: "ls", Path: "/project"})
	host, _ := lsLines(project)
	if !slices.Equal(r.Lines, host) || !slices.Contains(r.Lines, "-rw-r--r-- 1000 1000 README") {
		t.Errorf("ls -ln inside %q; on the host %q; want the same, README owned by 1000", r.Lines, host)
	}
	for p, want := range map[string]string{"/ro/x": "read-only file system", "/ro/cache/x": "read-only file system", "/project/cache/x": ""} {
		if r := do(t, c, request{Op: "write", Path: p}); r.Err != want {
			t.Errorf("inside, touch %s: %q; want %q", p, r.Err, want)
		}
	}
	for _, p := range []string{project, filepath.Join(project, "cache")} {
		if err := os.WriteFile(filepath.Join(p, "host-write"), nil, 0o644); err != nil {
			t.Errorf("on the host, %s became read-only: %v", p, err)
		}
	}
	trace := strings.Join(commands(c.Trace), "\n")
	for _, want := range []string{"mount --rbind " + project + " " + c.Merged + "/ro",
		"mount -o remount,bind,ro=recursive " + c.Merged + "/ro", "mount --make-rprivate " + c.Merged + "/ro"} {
		if !strings.Contains(trace, want) {
			t.Errorf("trace lacks %q:\n%s", want, trace)
		}
	}
}

func commands(trace []mount.Step) []string {
	var out []string
	for _, s := range trace {
		out = append(out, s.Command)
	}
	return out
}

// TestPrivNamedVolumeShared: two containers on one named volume see each
// other's writes at once, and the volume and its files outlive both.
func TestPrivNamedVolumeShared(t *testing.T) {
	l := newTestLab(t)
	a := l.mustStart(t, runOpts{Name: "a", Volumes: []string{"data:/data"}})
	b := l.mustStart(t, runOpts{Name: "b", Volumes: []string{"data:/data:ro"}})
	do(t, a, request{Op: "write", Path: "/data/a.txt", Data: "from a\n"})
	if r := do(t, b, request{Op: "cat", Path: "/data/a.txt"}); r.Text != "from a" {
		t.Errorf("b: cat /data/a.txt = %q, %q; want a's write", r.Text, r.Err)
	}
	if r := do(t, b, request{Op: "write", Path: "/data/b.txt"}); r.Err != "read-only file system" {
		t.Errorf("b, which mounted data:ro, wrote: %q", r.Err)
	}
	v, err := l.store.Get("data")
	if err != nil || !slices.Equal(v.Users, []string{"a", "b"}) {
		t.Fatalf("volume data: users %v, %v; want a and b", v.Users, err)
	}
	for _, c := range []*container{a, b} {
		if removed, err := l.remove(c, true); err != nil || len(removed) > 0 {
			t.Fatalf("docker rm -v %s: removed %v, %v; want no volume removed", c.Name, removed, err)
		}
	}
	v, err = l.store.Get("data")
	if err != nil || len(v.Users) > 0 {
		t.Fatalf("after rm, volume data: %+v, %v; want it, unused", v, err)
	}
	if b, err := os.ReadFile(filepath.Join(v.Mountpoint, "a.txt")); err != nil || string(b) != "from a\n" {
		t.Errorf("after rm, the volume's a.txt = %q, %v", b, err)
	}
}

// TestPrivAnonymousVolumes: one new volume per container, kept dangling
// by a plain rm, removed by rm -v and by --rm, and by prune.
func TestPrivAnonymousVolumes(t *testing.T) {
	l := newTestLab(t)
	var ids []string
	for _, o := range []runOpts{{Name: "keep"}, {Name: "rmv"}, {Name: "autorm", Rm: true}} {
		o.Volumes = []string{"/scratch"}
		c := l.mustStart(t, o)
		id := c.attached.Volumes[0].Name
		do(t, c, request{Op: "write", Path: "/scratch/f", Data: o.Name})
		if b, err := os.ReadFile(filepath.Join(l.store.Path(id), "_data/f")); err != nil || string(b) != o.Name {
			t.Errorf("%s wrote /scratch/f; the volume %s holds %q, %v", o.Name, id, b, err)
		}
		removed, err := l.remove(c, o.Name == "rmv")
		if err != nil {
			t.Fatal(err)
		}
		if wantGone := o.Name != "keep"; wantGone != slices.Equal(removed, []string{id}) {
			t.Errorf("docker rm of %s removed %v; want its volume removed: %v", o.Name, removed, wantGone)
		}
		ids = append(ids, id)
	}
	if len(slices.Compact(slices.Sorted(slices.Values(ids)))) != 3 {
		t.Errorf("three containers got volumes %v; want three distinct", ids)
	}
	d, err := l.store.Dangling()
	if err != nil || len(d) != 1 || d[0].Name != ids[0] || !d[0].Anonymous {
		t.Errorf("dangling = %+v, %v; want only keep's anonymous volume", d, err)
	}
	if pruned, err := l.store.Prune(false); err != nil || !slices.Equal(pruned, ids[:1]) {
		t.Errorf("prune = %v, %v; want %s", pruned, err, ids[0])
	}
}

// TestPrivCopyUpVersusBind: a new volume over the image's directory holds
// the image's files, owners and modes; a bind mount of an empty directory
// hides them; the image's layer is untouched either way.
func TestPrivCopyUpVersusBind(t *testing.T) {
	l := newTestLab(t)
	image, _ := lsLines(filepath.Join(l.Layers[1], appDir))
	app := l.mustStart(t, runOpts{Name: "app", Volumes: []string{"appdata:" + appDir}})
	if r := do(t, app, request{Op: "ls", Path: appDir}); !slices.Equal(r.Lines, image) {
		t.Errorf("inside, ls -ln %s = %q; want the image's %q", appDir, r.Lines, image)
	}
	if r := do(t, app, request{Op: "ls", Path: appDir + "/data"}); !slices.Equal(r.Lines, []string{"-rw-r----- 1000 1000 app.db"}) {
		t.Errorf("inside, ls -ln %s/data = %q; want app.db, owned by 1000", appDir, r.Lines)
	}
	do(t, app, request{Op: "write", Path: appDir + "/config.json", Data: "changed"})
	empty := l.path("host", "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	bound := l.mustStart(t, runOpts{Name: "bound", Volumes: []string{empty + ":" + appDir}})
	if r := do(t, bound, request{Op: "ls", Path: appDir}); len(r.Lines) != 0 || r.Err != "" {
		t.Errorf("inside, ls %s over an empty bind = %q, %q; want nothing", appDir, r.Lines, r.Err)
	}
	// A second container on the same volume: no second copy-up.
	again := l.mustStart(t, runOpts{Name: "again", Volumes: []string{"appdata:" + appDir}})
	if len(again.attached.Copied) != 0 {
		t.Errorf("the second mount of appdata copied again: %v", again.attached.Copied)
	}
	if r := do(t, again, request{Op: "cat", Path: appDir + "/config.json"}); r.Text != "changed" {
		t.Errorf("the second container reads config.json = %q; want app's change", r.Text)
	}
	if now, _ := lsLines(filepath.Join(l.Layers[1], appDir)); !slices.Equal(now, image) {
		t.Errorf("the image's layer changed: %q; was %q", now, image)
	}
	if b, _ := os.ReadFile(filepath.Join(l.Layers[1], appDir, "config.json")); string(b) == "changed" {
		t.Errorf("the write to the volume reached the image's layer")
	}
}

// TestPrivTmpfsLimitAndCharge: the tmpfs holds size= bytes and refuses
// more (ENOSPC); what is written is charged to the container's memory
// cgroup (shmem, and the usage with it) and freed when the container goes;
// the host's mount table never has it.
func TestPrivTmpfsLimitAndCharge(t *testing.T) {
	l := newTestLab(t, needMemoryCgroup)
	cg, err := l.memoryCgroup("cache")
	if err != nil {
		t.Fatal(err)
	}
	c := l.mustStart(t, runOpts{Name: "cache", Tmpfs: []string{"/cache:size=4m"}, Cgroup: cg})
	before, _ := shmem(cg)
	usage0, _ := cg.Stats()
	if r := do(t, c, request{Op: "fill", Path: "/cache/a", Size: 3 << 20}); r.Err != "" || r.N != 3<<20 {
		t.Fatalf("writing 3 MiB into a 4 MiB tmpfs: %d bytes, %q", r.N, r.Err)
	}
	after, _ := shmem(cg)
	usage1, _ := cg.Stats()
	if after-before != 3<<20 {
		t.Errorf("shmem rose by %d bytes; want %d, the tmpfs's pages", after-before, 3<<20)
	}
	// The usage counts the tmpfs's pages with the rest; other charges
	// come and go meanwhile (page cache, the child's own), so only this
	// holds exactly.
	if usage1.Memory.Usage < after {
		t.Errorf("memory usage %d -> %d; want at least the %d bytes of shmem in it", usage0.Memory.Usage, usage1.Memory.Usage, after)
	}
	r := do(t, c, request{Op: "fill", Path: "/cache/a", Size: 4 << 20})
	if r.Err != "no space left on device" || r.N != 1<<20 {
		t.Errorf("writing past size=4m: %d more bytes, %q; want 1 MiB, then ENOSPC", r.N, r.Err)
	}
	if slices.ContainsFunc(mountsUnder(l.Root), func(p string) bool { return strings.HasSuffix(p, "/cache") }) {
		t.Errorf("the container's tmpfs is in the host's mount table")
	}
	if _, err := l.remove(c, true); err != nil {
		t.Fatal(err)
	}
	if n, err := shmemFreed(cg); err != nil || n != 0 {
		t.Errorf("after the container went, shmem = %d, %v; want 0", n, err)
	}
}

// TestPrivPropagation: after the host mounts under a shared directory,
// only the rslave and rshared containers see the new mount.
func TestPrivPropagation(t *testing.T) {
	l := newTestLab(t)
	media := l.path("host", "media")
	if err := os.MkdirAll(filepath.Join(media, "usb"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := l.mountOnHost(mount.Mount{Source: media, Target: media, Flags: unix.MS_BIND},
		mount.Mount{Target: media, Flags: unix.MS_PRIVATE}, mount.Mount{Target: media, Flags: unix.MS_SHARED}); err != nil {
		t.Fatal(err)
	}
	modes := map[string]bool{"": false, ":rprivate": false, ":rslave": true, ":rshared": true, ":slave": true}
	ctrs := map[string]*container{}
	for mode := range modes {
		name := "c" + strings.TrimPrefix(mode, ":")
		ctrs[mode] = l.mustStart(t, runOpts{Name: name, Volumes: []string{media + ":/media" + mode}})
	}
	if _, err := l.mountOnHost(mount.Mount{Source: "usb", Target: filepath.Join(media, "usb"), Type: "tmpfs", Data: "size=1m"}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(media, "usb", "photo"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for mode, sees := range modes {
		r := do(t, ctrs[mode], request{Op: "ls", Path: "/media/usb"})
		if got := slices.Equal(names(r.Lines), []string{"photo"}); got != sees {
			t.Errorf("-v host/media:/media%s: ls /media/usb = %q; want the host's later mount seen: %v", mode, r.Lines, sees)
		}
	}
}

// TestPrivVolumeBypassesUnion: rewriting a volume's file leaves the upper
// dir as it was; rewriting an image file copies it up whole.
func TestPrivVolumeBypassesUnion(t *testing.T) {
	l := newTestLab(t)
	c := l.mustStart(t, runOpts{Name: "bench", Volumes: []string{"bench:/bench"}})
	if r := do(t, c, request{Op: "fill", Path: "/bench/big.bin", Size: bigSize}); r.Err != "" {
		t.Fatal(r.Err)
	}
	before, _ := findAll(c.Upper)
	if r := do(t, c, request{Op: "rewrite", Path: "/bench/big.bin"}); r.Err != "" {
		t.Fatal(r.Err)
	}
	if after, _ := findAll(c.Upper); !slices.Equal(after, before) || !slices.Equal(before, []string{"bench/"}) {
		t.Errorf("upper dir %q after rewriting the volume's file; was %q, only the mount point", after, before)
	}
	if r := do(t, c, request{Op: "rewrite", Path: bigFile}); r.Err != "" {
		t.Fatal(r.Err)
	}
	fi, err := os.Stat(filepath.Join(c.Upper, bigFile))
	if err != nil || fi.Size() != bigSize {
		t.Errorf("after rewriting the image's %s, the upper dir's copy: %v, %v; want all %d bytes", bigFile, fi, err, bigSize)
	}
}

// TestPrivBadInputLeavesNothing: a missing bind source, a bad volume name
// and a bad tmpfs size are each an error that names the flag, before
// anything is mounted, made or recorded.
func TestPrivBadInputLeavesNothing(t *testing.T) {
	l := newTestLab(t)
	for _, c := range []struct {
		o    runOpts
		want string
	}{
		{runOpts{Volumes: []string{"/scratch", l.path("host", "nope") + ":/x"}}, "-v " + l.path("host", "nope") + ":/x: bind source"},
		{runOpts{Volumes: []string{"/scratch", "data/x:/x"}}, `-v data/x:/x: "data/x" is not a valid volume name`},
		{runOpts{Volumes: []string{"/scratch", "../x:/x"}}, `-v ../x:/x: "../x" is not a valid volume name`},
		{runOpts{Volumes: []string{"/scratch", ".."}}, `-v ..: target ".." is not an absolute path`},
		{runOpts{Volumes: []string{"/scratch"}, Tmpfs: []string{"/t:size=lots"}}, `--tmpfs /t:size=lots: size "lots"`},
	} {
		c.o.Name = "bad"
		_, err := l.start(context.Background(), c.o)
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%s: %v; want an error starting %q", l.dockerRun(c.o), err, c.want)
		}
		if vs, _ := l.store.List(); len(vs) > 0 {
			t.Errorf("%s made volumes %v", l.dockerRun(c.o), vs)
		}
		if _, err := os.Lstat(l.path("containers", "bad")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s made the container's directory: %v", l.dockerRun(c.o), err)
		}
		if left := mountsUnder(l.Root); len(left) > 0 {
			t.Errorf("%s mounted %v", l.dockerRun(c.o), left)
		}
	}
}

// TestPrivHostileImageStaysInside: an image whose /data and /etc/hostname
// are symlinks to a directory of the host. Volumes on them go where the
// links lead inside the root, never onto the host: the bait is untouched,
// the new volume is not filled from it, and the container's writes land in
// the volume.
func TestPrivHostileImageStaysInside(t *testing.T) {
	for _, style := range []rootfstest.Style{rootfstest.Relative, rootfstest.Absolute} {
		t.Run(string(style), func(t *testing.T) {
			l := newTestLab(t)
			h := rootfstest.NewHostile(t, style, "/data", "/etc/hostname")
			l.Layers = []string{h.Root} // the hostile root is the image
			hostname := l.path("host", "hostname")
			if err := os.WriteFile(hostname, []byte("from the volume\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			c := l.mustStart(t, runOpts{Name: "hostile", Volumes: []string{"data:/data", hostname + ":/etc/hostname:ro"}})
			if len(c.attached.Copied) != 0 {
				t.Errorf("the volume on /data was filled from %v: the copy followed the link out", c.attached.Copied)
			}
			if r := do(t, c, request{Op: "write", Path: "/data/inside", Data: "x"}); r.Err != "" {
				t.Fatalf("write /data/inside: %s", r.Err)
			}
			if r := do(t, c, request{Op: "cat", Path: "/etc/hostname"}); r.Text != "from the volume" {
				t.Errorf("cat /etc/hostname inside = %q, %q; want the bound file", r.Text, r.Err)
			}
			if _, err := os.Stat(filepath.Join(c.attached.Volumes[0].Mountpoint, "inside")); err != nil {
				t.Errorf("the write to /data is not in the volume: %v", err)
			}
			for _, st := range c.Trace {
				if st.Path != "/" && !strings.HasPrefix(st.Path, c.Merged) && st.Op != mount.OpChdir && st.Op != mount.OpPivot {
					t.Errorf("trace: %q acted on %s, outside the root %s", st.Command, st.Path, c.Merged)
				}
			}
			h.CheckBaitUntouched(t)
		})
	}
}
