package k8s

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/cgroups"
	"github.com/unboxlab/unbox/internal/procfs"
	"github.com/unboxlab/unbox/internal/reexec"
)

// nodeStage is the re-exec'd child that becomes containerd. It is born in
// a mount, a network and an IPC namespace of its own (CLONE_NEWNS,
// CLONE_NEWNET, CLONE_NEWIPC: what a pod with hostNetwork or hostIPC
// shares is the node's, not the host's).
// In the mount namespace, / receives the host's mounts but sends none back
// (MS_SLAVE), and is shared within the namespace (MS_SHARED: containerd
// refuses an rshared volume whose mount is not shared), and the
// directories below get a tmpfs each; in the network namespace, lo comes
// up and nothing else is there. Then it tells the parent and execs
// containerd (mount_namespaces(7), "Shared subtrees"; network_namespaces(7)).
const nodeStage = "k8s-node"

// privateDirs are where containerd 1.6 and CNI write whatever their
// configuration says: /run for the shims' sockets (/run/containerd/s),
// the runtimes' state (/run/containerd/runc) and the pods' network
// namespaces (/run/netns); /var/lib for libcni's cache of results
// (/var/lib/cni), which containerd's CRI plugin gives no setting. Nothing
// else the node runs reads /var/lib: its root and state are in its own
// directory.
var privateDirs = []string{"/run", "/var/lib"}

// execStage runs a program (crictl, critest) in the node's mount, network
// and IPC namespaces: args are containerd's PID, the working directory,
// then the program and its arguments.
const execStage = "k8s-node-exec"

func init() {
	reexec.Register(nodeStage, func(c *reexec.Conn) error {
		if len(c.Args) != 1 {
			return fmt.Errorf("%s: want the configuration's path", nodeStage)
		}
		for _, flags := range []uintptr{unix.MS_REC | unix.MS_SLAVE, unix.MS_REC | unix.MS_SHARED} {
			if err := unix.Mount("", "/", "", flags, ""); err != nil {
				return fmt.Errorf("mount --make-r%s /: %w", map[uintptr]string{unix.MS_SLAVE: "slave", unix.MS_SHARED: "shared"}[flags&^unix.MS_REC], err)
			}
		}
		for _, dir := range privateDirs {
			if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=755"); err != nil {
				return fmt.Errorf("mount -t tmpfs tmpfs %s: %w", dir, err)
			}
		}
		lo, err := netlink.LinkByName("lo")
		if err == nil {
			err = netlink.LinkSetUp(lo)
		}
		if err != nil {
			return fmt.Errorf("ip link set lo up: %w", err)
		}
		if err := c.Send("ready"); err != nil {
			return err
		}
		return c.Exec([]string{"containerd", "--config", c.Args[0]}, os.Environ())
	})
	// The stage's main goroutine is locked to its thread (internal/reexec):
	// setns(2) moves that thread, and exec takes the process along. A
	// mount namespace is joined only by a thread with a filesystem context
	// of its own (unshare CLONE_FS first: setns(2), EINVAL), and the working
	// directory is taken again by name once in it. The program is opened
	// before, and executed through its descriptor: it may be in a directory
	// the node's tmpfs covers (/var/lib/unbox/cache).
	reexec.Register(execStage, func(c *reexec.Conn) error {
		if len(c.Args) < 3 {
			return fmt.Errorf("%s: want a PID, a directory and a program", execStage)
		}
		prog, err := os.Open(c.Args[2])
		if err != nil {
			return err
		}
		defer prog.Close()
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			return fmt.Errorf("unshare CLONE_FS: %w", err)
		}
		for _, ns := range []struct {
			name string
			flag int
		}{{"net", unix.CLONE_NEWNET}, {"ipc", unix.CLONE_NEWIPC}, {"mnt", unix.CLONE_NEWNS}} {
			path := "/proc/" + c.Args[0] + "/ns/" + ns.name
			fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				return err
			}
			err = unix.Setns(fd, ns.flag)
			unix.Close(fd)
			if err != nil {
				return fmt.Errorf("setns %s: %w", path, err)
			}
		}
		if err := unix.Chdir(c.Args[1]); err != nil {
			return fmt.Errorf("cd %s: %w", c.Args[1], err)
		}
		argv := append([]string{fmt.Sprintf("/proc/self/fd/%d", prog.Fd())}, c.Args[3:]...)
		return c.Exec(argv, os.Environ())
	})
}

