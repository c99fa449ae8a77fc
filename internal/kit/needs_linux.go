package kit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/overlay"
	"github.com/unboxlab/unbox/internal/reexec"
	"github.com/unboxlab/unbox/internal/rootfs"
)

// NeedNamespace is a kernel that supports the namespace kind ("uts", "pid",
// "mnt", "ipc", "net", "user", "cgroup"), as listed in /proc/self/ns.
func NeedNamespace(kind string) Need {
	return Need{
		Name: kind + " namespace",
		Check: func() error {
			if _, err := os.Lstat("/proc/self/ns/" + kind); err != nil {
				return fmt.Errorf("no /proc/self/ns/%s: kernel built without it", kind)
			}
			return nil
		},
		Fix: "a kernel with namespaces (any current distribution kernel); use the Vagrant VM",
	}
}

// NeedNamespaces is NeedNamespace for each kind.
func NeedNamespaces(kinds ...string) []Need {
	out := make([]Need, len(kinds))
	for i, k := range kinds {
		out[i] = NeedNamespace(k)
	}
	return out
}

// NeedUserNS is being allowed to create a user namespace as the current
// user. Distributions switch this off for unprivileged users in different
// ways, so the check does not guess from sysctls: it starts a child in a new
// user namespace and sees whether the kernel lets it.
var NeedUserNS = Need{
	Name:  "user namespaces",
	Check: func() error { userNSOnce.Do(func() { userNSErr = probeUserNS() }); return userNSErr },
	Fix:   "run it as root, or allow them: sudo sysctl -w kernel.unprivileged_userns_clone=1 (Debian) or kernel.apparmor_restrict_unprivileged_userns=0 (Ubuntu 24.04)",
}

var (
	userNSOnce sync.Once
	userNSErr  error
)

func init() { reexec.Register("kit-probe", func(*reexec.Conn) error { return nil }) }

func probeUserNS() error {
	c := reexec.NewChild("kit-probe")
	c.Cmd.Stderr = nil
	c.Cmd.SysProcAttr.Cloneflags = unix.CLONE_NEWUSER
	c.Cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}}
	c.Cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		return userNSReason(err)
	}
	defer c.Close()
	if err := c.Wait(); err != nil {
		return userNSReason(err)
	}
	return nil
}

// userNSReason names the switch that is off, where we can tell.
func userNSReason(err error) error {
	for _, s := range []struct{ file, off, why string }{
		{"/proc/sys/kernel/unprivileged_userns_clone", "0", "kernel.unprivileged_userns_clone=0"},
		{"/proc/sys/kernel/apparmor_restrict_unprivileged_userns", "1", "AppArmor restricts them (kernel.apparmor_restrict_unprivileged_userns=1)"},
		{"/proc/sys/user/max_user_namespaces", "0", "user.max_user_namespaces=0"},
	} {
		if b, rerr := os.ReadFile(s.file); rerr == nil && strings.TrimSpace(string(b)) == s.off {
			return fmt.Errorf("not allowed: %s", s.why)
		}
	}
	if errors.Is(err, syscall.EPERM) {
		return errors.New("not allowed for this user")
	}
	return fmt.Errorf("not available: %w", err)
}

// NeedOverlay is a kernel that can mount overlayfs. The filesystem is
// usually a module loaded on first use, so a missing line in
// /proc/filesystems is not the end: as root we try one real mount, as
// containerd's overlay snapshotter does before trusting it.
var NeedOverlay = Need{
	Name:  "overlayfs",
	Check: func() error { overlayOnce.Do(func() { overlayErr = probeOverlay() }); return overlayErr },
	Fix:   "a kernel with CONFIG_OVERLAY_FS (sudo modprobe overlay); use the Vagrant VM",
}

var (
	overlayOnce sync.Once
	overlayErr  error
)

func probeOverlay() error {
	if b, err := os.ReadFile("/proc/filesystems"); err == nil && strings.Contains(string(b), "\toverlay\n") {
		return nil
	}
	if os.Geteuid() != 0 {
		return errors.New("not in /proc/filesystems (may be a module that loads on first mount, which needs root)")
	}
	return trialOverlayMount()
}

// trialOverlayMount is the overlay package's probe in the temp dir: one
// real mount, which also makes the kernel load the module if it can.
func trialOverlayMount() error { return overlay.Probe(os.TempDir()) }

// NeedStaticBusybox is a statically linked busybox on the host, which the
// root filesystem fixture prefers. Only tests of that path need it; the
// fixture itself falls back to the host's own tools.
var NeedStaticBusybox = Need{
	Name: "static busybox",
	Check: func() error {
		_, err := rootfs.FindStaticBusybox()
		return err
	},
	Fix: "sudo apt-get install busybox-static",
}
