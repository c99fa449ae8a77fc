//go:build linux

package main

// A container of this lesson is a re-exec'd copy of the lesson (lesson 01's
// pattern), born inside a network namespace that exists before it, as an
// OCI runtime starts a container in the namespace its engine prepared. It
// also gets a mount namespace, so its /etc/resolv.conf and /etc/hosts can
// be its own, and a UTS namespace for its hostname. Then it serves: a TCP
// server on port 80 that answers each connection with one line, "a saw
// 10.66.0.3", naming the address the connection came from, which is how
// every step shows what NAT did; and requests from the lesson, over the
// inherited socket, to connect somewhere or to look a name up.

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/network"
	"github.com/unboxlab/unbox/internal/reexec"
)

func init() { reexec.Register("net-container", containerInit) }

// containerConfig is what the lesson sends a new container.
type containerConfig struct {
	Name string
	// Files are bind-mounted over the container's own view of /etc:
	// target → source.
	Files map[string]string
	// Dir is the container's directory on the host (the sources are in
	// it), where it may make mount points of its own.
	Dir string
}

// writeEtc writes a container's /etc/hostname, /etc/hosts and
// /etc/resolv.conf into dir, as a runtime writes them when it creates a
// container, and returns the configuration that binds them in.
func writeEtc(dir, name string, addr, nameserver netip.Addr) (containerConfig, error) {
	cfg := containerConfig{Name: name, Dir: dir, Files: map[string]string{}}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return cfg, err
	}
	for target, content := range map[string]string{
		"/etc/hostname":    name + "\n",
		"/etc/hosts":       network.HostsFile(addr, name),
		"/etc/resolv.conf": network.ResolvConf(nameserver),
	} {
		src := filepath.Join(dir, filepath.Base(target))
		if err := os.WriteFile(src, []byte(content), 0o644); err != nil {
			return cfg, err
		}
		cfg.Files[target] = src
	}
	return cfg, nil
}

// request is one thing the lesson asks a container to do.
type request struct {
	Op   string // "dial", "lookup", "cat", "exit"
	Addr string // dial: host:port
	Name string // lookup: a name; cat: a path
}

type reply struct {
	Text string
	Err  string
}

func containerInit(c *reexec.Conn) error {
	cfg, err := setUpContainer(c)
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp4", ":80")
	if err != nil {
		return fmt.Errorf("listen on :80: %w", err)
	}
	go serveLines(l, cfg.Name)
	if err := c.Send(reply{}); err != nil {
		return err
	}
	for {
		var req request
		if err := c.Recv(&req); err != nil {
			return nil // the lesson has gone: so do we
		}
		if req.Op == "exit" {
			return nil
		}
		text, err := handle(req)
		r := reply{Text: text}
		if err != nil {
			r.Err = err.Error()
		}
		if err := c.Send(r); err != nil {
			return err
		}
	}
}

// setUpContainer receives the container's configuration and applies it:
// its hostname, and its files over /etc.
func setUpContainer(c *reexec.Conn) (containerConfig, error) {
	var cfg containerConfig
	if err := c.Recv(&cfg); err != nil {
		return cfg, err
	}
	if err := unix.Sethostname([]byte(cfg.Name)); err != nil {
		return cfg, fmt.Errorf("sethostname: %w", err)
	}
	return cfg, enterFiles(cfg)
}

// enterFiles makes the container's mount namespace private, then binds each
// file over its target, as Docker binds /etc/resolv.conf, /etc/hosts and
// /etc/hostname into every container.
func enterFiles(cfg containerConfig) error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("mount --make-rprivate /: %w", err)
	}
	for target := range cfg.Files {
		if _, err := os.Stat(target); err != nil {
			if err := etcWithRoomFor(cfg); err != nil {
				return err
			}
			break
		}
	}
	for target, source := range cfg.Files {
		if err := unix.Mount(source, target, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("mount --bind %s %s: %w", source, target, err)
		}
	}
	return nil
}