// Node is a containerd with the CRI plugin, started by [StartNode].
type Node struct {
	NodeConfig
	child  *reexec.Child
	mntNS  string // containerd's mount namespace, /proc/<pid>/ns/mnt
	exited chan error
}

// StartNode writes the node's configuration into cfg.Dir and starts
// containerd with it, in its own mount namespace; it returns once
// containerd serves its socket. Pods get addresses from subnet. Stop stops
// it and removes what it left.
func StartNode(ctx context.Context, cfg NodeConfig, subnet string) (_ *Node, err error) {
	conf, err := cfg.ContainerdConfig()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(cfg.Dir, "cni"), 0o755); err != nil {
		return nil, err
	}
	files := map[string]string{
		"config.toml":               conf,
		"cni/10-unbox-cri.conflist": cfg.CNIConfig(subnet),
		"containerd.log":            "",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(cfg.Dir, name), []byte(text), 0o644); err != nil {
			return nil, err
		}
	}
	log, err := os.OpenFile(filepath.Join(cfg.Dir, "containerd.log"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return nil, err
	}
	defer log.Close()
	n := &Node{NodeConfig: cfg, exited: make(chan error, 1)}
	n.child = reexec.NewChild(nodeStage, filepath.Join(cfg.Dir, "config.toml"))
	n.child.Cmd.SysProcAttr.Cloneflags = unix.CLONE_NEWNS | unix.CLONE_NEWNET | unix.CLONE_NEWIPC
	n.child.Cmd.Stdout, n.child.Cmd.Stderr = log, log
	// Its own process group: a terminal's ^C goes to the caller, which
	// stops the node in order.
	n.child.Cmd.SysProcAttr.Setpgid = true
	if err := n.child.Start(context.Background()); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, n.Stop())
		}
	}()
	if err := n.child.Recv(nil); err != nil {
		return n, err
	}
	go func() { n.exited <- n.child.Wait() }()
	if n.mntNS, err = os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", n.child.Pid())); err != nil {
		return n, err
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-n.exited:
			n.exited <- err
			return n, fmt.Errorf("containerd exited (%v); its log:\n%s", err, n.Log())
		default:
		}
		if c, err := net.Dial("unix", cfg.Socket()); err == nil {
			c.Close()
			return n, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return n, fmt.Errorf("containerd did not serve %s within a minute; its log:\n%s", cfg.Socket(), n.Log())
		}
	}
}

// PID is containerd's.
func (n *Node) PID() int { return n.child.Pid() }

// Log is what containerd has written to its log.
func (n *Node) Log() string {
	b, _ := os.ReadFile(filepath.Join(n.Dir, "containerd.log"))
	return string(b)
}

