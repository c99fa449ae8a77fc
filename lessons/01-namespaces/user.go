//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/procfs"
	"github.com/unboxlab/unbox/internal/reexec"
)

// rootMappedTo is the host uid (and gid) that uid 0 inside maps to when the
// lesson runs as root: an unused, unprivileged ID, as /etc/subuid ranges are.
// Run by an unprivileged user, uid 0 maps to that user's own uid, the only
// mapping such a user may write (user_namespaces(7)).
const rootMappedTo = 100000

func init() { reexec.Register("user", userChild) }

type userInside struct {
	NS                string
	UID, GID          int
	UIDMap, GIDMap    string
	CapEff            string
	SethostnameDenied string // the error from trying to rename the host's UTS namespace
}

type userHost struct {
	NS       string
	ChildUID string // real uid of the child in /proc/<pid>/status
	FileUID  int    // owner of the file the child made
	FileGID  int
}

// userChild runs as uid 0 in a new user namespace.
func userChild(c *reexec.Conn) error {
	var dir string
	if err := c.Recv(&dir); err != nil {
		return err
	}
	v := userInside{UID: os.Getuid(), GID: os.Getgid()}
	var err error
	if v.NS, err = nsLink("self", "user"); err != nil {
		return err
	}
	v.UIDMap = readMap("/proc/self/uid_map")
	v.GIDMap = readMap("/proc/self/gid_map")
	v.CapEff = statusField("self", "CapEff")
	// Capabilities count only over what this user namespace owns; the UTS
	// namespace is still the host's.
	if err := unix.Sethostname([]byte("not-allowed")); err != nil {
		v.SethostnameDenied = err.Error()
	} else {
		return errors.New("sethostname worked from a user namespace: it should not")
	}
	if err := os.WriteFile(filepath.Join(dir, "made-inside"), nil, 0o644); err != nil {
		return err
	}
	if err := c.Send(v); err != nil {
		return err
	}
	return c.Recv(nil)
}

// readMap reads a uid_map or gid_map: "inside outside count" per line.
func readMap(path string) string {
	b, _ := os.ReadFile(path)
	return strings.Join(strings.Fields(string(b)), " ")
}

// statusField returns a field of /proc/<pid>/status, e.g. "Uid".
func statusField(pid, name string) string {
	st, _ := procfs.ReadStatus(pid)
	return st[name]
}

// outsideID is the host ID that uid/gid 0 inside maps to.
func outsideID(hostID int) int {
	if os.Geteuid() == 0 {
		return rootMappedTo
	}
	return hostID
}

func userDemo(ctx context.Context, dir string) (inside userInside, host userHost, err error) {
	c := reexec.NewChild("user")
	uid, gid := outsideID(os.Geteuid()), outsideID(os.Getegid())
	c.Cmd.SysProcAttr.Cloneflags = unix.CLONE_NEWUSER
	// Go writes these to /proc/<child>/uid_map and gid_map (after "deny" to
	// setgroups, which an unprivileged writer of gid_map must do) before the
	// child runs.
	c.Cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: uid, Size: 1}}
	c.Cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: gid, Size: 1}}
	// A new user namespace does not change who the process is: started by
	// root, it is still host uid 0, which the map does not cover, so inside
	// it would be the overflow uid 65534. Becoming uid 0 inside (setuid(0)
	// after the maps are written) makes it host uid 100000. setgroups(2) is
	// denied in the namespace, so Go must not call it.
	c.Cmd.SysProcAttr.Credential = &syscall.Credential{Uid: 0, Gid: 0, NoSetGroups: true}
	if err := c.Start(ctx); err != nil {
		return inside, host, err
	}
	defer c.Close()
	if err := c.Send(dir); err != nil {
		return inside, host, err
	}
	if err := c.Recv(&inside); err != nil {
		return inside, host, err
	}
	pid := fmt.Sprint(c.Pid())
	if host.NS, err = nsLink("self", "user"); err != nil {
		return inside, host, err
	}
	if f := strings.Fields(statusField(pid, "Uid")); len(f) > 0 {
		host.ChildUID = f[0]
	}
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(dir, "made-inside"), &st); err != nil {
		return inside, host, err
	}
	host.FileUID, host.FileGID = int(st.Uid), int(st.Gid)
	if err := c.Send(nil); err != nil {
		return inside, host, err
	}
	return inside, host, c.Wait()
}

func stepUser(s *kit.Session) error {
	// World-writable (with the sticky bit, like /tmp) so the child's mapped
	// uid may create a file in it.
	dir, err := makeDemoDir(s, "userns", 0o1777)
	if err != nil {
		return err
	}
	uid, gid := outsideID(os.Geteuid()), outsideID(os.Getegid())
	inside, host, err := userDemo(s.Ctx, dir)
	if err != nil {
		return err
	}
	s.Cmd("unshare --user sh &          # the child starts as the overflow uid, nobody\n"+
		"echo '0 %d 1' > /proc/<child>/uid_map\n"+
		"echo deny > /proc/<child>/setgroups; echo '0 %d 1' > /proc/<child>/gid_map\n"+
		"# the child: setuid(0); setgid(0)", uid, gid)
	s.Say("(The overflow uid, 65534 unless /proc/sys/kernel/overflowuid says otherwise, is what the\n" +
		"kernel shows for an ID that the namespace's map does not cover: before the map is written, all.)")
	s.Inside("%s  id: uid=%d gid=%d", inside.NS, inside.UID, inside.GID)
	s.Inside("cat /proc/self/uid_map: %s   gid_map: %s", inside.UIDMap, inside.GIDMap)
	s.Inside("CapEff: %s (every capability)", inside.CapEff)
	s.Inside("sethostname: %s", inside.SethostnameDenied)
	s.Inside("touch %s/made-inside", dir)
	s.Host("%s  the child's /proc/<pid>/status Uid: %s", host.NS, host.ChildUID)
	s.Host("ls -ln %s: made-inside is owned by %d:%d", dir, host.FileUID, host.FileGID)
	s.Note("Root inside, uid %d outside: the file it made belongs to %d on the host.\n"+
		"Its capabilities cover only namespaces this user namespace owns, so renaming the host\n"+
		"(a UTS namespace the host's user namespace owns) is refused.", uid, host.FileUID)
	s.Note("Docker does not do this by default: unless its daemon runs with --userns-remap, a container's\n" +
		"root is the host's uid 0, held back by dropped capabilities, seccomp and AppArmor or SELinux.\n" +
		"Rootless Podman, and Docker's rootless mode, do start every container in a user namespace.")
	return nil
}
