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

func init() { reexec.Register("mount", mountChild) }

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
	s.Inside("%s; ls: %s", inside.Mount, listing(inside.Files))
	s.Host("%s  %s", host.NS, notMounted(host, dir))
	s.Note("The mount exists only in the child's mount table; on the host the directory is still empty.\n" +
		"It goes away with the namespace when the child exits, with nothing to unmount.")
	return nil
}

func notMounted(v mountView, dir string) string {
	if v.Mount != "" {
		return v.Mount + "; ls: " + listing(v.Files)
	}
	return fmt.Sprintf("%s is not a mount point here; ls: %s", dir, listing(v.Files))
}

func listing(files []string) string {
	if len(files) == 0 {
		return "(empty)"
	}
	return strings.Join(files, " ")
}