// Stop stops containerd (SIGTERM, then SIGKILL after ten seconds), then
// kills by PID every process left in its mount namespace (a shim whose
// pods were not removed, a tool still running), and waits until none is:
// the namespaces go with the last of them, and with them the tmpfs, the
// bridge and the pods' network namespaces. The caller removes pods first
// (crictl rmp -fa): Stop is the safety net.
func (n *Node) Stop() error {
	var errs []error
	if n.child != nil && n.child.Cmd.Process != nil {
		_ = n.child.Cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-n.exited:
		case <-time.After(10 * time.Second):
			_ = n.child.Cmd.Process.Kill()
			<-n.exited
		}
	}
	if n.mntNS != "" {
		deadline := time.Now().Add(10 * time.Second)
		for {
			left := n.processes()
			if len(left) == 0 {
				break
			}
			if time.Now().After(deadline) {
				errs = append(errs, fmt.Errorf("processes of the node still there 10s after SIGKILL: %v", left))
				break
			}
			for _, pid := range left {
				_ = unix.Kill(pid, unix.SIGKILL)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return errors.Join(errs...)
}

// processes are those in the node's mount namespace: containerd and the
// shims it started (a container's processes are in mount namespaces of
// their own, and go with their shim's cgroup kill or with the pod).
func (n *Node) processes() []int {
	pids, _ := procfs.PIDs()
	var out []int
	for _, pid := range pids {
		if ns, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/mnt"); err == nil && ns == n.mntNS && pid != os.Getpid() {
			out = append(out, pid)
		}
	}
	return out
}

// Command is a program to run in the node's mount, network and IPC
// namespaces, in the working directory dir: as a re-exec'd child of this
// program, so the caller must serve internal/reexec (kittest.Main does).
// Start it with Start(ctx) and end with Wait or Close.
func (n *Node) Command(dir, name string, args ...string) *reexec.Child {
	return reexec.NewChild(execStage, append([]string{strconv.Itoa(n.PID()), dir, name}, args...)...)
}

// Ctr runs containerd's ctr against the node, in the CRI's namespace
// (k8s.io), and returns its combined output.
func (n *Node) Ctr(ctx context.Context, args ...string) (string, error) {
	return run(ctx, "ctr", append([]string{"--address", n.Socket(), "--namespace", "k8s.io"}, args...)...)
}

// ImportImages writes the images to an archive in the node's directory
// and imports it.
func (n *Node) ImportImages(ctx context.Context, images ...Image) error {
	archive := filepath.Join(n.Dir, "images.tar")
	if err := WriteArchive(ctx, archive, filepath.Join(n.Dir, "images"), images...); err != nil {
		return err
	}
	if out, err := n.Ctr(ctx, "images", "import", archive); err != nil {
		return fmt.Errorf("ctr images import %s: %w\n%s", archive, err, out)
	}
	return nil
}

// run runs a program and returns its combined output; a non-zero exit is
// an error that carries it.
func run(ctx context.Context, name string, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return string(out), nil
}

// CanLowerOOMScoreAdj reports whether this process may lower an
// oom_score_adj: it has CAP_SYS_RESOURCE (capabilities(7), proc(5)).
func CanLowerOOMScoreAdj() bool {
	status, err := procfs.ReadStatus("self")
	if err != nil {
		return false
	}
	eff, err := strconv.ParseUint(status["CapEff"], 16, 64)
	return err == nil && eff&(1<<unix.CAP_SYS_RESOURCE) != 0
}

// RemoveCgroupTree removes the cgroup name (/unbox-cri-123), and
// everything below it, from every hierarchy: runc makes its cgroups in all
// the v1 hierarchies it knows, unbox-runtime in those it uses, and both
// leave the pods' parents to the kubelet, which the tests and bench/cri
// stand in for. What is still inside is killed first, by PID, and named in
// the error: the pods should have been removed before.
func RemoveCgroupTree(name string) error {
	dirs, _ := filepath.Glob(cgroups.DefaultRoot + "/*" + name)
	dirs = append(dirs, cgroups.DefaultRoot+name)
	var errs []error
	for _, d := range dirs {
		if _, err := os.Stat(d); err != nil {
			continue
		}
		var tree []string
		_ = filepath.WalkDir(d, func(p string, e os.DirEntry, err error) error {
			if err == nil && e.IsDir() {
				tree = append(tree, p)
			}
			return nil
		})
		for i := len(tree) - 1; i >= 0; i-- {
			if b, err := os.ReadFile(tree[i] + "/cgroup.procs"); err == nil && strings.TrimSpace(string(b)) != "" {
				errs = append(errs, fmt.Errorf("processes left in %s: %s", tree[i], strings.Fields(string(b))))
				for _, f := range strings.Fields(string(b)) {
					if pid, err := strconv.Atoi(f); err == nil {
						_ = unix.Kill(pid, unix.SIGKILL)
					}
				}
				time.Sleep(100 * time.Millisecond)
			}
			if err := os.Remove(tree[i]); err != nil {
				errs = append(errs, fmt.Errorf("rmdir %s: %w", tree[i], err))
			}
		}
	}
	return errors.Join(errs...)
}
