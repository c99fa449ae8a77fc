//go:build linux

package main

import (
	"fmt"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/network"
)

func (l *lab) stepNetNS(s *kit.Session) error {
	if err := l.setUp(s); err != nil {
		return err
	}
	ns, err := l.newNS(s, "a")
	if err != nil {
		return err
	}
	if err := showLinks(s, ns, "ip -n "+ns.Name+" -br addr"); err != nil {
		return err
	}
	if err := l.apply(s, network.Plan{network.SetUp{NS: ns, Link: "lo"}}); err != nil {
		return err
	}
	if err := showLinks(s, ns, "ip -n "+ns.Name+" -br addr"); err != nil {
		return err
	}

	s.Cmd("ip netns exec %s unshare --mount --uts <container a>    # this lesson, re-exec'd", ns.Name)
	a, err := l.startContainer(s, "a")
	if err != nil {
		return err
	}
	name, err := identify(a.child.Pid())
	if err != nil {
		return err
	}
	s.Host("ip netns identify host pid %d: %s", a.child.Pid(), name)
	s.Cmd("ip netns exec %s nc 127.0.0.1 80    # a's server answers every connection with one line", ns.Name)
	line, err := a.do(request{Op: "dial", Addr: "127.0.0.1:80"})
	if err != nil {
		return err
	}
	s.Inside("%s", line)
	s.Note("The namespace started with one interface, lo, down and without an address. Up, it carries\n"+
		"a's own 127.0.0.1, which is not the host's: the two loopbacks share nothing. The namespace\n"+
		"outlives any process in it, because ip netns add bind-mounted it on %s.", ns.Path)
	return nil
}

// showLinks prints a namespace's links as `ip -br addr` does: name, state,
// addresses. The state is the administrative one (up or down).
func showLinks(s *kit.Session, ns *network.NetNS, cmd string, only ...string) error {
	links, err := network.Links(ns)
	if err != nil {
		return err
	}
	s.Cmd("%s", cmd)
	var lines []string
	for _, lk := range links {
		if len(only) > 0 && !slices.Contains(only, lk.Name) {
			continue
		}
		lines = append(lines, briefLink(lk))
	}
	if ns == nil {
		s.Host("%s", strings.Join(lines, "\n"))
	} else {
		s.Inside("%s", strings.Join(lines, "\n"))
	}
	return nil
}

func briefLink(lk network.LinkInfo) string {
	state := "DOWN"
	if lk.Up {
		state = "UP"
	}
	var addrs []string
	for _, a := range lk.Addrs {
		addrs = append(addrs, a.String())
	}
	line := fmt.Sprintf("%-10s %-5s %s", lk.Name, state, strings.Join(addrs, " "))
	if lk.Master != "" {
		line += "  (port of " + lk.Master + ")"
	}
	return strings.TrimRight(line, " ")
}

// identify finds the named namespace a process is in, as
// `ip netns identify PID` does: the one whose file is the same namespace
// (device and inode) as /proc/PID/ns/net.
func identify(pid int) (string, error) {
	var want unix.Stat_t
	if err := unix.Stat(fmt.Sprintf("/proc/%d/ns/net", pid), &want); err != nil {
		return "", err
	}
	names, err := network.NetNSNames()
	if err != nil {
		return "", err
	}
	for _, n := range names {
		var st unix.Stat_t
		if unix.Stat(network.NetNSDir+"/"+n, &st) == nil && st.Dev == want.Dev && st.Ino == want.Ino {
			return n, nil
		}
	}
	return "", fmt.Errorf("ip netns identify %d: in no named namespace", pid)
}
