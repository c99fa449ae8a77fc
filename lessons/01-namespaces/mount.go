//go:build linux

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/procfs"
	"github.com/unboxlab/unbox/internal/reexec"
)

func init() {
	reexec.Register("mount", mountChild)
	reexec.Register("prop-host", propHost)
	reexec.Register("prop-peer", propPeer)
}

// mountView is what one side sees at the demo directory.
type mountView struct {
	NS          string
	Propagation string   // of /, after making it private (inside only)
	Mount       string   // "tmpfs on <dir> type tmpfs", or "" when not a mount point
	Files       []string // ls <dir>
}

// mountChild runs in a new mount namespace: private propagation first, then
// a tmpfs on the directory with a file in it.
func mountChild(c *reexec.Conn) error {
	var dir string
	if err := c.Recv(&dir); err != nil {
		return err
	}
	// The new namespace is a copy of the host's table, including each
	// mount's propagation type: a shared / (systemd's default) would carry
	// our mount back to the host. MS_REC|MS_PRIVATE is mount --make-rprivate.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("mount --make-rprivate /: %w", err)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size=1m"); err != nil {
		return fmt.Errorf("mount -t tmpfs tmpfs %s (MS_NOSUID|MS_NODEV): %w", dir, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "hello"), []byte("made inside\n"), 0o644); err != nil {
		return err
	}
	v, err := readMountView("self", dir)
	if err != nil {
		return err
	}
	if err := c.Send(v); err != nil {
		return err
	}
	return c.Recv(nil)
}

func readMountView(pid, dir string) (mountView, error) {
	var v mountView
	var err error
	if v.NS, err = nsLink(pid, "mnt"); err != nil {
		return v, err
	}
	ms, err := procfs.ReadMountinfo(pid)
	if err != nil {
		return v, err
	}
	if root, ok := procfs.Mounts(ms).At("/"); ok {
		v.Propagation = root.Propagation() // private, or shared:N, master:N
	}
	if m, ok := procfs.Mounts(ms).At(dir); ok {
		v.Mount = fmt.Sprintf("%s on %s type %s", m.Source, dir, m.Type)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return v, err
	}
	for _, e := range entries {
		v.Files = append(v.Files, e.Name())
	}
	return v, nil
}

func mountDemo(ctx context.Context, dir string) (inside, host mountView, err error) {
	c, err := start(ctx, "mount", unix.CLONE_NEWNS)
	if err != nil {
		return inside, host, err
	}
	defer c.Close()
	if err := c.Send(dir); err != nil {
		return inside, host, err
	}
	if err := c.Recv(&inside); err != nil {
		return inside, host, err
	}
	if host, err = readMountView("self", dir); err != nil {
		return inside, host, err
	}
	if err := c.Send(nil); err != nil {
		return inside, host, err
	}
	return inside, host, c.Wait()
}

// makeDemoDir creates an empty directory named for us under the temp dir and
// registers its removal.
func makeDemoDir(s *kit.Session, what string, perm os.FileMode) (string, error) {
	dir := filepath.Join(os.TempDir(), kit.UniqueName(what))
	if err := os.Mkdir(dir, perm); err != nil {
		return "", err
	}
	s.Cleanup(func() error { return os.RemoveAll(dir) })
	// Mkdir's mode passes through the umask; set it exactly.
	return dir, os.Chmod(dir, perm)
}

func stepMount(s *kit.Session) error {
	dir, err := makeDemoDir(s, "mnt", 0o755)
	if err != nil {
		return err
	}
	inside, host, err := mountDemo(s.Ctx, dir)
	if err != nil {
		return err
	}
	s.Cmd("unshare --mount sh\nmount --make-rprivate /")
	s.Inside("%s  propagation of /: %s", inside.NS, inside.Propagation)
	s.Cmd("mount -t tmpfs tmpfs %s && echo made inside > %s/hello", dir, dir)
	s.Inside("%s; ls: %s", inside.Mount, listing(s, inside.Files))
	s.Host("%s  %s", host.NS, notMounted(s, host, dir))
	s.Note("The mount exists only in the child's mount table; on the host the directory is still empty.\n" +
		"It goes away with the namespace when the child exits, with nothing to unmount.")
	return stepPropagation(s, dir)
}

// The second half of step 4 shows what the private propagation prevents,
// without risking the real host: a throw-away pair of mount namespaces. A
// stands in for a host whose mounts are shared (systemd makes / shared at
// boot): in its own namespace, private towards the real host, it mounts a
// tmpfs and makes it shared. B is a container started from A: a copy of A's
// mount table, with each mount's propagation (mount_namespaces(7)). A mount
// B makes under the shared one appears in A too, unless B makes its mounts
// private first.

// propReport is what A saw.
type propReport struct {
	HostProp   string // propagation of the shared tmpfs in A: "shared:N"
	PeerProp   string // the same mount as B's copy shows it
	Leaked     string // what A has at dir/leak after B mounted there, or ""
	LeakedStay string // and after B exited
	Kept       string // what A has at dir/kept after a B that went private first
}

type propPeerConfig struct {
	Target  string
	Private bool
}

