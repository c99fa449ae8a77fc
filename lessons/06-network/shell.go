//go:build linux

package main

// --shell: a shell in a container on a network that the capstone's own
// code builds in one call per object (network.Store), next to a container
// "web" (alias www) whose port 80 is published on the host's 8080.

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/network"
	"github.com/unboxlab/unbox/internal/reexec"
)

func init() { reexec.Register("net-shell", shellInit) }

// shellInit sets the container up as containerInit does, then becomes the
// host's shell.
func shellInit(c *reexec.Conn) error {
	cfg, err := setUpContainer(c)
	if err != nil {
		return err
	}
	env := append(os.Environ(), "PS1="+cfg.Name+"# ")
	return c.Exec([]string{"/bin/sh"}, env)
}

func shell(s *kit.Session) error {
	if err := removeLeftovers(s, shellNames); err != nil {
		return err
	}
	dir := filepath.Join(os.TempDir(), kit.UniqueName("lesson06-shell"))
	store, err := network.OpenStore(dir, shellNames.table)
	if err != nil {
		return err
	}
	store.Pool = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 66, 0, 0}), 16)
	var cmds []string
	store.Trace = func(cmd string) { cmds = append(cmds, cmd) }

	var stops []func() error
	s.Cleanup(func() error {
		var errs []error
		for i := len(stops) - 1; i >= 0; i-- {
			errs = append(errs, stops[i]())
		}
		return errors.Join(append(errs, os.RemoveAll(dir))...)
	})

	n, err := store.Create(network.Network{Name: "lesson06", Bridge: shellNames.link + "br"})
	if err != nil {
		return err
	}
	stops = append(stops, func() error { return store.Remove(n.Name) })
	nss := map[string]*network.NetNS{}
	for _, name := range []string{"web", "shell"} {
		ns, err := network.NamedNetNS(network.NetNSDir, shellNames.ns+name)
		if err != nil {
			return err
		}
		cmds = append(cmds, network.AddNetNS{NS: ns}.Command())
		if err := network.CreateNetNS(ns); err != nil {
			return err
		}
		stops = append(stops, func() error { return network.DeleteNetNS(ns) })
		nss[name] = ns
	}
	port := network.PortMapping{HostPort: uint16(s.Flags.Uint("host-port")), ContainerPort: 80, Proto: "tcp"}
	web, err := store.Connect(n.Name, network.Endpoint{Name: "web", Aliases: []string{"www"}, NetNS: nss["web"].Path,
		HostLink: shellNames.link + "web", Ports: []network.PortMapping{port}})
	if err != nil {
		return err
	}
	stops = append(stops, func() error { return store.Disconnect(n.Name, "web") })
	sh, err := store.Connect(n.Name, network.Endpoint{Name: "shell", NetNS: nss["shell"].Path, HostLink: shellNames.link + "shell"})
	if err != nil {
		return err
	}
	stops = append(stops, func() error { return store.Disconnect(n.Name, "shell") })

	webCfg, err := writeEtc(filepath.Join(dir, "web"), "web", web.Addr, n.Gateway)
	if err != nil {
		return err
	}
	webCtr, err := startContainer(s.Ctx, nss["web"], webCfg)
	if err != nil {
		return err
	}
	stops = append(stops, func() error { webCtr.stop(); return nil })

	// Names for the shell; other names go to the host's own resolvers.
	upstreams, _ := network.Upstreams("/etc/resolv.conf")
	resolver := &network.DNSServer{Records: store.Records(n.Name), Upstreams: upstreams}
	if err := resolver.Listen(netip.AddrPortFrom(n.Gateway, 53).String()); err != nil {
		return err
	}
	stops = append(stops, resolver.Close)

	num := len(s.Lesson.Steps) + 1
	s.Step(num, num, "A shell in a container on a network the capstone's code built",
		s.T("network.Store made the network and connected two containers, web (alias www, -p %d:80) and\n"+
			"shell, in one call each; this is every command it ran. Try: ip addr; ip route;\n"+
			"cat /etc/resolv.conf; getent hosts web www (or nslookup web, where the host's NSS asks\n"+
			"systemd-resolved instead of resolv.conf); nc web 80. Type exit to leave.", port.HostPort))
	printCmds(s, cmds)
	s.Cmd("ip netns exec %s unshare --mount --uts sh    # you are here: %s", nss["shell"].Name, sh.Addr)

	shellCfg, err := writeEtc(filepath.Join(dir, "shell"), "shell", sh.Addr, n.Gateway)
	if err != nil {
		return err
	}
	child := reexec.NewChild("net-shell")
	child.Cmd.SysProcAttr.Cloneflags = unix.CLONE_NEWNS | unix.CLONE_NEWUTS
	child.Cmd.Stdin, child.Cmd.Stdout, child.Cmd.Stderr = s.In, s.Out, s.Err
	err = s.Foreground(func() error {
		if err := nss["shell"].Do(func() error { return child.Start(s.Ctx) }); err != nil {
			return err
		}
		defer child.Close()
		if err := child.Send(shellCfg); err != nil {
			return err
		}
		return child.Wait()
	})
	var exit interface{ ExitCode() int }
	if err != nil && !errors.As(err, &exit) {
		return fmt.Errorf("shell: %w", err)
	}
	return nil
}