// etcWithRoomFor gives the container an /etc in which every file of cfg
// exists to be bound over, for a host that lacks one (a minimal VM has no
// /etc/resolv.conf): the host's /etc is bound aside into the container's
// directory, a tmpfs covers /etc, and it holds a symbolic link to each of
// the host's entries plus an empty file for each missing one. All of it is
// in the container's own mount namespace; the host's /etc is not written.
func etcWithRoomFor(cfg containerConfig) error {
	aside := filepath.Join(cfg.Dir, "host-etc")
	if err := os.MkdirAll(aside, 0o755); err != nil {
		return err
	}
	if err := unix.Mount("/etc", aside, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("mount --rbind /etc %s: %w", aside, err)
	}
	if err := unix.Mount("tmpfs", "/etc", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=755"); err != nil {
		return fmt.Errorf("mount -t tmpfs tmpfs /etc: %w", err)
	}
	entries, err := os.ReadDir(aside)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.Symlink(filepath.Join(aside, e.Name()), filepath.Join("/etc", e.Name())); err != nil {
			return err
		}
	}
	for target := range cfg.Files {
		os.Remove(target) // a link to the host's copy, if there was one
		if err := os.WriteFile(target, nil, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// serveLines answers every connection with "NAME saw ADDRESS".
func serveLines(l net.Listener, name string) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		remote, _ := netip.ParseAddrPort(c.RemoteAddr().String())
		fmt.Fprintf(c, "%s saw %s\n", name, remote.Addr())
		c.Close()
	}
}

func handle(req request) (string, error) {
	switch req.Op {
	case "dial":
		return dialLine(req.Addr)
	case "lookup":
		// The pure-Go resolver reads this container's /etc/resolv.conf,
		// the file bound over the host's; ndots:0 there sends "db" as is.
		r := &net.Resolver{PreferGo: true}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		addrs, err := r.LookupHost(ctx, req.Name)
		return strings.Join(addrs, " "), err
	case "cat":
		b, err := os.ReadFile(req.Name)
		return string(b), err
	}
	return "", fmt.Errorf("unknown request %q", req.Op)
}

// dialLine connects to addr and returns the line the server sends.
func dialLine(addr string) (string, error) {
	c, err := net.DialTimeout("tcp4", addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

// container is the lesson's side of one container.
type container struct {
	name  string
	ns    *network.NetNS
	child *reexec.Child
}

// startContainer starts a container in ns, with files bound over its /etc.
// The child is started from a thread that has joined ns (NetNS.Do), so it
// is born there, all its threads with it: an `ip netns exec`.
func startContainer(ctx context.Context, ns *network.NetNS, cfg containerConfig) (*container, error) {
	name := cfg.Name
	child := reexec.NewChild("net-container", name)
	child.Cmd.SysProcAttr.Cloneflags = unix.CLONE_NEWNS | unix.CLONE_NEWUTS
	if err := ns.Do(func() error { return child.Start(ctx) }); err != nil {
		return nil, fmt.Errorf("start container %s: %w", name, err)
	}
	c := &container{name: name, ns: ns, child: child}
	if err := child.Send(cfg); err != nil {
		c.stop()
		return nil, err
	}
	if err := child.Recv(nil); err != nil {
		c.stop()
		return nil, err
	}
	return c, nil
}

func (c *container) do(req request) (string, error) {
	if err := c.child.Send(req); err != nil {
		return "", err
	}
	var r reply
	if err := c.child.Recv(&r); err != nil {
		return "", err
	}
	if r.Err != "" {
		return r.Text, fmt.Errorf("%s", r.Err)
	}
	return r.Text, nil
}

// dial has the container connect to addr; the result is the server's line,
// or what went wrong, as text for the transcript.
func (c *container) dial(addr string) string {
	line, err := c.do(request{Op: "dial", Addr: addr})
	if err != nil {
		return "error: " + shortErr(err)
	}
	return line
}

// stop ends the container: a polite exit, then SIGKILL if need be.
func (c *container) stop() {
	_ = c.child.Send(request{Op: "exit"})
	done := make(chan struct{})
	go func() { c.child.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	}
	c.child.Close()
}

// shortErr keeps the part of a network error a person reads: "connect:
// network is unreachable" rather than the whole chain of addresses.
func shortErr(err error) string {
	s := err.Error()
	for _, tail := range []string{"connect: ", "i/o timeout", "no such host"} {
		if i := strings.Index(s, tail); i >= 0 {
			return s[i:]
		}
	}
	return s
}

// dialFrom connects from the lesson's own process (the host's network
// namespace, or ns when given) and returns the server's line or the error.
func dialFrom(ns *network.NetNS, addr string) string {
	var line string
	do := func() (err error) { line, err = dialLine(addr); return err }
	var err error
	if ns == nil {
		err = do()
	} else {
		err = ns.Do(do)
	}
	if err != nil {
		return "error: " + shortErr(err)
	}
	return line
}