// propHost is A.
func propHost(c *reexec.Conn) error {
	var dir string
	if err := c.Recv(&dir); err != nil {
		return err
	}
	// First of all: nothing A mounts may reach the real host.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("mount --make-rprivate /: %w", err)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size=1m"); err != nil {
		return fmt.Errorf("mount -t tmpfs tmpfs %s: %w", dir, err)
	}
	if err := unix.Mount("", dir, "", unix.MS_SHARED, ""); err != nil {
		return fmt.Errorf("mount --make-shared %s: %w", dir, err)
	}
	var r propReport
	var err error
	if r.HostProp, err = propagationAt(dir); err != nil {
		return err
	}
	leak, kept := filepath.Join(dir, "leak"), filepath.Join(dir, "kept")
	for _, d := range []string{leak, kept} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return err
		}
	}
	for _, cfg := range []propPeerConfig{{Target: leak}, {Target: kept, Private: true}} {
		peer := reexec.NewChild("prop-peer")
		peer.Cmd.SysProcAttr.Cloneflags = unix.CLONE_NEWNS
		if err := peer.Start(context.Background()); err != nil {
			return err
		}
		defer peer.Close()
		if err := peer.Send(cfg); err != nil {
			return err
		}
		var peerProp string
		if err := peer.Recv(&peerProp); err != nil {
			return err
		}
		seen := mountLine(cfg.Target)
		if err := peer.Send(nil); err != nil {
			return err
		}
		if err := peer.Wait(); err != nil {
			return err
		}
		if cfg.Private {
			r.Kept = seen
		} else {
			r.PeerProp, r.Leaked, r.LeakedStay = peerProp, seen, mountLine(cfg.Target)
		}
	}
	if err := c.Send(r); err != nil {
		return err
	}
	return c.Recv(nil)
}

// propPeer is B: it mounts a tmpfs at cfg.Target, with or without making
// its mounts private first, and reports the propagation its copy of the
// shared mount had.
func propPeer(c *reexec.Conn) error {
	var cfg propPeerConfig
	if err := c.Recv(&cfg); err != nil {
		return err
	}
	prop, err := propagationAt(filepath.Dir(cfg.Target))
	if err != nil {
		return err
	}
	if cfg.Private {
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			return fmt.Errorf("mount --make-rprivate /: %w", err)
		}
	}
	if err := unix.Mount("tmpfs", cfg.Target, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size=1m"); err != nil {
		return fmt.Errorf("mount -t tmpfs tmpfs %s: %w", cfg.Target, err)
	}
	if err := c.Send(prop); err != nil {
		return err
	}
	return c.Recv(nil)
}

// propagationAt is the propagation of the mount at dir, as
// /proc/self/mountinfo's optional fields say it: "shared:N", "master:N",
// or "private".
func propagationAt(dir string) (string, error) {
	ms, err := procfs.ReadMountinfo("self")
	if err != nil {
		return "", err
	}
	m, ok := procfs.Mounts(ms).At(dir)
	if !ok {
		return "", fmt.Errorf("%s is not a mount point", dir)
	}
	return m.Propagation(), nil
}

// mountLine is "tmpfs on <dir> type tmpfs" for a mount at dir, or "".
func mountLine(dir string) string {
	ms, err := procfs.ReadMountinfo("self")
	if err != nil {
		return ""
	}
	if m, ok := procfs.Mounts(ms).At(dir); ok {
		return fmt.Sprintf("%s on %s type %s", m.Source, dir, m.Type)
	}
	return ""
}

func propagationDemo(ctx context.Context, dir string) (propReport, error) {
	var r propReport
	c, err := start(ctx, "prop-host", unix.CLONE_NEWNS)
	if err != nil {
		return r, err
	}
	defer c.Close()
	if err := c.Send(dir); err != nil {
		return r, err
	}
	if err := c.Recv(&r); err != nil {
		return r, err
	}
	if err := c.Send(nil); err != nil {
		return r, err
	}
	return r, c.Wait()
}

func stepPropagation(s *kit.Session, dir string) error {
	r, err := propagationDemo(s.Ctx, dir)
	if err != nil {
		return err
	}
	if r.Leaked == "" || r.Kept != "" || r.PeerProp != r.HostProp {
		return fmt.Errorf("propagation did not behave as mount_namespaces(7) says: B's mount in A %q, "+
			"after a private B %q; peer groups %s and %s", r.Leaked, r.Kept, r.HostProp, r.PeerProp)
	}
	seen := func(mount string) string {
		if mount == "" {
			return s.T("not a mount point")
		}
		return mount
	}
	s.Cmd("# what goes wrong when propagation is left shared, in a throw-away pair of namespaces:\n"+
		"unshare --mount sh    # A: it stands in for a host whose mounts are shared, as systemd's are\n"+
		"mount -t tmpfs tmpfs %s && mount --make-shared %s", dir, dir)
	s.Show("A: propagation of %s: %s", dir, r.HostProp)
	s.Cmd("unshare --mount --propagation unchanged sh    # B: a container started from A, not private\n"+
		"mount -t tmpfs tmpfs %s/leak", dir)
	s.Show("B: its copy of %s: %s, the same peer group as A's", dir, r.PeerProp)
	s.Show("A: %s", seen(r.Leaked))
	s.Show("A, once B has exited: %s", seen(r.LeakedStay))
	s.Cmd("unshare --mount sh    # B again, private this time (unshare's default)\n"+
		"mount -t tmpfs tmpfs %s/kept", dir)
	s.Show("A: %s/kept: %s", dir, seen(r.Kept))
	s.Note("shared:N in mountinfo names a peer group: its mounts receive each other's mounts and unmounts.\n" +
		"A new mount namespace copies the table with each mount's peer group, so a container that does\n" +
		"not make its mounts private first mounts into the host too, and its mounts outlive it there.\n" +
		"(This host's real / was never touched: A made its own mounts private before anything else.)")
	return nil
}

func notMounted(s *kit.Session, v mountView, dir string) string {
	if v.Mount != "" {
		return s.T("%s; ls: %s", v.Mount, listing(s, v.Files))
	}
	return s.T("%s is not a mount point here; ls: %s", dir, listing(s, v.Files))
}

func listing(s *kit.Session, files []string) string {
	if len(files) == 0 {
		return s.T("(empty)")
	}
	return strings.Join(files, " ")
}
